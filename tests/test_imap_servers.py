"""Server variants the importer must handle: Gmail's labels (X-GM-EXT-1), servers that give no
UIDVALIDITY, and OAuth2 (XOAUTH2) logins."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from imapclient.response_parser import parse_fetch_response

from dovecot import HOST, FaultProxy, ImapUser, make_message
from evidence_archiver import Archive
from evidence_archiver.connectors.email import capture_from_bytes
from evidence_archiver.connectors.imap import (
    ImapAccount,
    import_imap,
    message_meta,
    with_imap_details,
)
from evidence_archiver.connectors.imap_auth import OAuth2Token, Password
from evidence_archiver.model import SourceRef


def gmail_fetch_response(body: bytes, uid: int, labels: bytes) -> list[object]:
    """A FETCH response as Gmail sends it, in the shape imaplib hands to imapclient."""
    head = (
        b"1 (X-GM-THRID 1278455344230334865 X-GM-MSGID 1278455344230334866 X-GM-LABELS ("
        + labels
        + b") UID "
        + str(uid).encode()
        + b' FLAGS (\\Seen) INTERNALDATE "01-Mar-2024 09:30:00 +0800" RFC822.SIZE '
        + str(len(body)).encode()
        + b" BODY[] {"
        + str(len(body)).encode()
        + b"}"
    )
    return [(head, body), b")"]


def test_gmail_labels_and_ids_are_kept_and_one_message_stays_one_item(
    archive: Archive,
) -> None:
    body = make_message(1, subject="Extension agreed")
    sightings = [
        ("INBOX", 5, b'\\Inbox "\\\\Important" "Loans/LenderX"'),
        ("[Gmail]/All Mail", 900, b'\\Inbox "\\\\Important" "Loans/LenderX"'),
    ]
    captures = []
    for folder, uid, labels in sightings:
        response = parse_fetch_response(
            gmail_fetch_response(body, uid, labels), normalise_times=False, uid_is_key=True
        )
        meta = message_meta(folder, 7, uid, response[uid])
        capture = capture_from_bytes(
            body, SourceRef("imap", f"me@gmail.com/{folder}", f"UID {uid}")
        )
        captures.append(with_imap_details(capture, meta))

    for capture in captures:
        archive.ingest([capture], connector="imap", container=capture.source.container)

    assert archive.status()["items"] == {"email": 1}
    record = archive.item(archive.search("Extension agreed")[0].id)
    assert record.details["labels"] == ["\\Inbox", "\\Important", "Loans/LenderX"]
    gmail = record.details["imap"]["gmail"]
    assert (gmail["msgid"], gmail["thrid"]) == ("1278455344230334866", "1278455344230334865")
    internal = datetime.fromisoformat(record.details["imap"]["internaldate"])
    assert internal == datetime(2024, 3, 1, 1, 30, tzinfo=UTC)
    assert internal.utcoffset() == timezone(timedelta(hours=8)).utcoffset(None)
    assert "\\Seen" in record.flags
    assert {s.container for s in record.sightings} == {
        "me@gmail.com/INBOX",
        "me@gmail.com/[Gmail]/All Mail",
    }


def _drop_uidvalidity(data: bytes) -> bytes:
    return re.sub(rb"\* OK \[UIDVALIDITY \d+\][^\r\n]*\r\n", b"", data)


def test_server_without_uidvalidity_is_read_whole_with_a_warning_and_deduplicated(
    archive: Archive, imap_user: ImapUser
) -> None:
    imap_user.append("INBOX", [make_message(1), make_message(2)])
    with FaultProxy(
        imap_user.server.imap_port, rewrite=_drop_uidvalidity, faulty_connections=1000
    ) as proxy:
        account = ImapAccount(HOST, imap_user.name, port=proxy.port, security="plaintext")
        password = Password(imap_user.password, "prompt")
        first = import_imap(archive, account, password, workers=0)
        imap_user.append("INBOX", [make_message(3)])
        second = import_imap(archive, account, password, workers=0)

    assert first.folders[0].uidvalidity is None
    assert "gives no UIDVALIDITY" in first.folders[0].warnings[0]
    assert (first.added, second.added, second.duplicates) == (2, 1, 2)
    assert archive.status()["items"] == {"email": 3}


def test_oauth2_token_logs_in_with_xoauth2(archive: Archive, imap_user: ImapUser) -> None:
    # The test Dovecot checks an XOAUTH2 bearer token against its passdb, where the "token"
    # of each test account is its password; Gmail or Outlook would check a real token.
    imap_user.append("INBOX", [make_message(1)])
    account = ImapAccount(
        HOST, imap_user.name, port=imap_user.server.imaps_port, ca_file=imap_user.server.ca_file
    )

    report = import_imap(archive, account, OAuth2Token(imap_user.password), workers=0)

    assert report.added == 1
    log = (imap_user.server.root / "dovecot.log").read_text()
    assert f"user=<{imap_user.name}>, method=XOAUTH2" in log
