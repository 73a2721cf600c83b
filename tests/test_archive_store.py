"""The Archive on a real SQLite file: ingest, dedup, custody, cases, tags and notes."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlite_utils

from evidence_archiver import Archive, ArchiveError, NotFound, UsageError
from evidence_archiver.archive import schema
from evidence_archiver.archive.ingest import prepare
from evidence_archiver.archive.timeutil import format_utc
from evidence_archiver.errors import SourceError
from evidence_archiver.hashing import blob_from_bytes, blob_from_file, sha256_bytes
from evidence_archiver.model import Attachment, Capture, ImportProblem, Item, SourceRef

CST = timezone(timedelta(hours=8))


def email_capture(n: int, body: str = "hello", sender: str = "service@lenderx.com") -> Capture:
    raw = f"Subject: message {n}\n\n{body}\n".encode()
    return Capture(
        source=SourceRef("eml", "test", f"msg-{n}"),
        original=blob_from_bytes(raw, "message/rfc822"),
        item=Item(
            kind="email",
            occurred_at=datetime(2024, 3, n % 28 + 1, 9, 30, tzinfo=CST),
            direction="in",
            sender=sender,
            recipients=("me@example.com",),
            title=f"message {n}",
            body=body,
        ),
    )


def test_a_new_archive_is_migrated_on_open(archive_path: Path) -> None:
    with Archive(archive_path) as archive:
        assert archive.status()["total"] == 0
    conn = sqlite3.connect(archive_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_a_new_archive_has_16k_pages_and_an_older_one_keeps_its_own(tmp_path: Path) -> None:
    new, older = tmp_path / "new.db", tmp_path / "older.db"
    Archive(new).close()
    # An archive made before the page size was set: SQLite's default page, and a WAL already.
    conn = sqlite3.connect(older)
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    with Archive(older) as archive:
        report = archive.ingest(
            [email_capture(n) for n in range(3)], connector="eml", container="test"
        )
        assert report.added == 3
    for path, size in ((new, 16384), (older, 4096)):
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA page_size").fetchone()[0] == size
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()


def test_opening_a_missing_archive_without_create_says_to_init(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="evidence init"):
        Archive(tmp_path / "none.db", create=False)


def test_a_newer_schema_is_refused(archive_path: Path) -> None:
    Archive(archive_path).close()
    conn = sqlite3.connect(archive_path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(ArchiveError, match="newer version"):
        Archive(archive_path)


def test_ingest_stores_original_bytes_and_reimport_is_a_noop(archive: Archive) -> None:
    captures = [email_capture(i) for i in range(5)]
    first = archive.ingest(captures, connector="eml", container="test")
    assert (first.added, first.duplicates, first.failed) == (5, 0, 0)
    second = archive.ingest(captures, connector="eml", container="test")
    assert (second.added, second.duplicates, second.failed) == (0, 5, 0)
    assert archive.status()["total"] == 5
    for capture in captures:
        assert capture.original is not None
        assert capture.original.data is not None
        data = archive.read_original(capture.original.sha256)
        assert data == capture.original.data
        assert sha256_bytes(data) == capture.original.sha256


def test_a_batch_ends_early_once_its_originals_fill_the_byte_bound(archive: Archive) -> None:
    captures = [email_capture(i, body=str(i) * 400_000) for i in range(5)]  # ~400 kB each
    small = [email_capture(10 + i) for i in range(3)]
    batches: list[int] = []
    report = archive.ingest(
        [*captures, *small],
        connector="eml",
        container="test",
        batch_size=100,
        batch_bytes=1_000_000,
        progress=batches.append,
    )
    assert report.added == 8
    assert batches == [3, 2 + 3]  # three reach 1 MB; the rest fit under it
    # Already prepared (as a reader's process sends them), they count the same.
    again: list[int] = []
    archive.ingest(
        [prepare(c) for c in captures],
        connector="eml",
        container="test",
        batch_size=100,
        batch_bytes=1_000_000,
        progress=again.append,
    )
    assert again == [3, 2]


def test_a_whole_export_file_is_committed_before_its_first_record_is_read(
    archive: Archive, tmp_path: Path
) -> None:
    export = tmp_path / "sms-backup.xml"
    export.write_bytes(b"<smses>" + b"<sms/>" * 1000 + b"</smses>")
    blob = blob_from_file(export, "application/xml")
    seen_before_records: list[bool] = []

    def reader() -> Iterator[Capture]:
        yield Capture(SourceRef("sms", str(export), "whole file"), original=blob, item=None)
        # What another connection sees now is committed: the writer stored the file on its
        # own, instead of holding it until a batch of records is full.
        other = sqlite3.connect(archive.path)
        try:
            found = other.execute("SELECT 1 FROM originals WHERE sha256 = ?", (blob.sha256,))
            seen_before_records.append(found.fetchone() is not None)
        finally:
            other.close()
        for i in range(3):
            yield email_capture(i)

    batches: list[int] = []
    report = archive.ingest(
        reader(), connector="sms", container=str(export), progress=batches.append
    )
    assert seen_before_records == [True]
    assert report.added == 3
    assert batches == [1, 3]


def test_sightings_first_from_the_item_then_each_new_place(archive: Archive) -> None:
    capture = email_capture(1)
    first = archive.ingest([capture], connector="eml", container="inbox")
    elsewhere = Capture(
        source=SourceRef("mbox", "backup.mbox", "message 7"),
        original=capture.original,
        item=capture.item,
    )
    second = archive.ingest([elsewhere], connector="mbox", container="backup.mbox")
    again = archive.ingest([elsewhere], connector="mbox", container="backup.mbox")
    first_again = archive.ingest([capture], connector="eml", container="inbox")
    assert (second.duplicates, again.duplicates, first_again.duplicates) == (1, 1, 1)
    record = archive.item(1)
    assert [(s.connector, s.container, s.locator) for s in record.sightings] == [
        ("eml", "test", "msg-1"),
        ("mbox", "backup.mbox", "message 7"),
    ]
    # Only the later place has a row of its own; the first is the item's source.
    assert archive.conn.execute("SELECT COUNT(*) FROM item_sightings").fetchone()[0] == 1
    assert archive.items_seen_in_import(first.import_id) == [1]
    assert archive.items_seen_in_import(second.import_id) == [1]
    assert archive.items_seen_in_import(again.import_id) == []
    assert archive.items_seen_in_import(first_again.import_id) == []


def test_a_first_sighting_written_by_an_older_version_is_not_shown_twice(
    archive: Archive,
) -> None:
    report = archive.ingest([email_capture(1)], connector="eml", container="test")
    with archive.transaction() as conn:  # as schema v4 and before wrote every first sighting
        conn.execute(
            "INSERT INTO item_sightings (item_id, connector, container, locator, import_id, "
            "seen_at) SELECT id, source_connector, source_container, source_locator, import_id, "
            "acquired_at FROM items"
        )
    assert len(archive.item(1).sightings) == 1
    assert archive.items_seen_in_import(report.import_id) == [1]


def test_items_without_an_original_or_message_id_stay_out_of_those_indexes(
    archive: Archive,
) -> None:
    text = Capture(
        source=SourceRef("sms-backup-restore", "sms.xml", "element 1 (line 3)"),
        original=None,
        item=Item(kind="sms", body="pay now", sender="+8613800138000"),
        dedup_key="sms|+8613800138000|1|in|x",
    )
    mail = email_capture(1)
    archive.ingest([text, mail], connector="test", container="test")
    conn = archive.conn
    for column in ("original_sha256", "message_id"):
        plan = conn.execute(
            f"EXPLAIN QUERY PLAN SELECT id FROM items WHERE {column} = ?", ("x",)
        ).fetchall()
        assert f"idx_items_{column}" in plan[0][3]
    indexed = conn.execute(
        "SELECT COUNT(*) FROM items INDEXED BY idx_items_original_sha256 "
        "WHERE original_sha256 IS NOT NULL"
    ).fetchone()[0]
    assert indexed == 1
    assert mail.original is not None
    found = conn.execute(
        "SELECT id FROM items WHERE original_sha256 = ?", (mail.original.sha256,)
    ).fetchall()
    assert found == [(2,)]


def test_occurred_at_keeps_the_offset_it_was_sent_with(archive: Archive) -> None:
    archive.ingest([email_capture(1)], connector="eml", container="test")
    item = archive.item(1)
    assert item.occurred_at is not None
    assert item.occurred_at.utcoffset() == timedelta(hours=8)
    assert item.occurred_at.astimezone(UTC).hour == 1


def test_a_large_original_is_streamed_in_and_out(archive: Archive, tmp_path: Path) -> None:
    big = tmp_path / "recording.bin"
    big.write_bytes(bytes(range(256)) * 20_000)
    blob = blob_from_file(big, "application/octet-stream")
    capture = Capture(
        source=SourceRef("file", str(big)), original=blob, item=Item(kind="file", title="rec")
    )
    archive.ingest([capture], connector="file", container=str(big))
    out = tmp_path / "copy.bin"
    with out.open("wb") as f:
        assert archive.copy_original(blob.sha256, f) == big.stat().st_size
    assert out.read_bytes() == big.read_bytes()


@pytest.mark.parametrize(
    "change",
    [
        lambda data: data[:5] + b"X" + data[6:],  # rewritten in place, same size
        lambda data: data + b"more",  # still being written
        lambda data: data[:-10],  # cut short
    ],
)
def test_a_file_that_changes_after_it_was_read_is_not_stored(
    archive: Archive, tmp_path: Path, change: Callable[[bytes], bytes]
) -> None:
    export = tmp_path / "calls-backup.xml"
    export.write_bytes(b"<calls>" + b"<call/>" * 5000 + b"</calls>")
    blob = blob_from_file(export, "application/xml")  # hashed now, as the reader does
    export.write_bytes(change(export.read_bytes()))
    capture = Capture(SourceRef("sms", str(export), "whole file"), original=blob, item=None)
    before = archive.status()
    with pytest.raises(SourceError, match="changed while it was being imported"):
        archive.ingest(
            [email_capture(1), capture, email_capture(2)], connector="sms", container="x"
        )
    assert archive.status()["total"] == before["total"]
    with pytest.raises(NotFound):
        archive.read_original(blob.sha256)
    assert archive.integrity_check() == []


def test_a_file_larger_than_sqlite_holds_in_one_value_is_kept_in_parts(
    archive: Archive, tmp_path: Path
) -> None:
    # SQLite refuses values over 1,000,000,000 bytes, and phone backups with years of pictures
    # are larger. Here the limit is lowered on this connection, as if the file were that big.
    archive.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 2_000_000)
    big = tmp_path / "sms-backup.xml"
    data = bytes(range(256)) * (5 * 4096 + 7)  # 5 MiB and a bit: six parts
    big.write_bytes(data)
    blob = blob_from_file(big, "application/xml")
    capture = Capture(SourceRef("sms", str(big), "whole file"), original=blob, item=None)
    archive.ingest([capture], connector="sms", container=str(big))
    assert archive.read_original(blob.sha256) == data
    out = tmp_path / "copy.xml"
    with out.open("wb") as f:
        assert archive.copy_original(blob.sha256, f) == len(data)
    assert out.read_bytes() == data
    parts = archive.conn.execute(
        "SELECT part, length(data) FROM original_parts WHERE sha256 = ? ORDER BY part",
        (blob.sha256,),
    ).fetchall()
    assert [p for p, _ in parts] == list(range(6))
    assert sum(n for _, n in parts) == len(data)
    assert archive.original_info(blob.sha256).size == len(data)
    # Stored once: the same file again adds no parts.
    archive.ingest([capture], connector="sms", container=str(big))
    assert archive.conn.execute("SELECT COUNT(*) FROM original_parts").fetchone()[0] == 6


def test_originals_stored_before_parts_existed_still_read_back(
    archive_path: Path, tmp_path: Path
) -> None:
    conn = sqlite3.connect(archive_path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for migration in schema.MIGRATIONS[:5]:  # an archive written by schema v5
        migration(db)
    conn.execute("PRAGMA user_version = 5")
    old = b"stored whole, as v5 stored every file" * 1000
    conn.execute(
        "INSERT INTO originals (sha256, size, media_type, stored_at, content) "
        "VALUES (?, ?, 'text/plain', '2024-01-01T00:00:00Z', ?)",
        (sha256_bytes(old), len(old), old),
    )
    conn.close()
    with Archive(archive_path) as archive:
        assert archive.read_original(sha256_bytes(old)) == old
        out = tmp_path / "old.txt"
        with out.open("wb") as f:
            archive.copy_original(sha256_bytes(old), f)
        assert out.read_bytes() == old
        version = archive.conn.execute("PRAGMA user_version").fetchone()[0]
        assert version == len(schema.MIGRATIONS)


def test_problems_and_unparsed_originals_are_logged_and_kept(archive: Archive) -> None:
    raw = b"\x00\x01 not an email"
    broken = Capture(
        source=SourceRef("eml", "dir", "bad.eml"),
        original=blob_from_bytes(raw, "message/rfc822"),
        item=None,
        parse_error="no headers",
    )
    problem = ImportProblem(SourceRef("eml", "dir", "unreadable.eml"), "permission denied")
    report = archive.ingest([broken, problem, email_capture(1)], connector="eml", container="dir")
    assert (report.added, report.failed) == (1, 2)
    reasons = {e.reason for e in report.errors}
    assert "permission denied" in reasons
    assert any("kept unparsed: no headers" in r for r in reasons)
    assert archive.read_original(sha256_bytes(raw)) == raw
    assert archive.status()["import_errors"] == 2
    assert archive.status()["unparsed"] == 1


def test_attachments_are_originals_of_their_own(archive: Archive) -> None:
    pdf = b"%PDF-1.4 fake"
    base = email_capture(1)
    capture = Capture(
        source=base.source,
        original=base.original,
        item=base.item,
        attachments=(
            Attachment(blob_from_bytes(pdf, "application/pdf"), "agreement.pdf", "application/pdf"),
        ),
    )
    archive.ingest([capture], connector="eml", container="test")
    record = archive.item(1)
    assert [a.filename for a in record.attachments] == ["agreement.pdf"]
    assert archive.read_original(record.attachments[0].sha256) == pdf
    assert archive.search("agreement")[0].id == 1


def test_custody_chain_is_intact_and_catches_a_forged_row(archive: Archive) -> None:
    archive.ingest([email_capture(i) for i in range(3)], connector="eml", container="test")
    archive.tag(1, "promise")
    archive.add_note(1, "agent 1234 promised 3 months")
    assert archive.verify_custody() == []
    archive.conn.execute("DROP TRIGGER custody_no_update")
    archive.conn.execute('UPDATE custody SET details = \'{"tag": "forged"}\' WHERE seq = 4')
    assert [b.seq for b in archive.verify_custody()] == [4]
    # A forger who also rewrites the row's own hash breaks the link to the next row.
    archive.conn.execute("UPDATE custody SET hash = ? WHERE seq = 4", ("f" * 64,))
    broken = archive.verify_custody()
    assert [(b.seq, b.reason.split()[0]) for b in broken] == [(4, "row"), (5, "previous-hash")]


def test_custody_rows_cannot_be_edited_or_deleted(archive: Archive) -> None:
    archive.ingest([email_capture(1)], connector="eml", container="test")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        archive.conn.execute("DELETE FROM custody")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        archive.conn.execute("UPDATE custody SET action = 'x'")


def test_case_rules_link_existing_and_new_items(archive: Archive) -> None:
    archive.ingest(
        [email_capture(1), email_capture(2, sender="friend@example.org")],
        connector="eml",
        container="test",
    )
    slug, linked = archive.create_case("Lender X extension", rules=[("domain", "lenderx.com")])
    assert (slug, linked) == ("lender-x-extension", 1)
    report = archive.ingest(
        [email_capture(3, sender="collections@mail.lenderx.com")],
        connector="eml",
        container="test",
    )
    assert report.linked == 1
    assert [i.id for i in archive.timeline(slug)] == [1, 3]


def test_unlinked_items_stay_out_when_rules_match_again(archive: Archive) -> None:
    archive.ingest([email_capture(1), email_capture(2)], connector="eml", container="test")
    slug, linked = archive.create_case("X", rules=[("address", "Service@LenderX.com")])
    assert linked == 2
    assert archive.unlink(slug, [2]) == 1
    assert archive.add_case_rules(slug, [("keyword", "hello")]) == 0
    assert [i.id for i in archive.timeline(slug)] == [1]
    assert archive.link(slug, [2]) == 1
    assert [i.id for i in archive.timeline(slug)] == [1, 2]


def test_keyword_rules_use_the_search_index(archive: Archive) -> None:
    archive.ingest(
        [email_capture(1, body="关于延期还款的申请"), email_capture(2, body="weather")],
        connector="eml",
        container="test",
    )
    _, linked = archive.create_case("延期", rules=[("keyword", "延期还款")])
    assert linked == 1


def test_duplicate_case_and_unknown_case_are_clear_errors(archive: Archive) -> None:
    archive.create_case("Lender X")
    with pytest.raises(UsageError, match="already exists"):
        archive.create_case("Lender X")
    with pytest.raises(NotFound, match="known cases: lender-x"):
        archive.timeline("nope")


def test_tags_and_notes(archive: Archive) -> None:
    archive.ingest([email_capture(1)], connector="eml", container="test")
    assert archive.tag(1, "promise") is True
    assert archive.tag(1, "promise") is False
    archive.add_note(1, "agent 1234 promised 3 months")
    record = archive.item(1)
    assert record.tags == ("promise",)
    assert [n.text for n in record.notes] == ["agent 1234 promised 3 months"]
    assert archive.search("promised", tag="promise") == []  # notes are not item text
    assert archive.search("hello", tag="promise")[0].id == 1
    with pytest.raises(NotFound):
        archive.tag(99, "x")


def test_source_state_round_trips(archive: Archive) -> None:
    assert archive.source_state("imap", "me@x/INBOX") == {}
    archive.set_source_state("imap", "me@x/INBOX", {"uidvalidity": 7, "last_uid": 42})
    assert archive.source_state("imap", "me@x/INBOX") == {"uidvalidity": 7, "last_uid": 42}


def test_the_writers_fast_event_hash_is_the_canonical_one(archive: Archive) -> None:
    from evidence_archiver.archive.custody import event_hash

    archive.ingest(
        [email_capture(i, body='逾期 "quoted" \\ back') for i in range(3)],
        connector="eml",
        container="test",
    )
    archive.tag(1, "承诺 promise")
    for event in archive.custody.events():
        assert event.hash == event_hash(
            event.seq,
            format_utc(event.at),
            event.action,
            event.subject,
            event.details,
            event.prev_hash,
        )
    assert archive.verify_custody() == []


def test_a_timeline_page_starts_at_its_offset(archive: Archive) -> None:
    archive.ingest([email_capture(n) for n in range(1, 8)], connector="eml", container="t")
    everything = archive.timeline_ids()
    assert archive.timeline_ids(limit=3, offset=0) == everything[:3]
    assert archive.timeline_ids(limit=3, offset=3) == everything[3:6]
    assert archive.timeline_ids(limit=3, offset=6) == everything[6:]
    assert archive.timeline_ids(offset=5) == everything[5:]


def test_import_sources_sum_every_run_of_a_source(archive: Archive) -> None:
    archive.ingest([email_capture(1), email_capture(2)], connector="eml", container="inbox")
    archive.ingest([email_capture(2), email_capture(3)], connector="eml", container="inbox")
    archive.ingest([email_capture(4)], connector="mbox", container="takeout.mbox")
    by_name = {(s.connector, s.container): s for s in archive.import_sources()}
    inbox = by_name[("eml", "inbox")]
    assert (inbox.runs, inbox.added, inbox.duplicates, inbox.failed) == (2, 3, 1, 0)
    assert by_name[("mbox", "takeout.mbox")].added == 1
    assert archive.import_sources()[0].container == "takeout.mbox"  # the most recent first


def test_events_about_an_item_are_its_own_not_those_of_items_sharing_a_prefix(
    archive: Archive,
) -> None:
    archive.ingest([email_capture(n) for n in range(1, 13)], connector="eml", container="t")
    archive.tag(1, "promise")
    archive.tag(12, "threat")
    about_1 = list(archive.custody.events_about("item:1"))
    assert [e.action for e in about_1] == ["acquired", "tagged"]
    assert {e.subject for e in about_1} == {"item:1"}
    assert len(list(archive.custody.events("item:1"))) > len(about_1)  # the prefix: 1, 10-12


def test_case_names_list_every_case_by_slug(archive: Archive) -> None:
    archive.create_case("Lender X extension")
    archive.create_case("Bank card dispute", slug="bank")
    assert archive.case_names() == [
        ("bank", "Bank card dispute"),
        ("lender-x-extension", "Lender X extension"),
    ]


def test_kind_counts_count_items_by_kind(archive: Archive) -> None:
    archive.ingest([email_capture(1), email_capture(2)], connector="eml", container="t")
    assert archive.kind_counts() == {"email": 2}
    assert archive.kind_counts() == archive.status()["items"]


def test_the_state_token_changes_with_every_commit_from_any_connection(
    archive: Archive, archive_path: Path
) -> None:
    archive.ingest([email_capture(1), email_capture(2)], connector="eml", container="t")
    token = archive.state_token()
    assert archive.state_token() == token  # reading changes nothing
    archive.tag(1, "promise")
    assert archive.state_token() != token
    token = archive.state_token()
    with Archive(archive_path) as other:
        other.tag(2, "threat")
    assert archive.state_token() != token


def test_the_wal_is_started_again_during_a_long_import(
    archive_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A passive checkpoint alone never rewinds the WAL while an import keeps committing: it
    # grew by every byte imported (1.4 GB for a 512 MB phone backup). Past the limit it is
    # started again once a checkpoint pass has copied all of it.
    monkeypatch.setattr("evidence_archiver.archive.store.WAL_RESTART_BYTES", 1 << 20)
    wal = Path(f"{archive_path}-wal")
    sizes: list[int] = []

    def captures() -> Iterator[Capture]:
        for n in range(60):
            if n:
                sizes.append(wal.stat().st_size)
                time.sleep(0.05)
            yield email_capture(n, body=f"{n} " + "x" * (1 << 20))

    with Archive(archive_path) as archive:
        report = archive.ingest(captures(), connector="eml", container="test", batch_size=1)
    assert report.added == 60
    # Each batch adds about 2 MB (the original and the body): 120 MB without a restart.
    assert max(sizes) < 24 << 20, sizes


def test_an_import_collects_cycles_less_often_and_restores_the_collector_after(
    archive: Archive,
) -> None:
    import gc

    from evidence_archiver.archive.store import IMPORT_GC_THRESHOLD

    before = gc.get_threshold()
    seen: list[int] = []

    def captures() -> Iterator[Capture]:
        for n in range(3):
            seen.append(gc.get_threshold()[0])
            yield email_capture(n)

    assert archive.ingest(captures(), connector="eml", container="test").added == 3
    assert seen == [IMPORT_GC_THRESHOLD] * 3
    assert gc.get_threshold() == before

    def failing() -> Iterator[Capture]:
        yield email_capture(9)
        raise RuntimeError("reader failed")

    with pytest.raises(RuntimeError, match="reader failed"):
        archive.ingest(failing(), connector="eml", container="test")
    assert gc.get_threshold() == before
