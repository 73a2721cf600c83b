"""Importing over IMAP from a real Dovecot: first import, incremental runs, UIDVALIDITY, folders."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from dovecot import HOST, ImapUser, make_message
from evidence_archiver import Archive
from evidence_archiver.connectors.imap import (
    ImapAccount,
    ImapImportReport,
    choose_folders,
    import_imap,
    list_folders,
)
from evidence_archiver.connectors.imap_auth import Password
from evidence_archiver.hashing import sha256_bytes


def account_for(user: ImapUser, **overrides: Any) -> ImapAccount:
    settings: dict[str, Any] = {
        "host": HOST,
        "user": user.name,
        "port": user.server.imaps_port,
        "ca_file": user.server.ca_file,
        "timeout": 10.0,
    }
    settings.update(overrides)
    return ImapAccount(**settings)


def run(archive: Archive, user: ImapUser, **options: Any) -> ImapImportReport:
    options.setdefault("workers", 0)
    account = options.pop("account", None) or account_for(user)
    return import_imap(archive, account, Password(user.password, "prompt"), **options)


def folder(report: ImapImportReport, name: str) -> Any:
    return next(f for f in report.folders if f.folder == name)


def email_count(archive: Archive) -> int:
    return int(archive.status()["items"].get("email", 0))


def test_first_import_archives_inbox_and_sent_byte_for_byte(
    archive: Archive, imap_user: ImapUser
) -> None:
    inbox = [make_message(i) for i in range(5)]
    sent = [make_message(100 + i, sender="me@borrower.example") for i in range(2)]
    imap_user.append("INBOX", inbox, flags=(b"\\Seen",))
    imap_user.append("Sent", sent)

    report = run(archive, imap_user)

    assert [f.folder for f in report.folders] == ["INBOX", "Sent"]
    assert (folder(report, "INBOX").added, folder(report, "Sent").added) == (5, 2)
    assert report.complete
    assert email_count(archive) == 7
    for raw in inbox + sent:
        assert archive.read_original(sha256_bytes(raw)) == raw
    hit = archive.search("instalment 3")[0]
    record = archive.item(hit.id)
    assert record.source.container == f"{imap_user.name}@{HOST}/INBOX"
    assert record.source.locator.startswith("UID 4 UIDVALIDITY ")
    assert record.details["imap"]["folder"] == "INBOX"
    assert "\\Seen" in record.details["imap"]["flags"]
    assert datetime.fromisoformat(record.details["imap"]["internaldate"]).tzinfo is not None


def test_import_never_changes_flags_on_the_server(archive: Archive, imap_user: ImapUser) -> None:
    imap_user.append("INBOX", [make_message(1), make_message(2)])

    run(archive, imap_user)

    with imap_user.connect() as client:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags(client.search())
    assert all(b"\\Seen" not in f for f in flags.values())


def test_reimport_fetches_nothing(archive: Archive, imap_user: ImapUser) -> None:
    imap_user.append("INBOX", [make_message(i) for i in range(4)])
    run(archive, imap_user)

    again = run(archive, imap_user)

    inbox = folder(again, "INBOX")
    assert (inbox.to_fetch, inbox.fetched, inbox.added, inbox.duplicates) == (0, 0, 0, 0)
    assert email_count(archive) == 4


def test_new_mail_is_the_only_thing_fetched(archive: Archive, imap_user: ImapUser) -> None:
    imap_user.append("INBOX", [make_message(i) for i in range(3)])
    run(archive, imap_user)
    imap_user.append("INBOX", [make_message(10), make_message(11)])

    again = run(archive, imap_user)

    inbox = folder(again, "INBOX")
    assert (inbox.to_fetch, inbox.fetched, inbox.added, inbox.duplicates) == (2, 2, 2, 0)
    state = archive.source_state("imap", f"{imap_user.name}@{HOST}/INBOX")
    assert state["last_uid"] == 5
    assert email_count(archive) == 5


def test_uidvalidity_change_rescans_and_keeps_every_original_once(
    archive: Archive, imap_user: ImapUser
) -> None:
    first = [make_message(i) for i in range(3)]
    imap_user.append("Loans", first)
    run(archive, imap_user, folders=["Loans"])
    old_validity = imap_user.uidvalidity("Loans")
    imap_user.delete_folder("Loans")
    # Recreated with one message gone and one new: the gone one must stay in the archive.
    imap_user.append("Loans", [first[1], first[2], make_message(50)])
    assert imap_user.uidvalidity("Loans") != old_validity

    again = run(archive, imap_user, folders=["Loans"])

    loans = folder(again, "Loans")
    assert loans.warnings
    assert "UIDVALIDITY changed" in loans.warnings[0]
    assert (loans.fetched, loans.added, loans.duplicates) == (3, 1, 2)
    assert email_count(archive) == 4
    assert archive.read_original(sha256_bytes(first[0])) == first[0]
    state = archive.source_state("imap", f"{imap_user.name}@{HOST}/Loans")
    assert state["uidvalidity"] == imap_user.uidvalidity("Loans")


def test_message_in_two_folders_is_one_item_seen_twice(
    archive: Archive, imap_user: ImapUser
) -> None:
    shared = make_message(7, subject="Overdue notice 逾期通知")
    imap_user.append("INBOX", [shared])
    imap_user.append("贷款/逾期", [shared, make_message(8)])

    report = run(archive, imap_user, all_folders=True)

    assert [f.folder for f in report.folders] == ["INBOX", "Sent", "贷款/逾期"]
    assert (report.added, report.duplicates) == (2, 1)
    hit = archive.search("逾期")[0]
    containers = {s.container for s in archive.item(hit.id).sightings}
    assert containers == {f"{imap_user.name}@{HOST}/INBOX", f"{imap_user.name}@{HOST}/贷款/逾期"}


def test_chinese_folder_names_are_listed_decoded(imap_user: ImapUser) -> None:
    imap_user.append("收件箱/招商银行", [make_message(1)])
    with imap_user.connect() as client:
        names = [f.name for f in list_folders(client)]
    assert "收件箱/招商银行" in names
    assert choose_folders(list_folders_of(imap_user), ["收件箱/招商银行"]) == ["收件箱/招商银行"]


def list_folders_of(user: ImapUser) -> Any:
    with user.connect() as client:
        return list_folders(client)


def test_large_attachment_is_kept_whole_and_batches_stay_small(
    archive: Archive, imap_user: ImapUser
) -> None:
    big = make_message(1, attachment=os.urandom(3 << 20))
    small = [make_message(i) for i in range(2, 12)]
    imap_user.append("INBOX", [small[0], big, *small[1:]])

    report = run(archive, imap_user, batch_bytes=64 << 10, batch_messages=4, ingest_batch=3)

    assert folder(report, "INBOX").added == 11
    assert archive.read_original(sha256_bytes(big)) == big
    item = archive.item(archive.search("instalment 1")[0].id)
    assert item.attachments[0].filename == "statement-1.pdf"
    assert item.attachments[0].size == 3 << 20


def test_since_limits_the_import_and_a_later_full_run_fills_the_gap(
    archive: Archive, imap_user: ImapUser
) -> None:
    with imap_user.connect() as client:
        client.append("INBOX", make_message(1), msg_time=datetime(2020, 5, 1, tzinfo=UTC))
        client.append("INBOX", make_message(2), msg_time=datetime(2025, 5, 1, tzinfo=UTC))

    recent = run(archive, imap_user, since=date(2024, 1, 1))
    assert folder(recent, "INBOX").added == 1

    full = run(archive, imap_user)
    inbox = folder(full, "INBOX")
    assert (inbox.added, inbox.duplicates) == (1, 1)
    assert email_count(archive) == 2


def test_unknown_folder_is_a_clear_error(archive: Archive, imap_user: ImapUser) -> None:
    from evidence_archiver.connectors.imap import ImapError

    with pytest.raises(ImapError, match="no folder 'Nope'.*INBOX"):
        run(archive, imap_user, folders=["Nope"])


def test_parallel_parsing_gives_the_same_archive(archive: Archive, imap_user: ImapUser) -> None:
    messages = [make_message(i) for i in range(150)]
    imap_user.append("INBOX", messages)

    report = run(archive, imap_user, workers=2, batch_messages=20, ingest_batch=40)

    assert folder(report, "INBOX").added == 150
    locators = {archive.item(i).source.locator.split()[1] for i in range(1, 151)}
    assert locators == {str(u) for u in range(1, 151)}


def test_a_pdf_attachment_fetched_over_imap_is_searchable(
    archive: Archive, imap_user: ImapUser
) -> None:
    saved = Path(__file__).parent.parent / "fixtures/demo/mail/saved/extension-approved.eml"
    imap_user.append("INBOX", [saved.read_bytes()])
    run(archive, imap_user)
    hits = archive.search("Instalment")
    assert len(hits) == 1
    assert archive.item(hits[0].id).attachments[0].filename.endswith(".pdf")
