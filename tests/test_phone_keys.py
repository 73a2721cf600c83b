"""Phone keys put the time first, and the forms older versions stored are still recognised.

A phone message's natural key (``message_key``) reads ``kind@time|counterparty|direction|
digest``: a backup's messages, in time order, go in at the end of the key index instead of at
one place per counterparty (which rewrote most of the index at every transaction of a large
import). Archives made before hold ``kind|counterparty|time|direction|digest`` keys, and older
ones ``+86`` before service numbers: a message imported again into such an archive is still
found there, never archived twice.
"""

from __future__ import annotations

from pathlib import Path

from evidence_archiver import Archive
from evidence_archiver.archive.ingest import holds_counterparty_first_keys, older_key_forms
from evidence_archiver.connectors.sms import import_phone_export
from evidence_archiver.connectors.sms.common import message_key
from test_cn_service_numbers import LENDER_TEXTS, backup, counterparty_first, sms


def test_a_key_reads_time_first_and_knows_its_older_forms() -> None:
    key = message_key("sms", "+8613800138000", None, "in", "hi")
    assert key.startswith("sms@-|+8613800138000|in|")
    digest = key.rsplit("|", 1)[1]
    assert older_key_forms(key) == (f"sms|+8613800138000|-|in|{digest}",)
    # A service number was once stored with +86 before it.
    service = f"mms@1704067200000|95555|out|{digest}"
    assert older_key_forms(service) == (
        f"mms|95555|1704067200000|out|{digest}",
        f"mms|+8695555|1704067200000|out|{digest}",
    )
    # Keys of other items (mail, files) have no other form.
    for other in ("<abc@lenderx.com>", "sha256:" + "0" * 64, "sms|+86138|1|in|x", "x@1|a"):
        assert older_key_forms(other) == ()


def test_a_chronological_backup_adds_its_keys_in_order(tmp_path: Path, archive: Archive) -> None:
    rows = [sms(f"+86 138 0013 80{n % 7:02d}", f"message {n}", 60 * n) for n in range(40)]
    import_phone_export(archive, backup(tmp_path, "sms.xml", rows), region="CN")
    keys = [k for (k,) in archive.conn.execute("SELECT dedup_key FROM items ORDER BY id")]
    assert len(keys) == 40
    assert keys == sorted(keys)
    assert not holds_counterparty_first_keys(archive.conn)


def test_an_archive_with_counterparty_first_keys_recognises_every_message(
    tmp_path: Path, archive: Archive
) -> None:
    path = backup(tmp_path, "sms.xml", LENDER_TEXTS)
    first, _ = import_phone_export(archive, path, region="CN")
    assert first.added == len(LENDER_TEXTS)
    with archive.transaction() as conn:
        rows = conn.execute("SELECT id, dedup_key FROM items WHERE dedup_key GLOB '*@*'")
        conn.executemany(
            "UPDATE items SET dedup_key = ? WHERE id = ?",
            [(counterparty_first(key), item_id) for item_id, key in rows.fetchall()],
        )
    assert holds_counterparty_first_keys(archive.conn)
    again, _ = import_phone_export(archive, path, region="CN")
    assert (again.added, again.duplicates) == (0, len(LENDER_TEXTS))
    later = backup(tmp_path, "later.xml", [sms("+8613800138000", "新的一条", 900)])
    report, _ = import_phone_export(archive, later, region="CN")
    assert report.added == 1
    total = archive.conn.execute("SELECT count(*) FROM items WHERE kind = 'sms'").fetchone()[0]
    assert total == len(LENDER_TEXTS) + 1
