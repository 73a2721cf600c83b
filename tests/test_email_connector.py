"""The e-mail connector on real samples and on hostile, broken and mislabelled input."""

from __future__ import annotations

import base64
import mailbox
import time
from pathlib import Path

import pytest

from evidence_archiver import Archive, SourceError
from evidence_archiver.connectors.email import (
    SMALL_INPUT_BYTES,
    capture_from_bytes,
    maildir_flags,
    parse_many,
    read_mbox,
    workers_for,
)
from evidence_archiver.extract.charsets import decode_text
from evidence_archiver.extract.email import decode_header_value, parse_email, safe_filename
from evidence_archiver.hashing import sha256_bytes
from evidence_archiver.importing import import_eml, import_maildir, import_mbox
from evidence_archiver.model import SourceRef

SRC = SourceRef("eml", "test", "x.eml")


def msg(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode("ascii") + b"\r\n" + body


# -- parsing --------------------------------------------------------------------------------


def test_gb2312_label_on_gbk_text_decodes_through_the_superset() -> None:
    body = "审核人朱镕将回复".encode("gbk")  # 镕 is not in GB2312
    raw = msg("From: a@b.cn\nSubject: x\nContent-Type: text/plain; charset=gb2312\n", body)
    parsed = parse_email(raw)
    assert "朱镕" in parsed.item.body
    assert "charset_recovered" not in parsed.item.flags


def test_a_wrong_charset_label_is_recovered_by_detection_and_flagged() -> None:
    body = ("您的贷款已逾期三天，请尽快还款。逾期将产生罚息并上报征信系统。" * 3).encode("gb18030")
    raw = msg("From: a@b.cn\nSubject: x\nContent-Type: text/plain; charset=utf-8\n", body)
    parsed = parse_email(raw)
    assert "逾期" in parsed.item.body
    assert "charset_recovered" in parsed.item.flags
    assert parsed.item.details["notes"]


def test_iso_8859_1_label_reads_windows_1252_quotes() -> None:
    raw = msg(
        "From: a@b.com\nSubject: x\nContent-Type: text/plain; charset=iso-8859-1\n",
        "It\u2019s \u201cfinal\u201d".encode("cp1252"),
    )
    assert parse_email(raw).item.body == "It\u2019s \u201cfinal\u201d"


def test_rfc2047_headers_in_gb2312_and_split_words_are_joined() -> None:
    word = base64.b64encode("延期还款".encode("gbk")).decode()
    assert decode_header_value(f"=?gb2312?B?{word}?=") == "延期还款"
    assert decode_header_value("=?utf-8?q?abc?= =?utf-8?q?def?=") == "abcdef"


def test_raw_8bit_utf8_headers_survive() -> None:
    raw = "From: 王小明 <w@example.com>\r\nSubject: 展期申请\r\n\r\nhi".encode()
    item = parse_email(raw).item
    assert item.title == "展期申请"
    assert item.sender_name == "王小明"


def test_rfc2231_attachment_name_with_chinese_is_decoded() -> None:
    raw = msg(
        "From: a@b.com\nSubject: x\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n',
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
        b"Content-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=UTF-8''%E5%90%88%E5%90%8C.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"%PDF-1.4 x")
        + b"\r\n--b--\r\n",
    )
    parsed = parse_email(raw)
    assert [a.filename for a in parsed.attachments] == ["合同.pdf"]
    assert parsed.attachments[0].blob.data == b"%PDF-1.4 x"


@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        ("../../../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system32\\evil.dll", "evil.dll"),
        ("/absolute/path/x.sh", "x.sh"),
        ("....", "attachment-1.pdf"),
        ("a\x00b\x1fc.pdf", "a_b_c.pdf"),
        ("", "attachment-1.pdf"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_attachment_names_are_never_paths(hostile: str, expected: str) -> None:
    assert safe_filename(hostile, "application/pdf", 1) == expected


def test_path_traversal_in_a_real_message_is_neutralised() -> None:
    raw = msg(
        "From: a@b.com\nSubject: x\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n',
        b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n"
        b'Content-Type: text/plain; name="../../.bashrc"\r\n'
        b'Content-Disposition: attachment; filename="../../.bashrc"\r\n\r\nrm -rf ~\r\n--b--\r\n',
    )
    names = [a.filename for a in parse_email(raw).attachments]
    assert names == ["bashrc"]


def test_html_only_mail_becomes_readable_text() -> None:
    raw = msg(
        "From: a@b.com\nSubject: x\nContent-Type: text/html; charset=utf-8\n",
        "<html><head><style>p{}</style></head><body><p>您的贷款已<b>逾期</b></p>"
        "<ul><li>fee&nbsp;CNY 320</li></ul><script>alert(1)</script></body></html>".encode(),
    )
    item = parse_email(raw).item
    assert "您的贷款已逾期" in item.body
    assert "- fee" in item.body
    assert "alert" not in item.body
    assert "p{}" not in item.body
    assert "html_only" in item.flags


def test_dates_keep_their_offset_and_a_missing_date_is_not_invented() -> None:
    dated = parse_email(msg("From: a@b.com\nDate: Fri, 01 Mar 2024 09:30:00 +0800\n", b"x"))
    assert dated.item.occurred_at is not None
    assert dated.item.occurred_at.isoformat() == "2024-03-01T09:30:00+08:00"
    undated = parse_email(msg("From: a@b.com\nSubject: no date\n", b"x"))
    assert undated.item.occurred_at is None
    assert "no_date" in undated.item.flags
    garbled = parse_email(msg("From: a@b.com\nDate: the day after tomorrow\n", b"x"))
    assert garbled.item.occurred_at is None
    assert any("unreadable Date" in n for n in garbled.item.details["notes"])


def test_truncated_multipart_is_parsed_with_defects_recorded() -> None:
    raw = msg(
        "From: a@b.com\nSubject: cut\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n',
        b"--b\r\nContent-Type: text/plain\r\n\r\nthe beginning of a long",
    )
    item = parse_email(raw).item
    assert "the beginning" in item.body
    assert "mime_defects" in item.flags
    assert item.details["mime_defects"]


def test_garbage_is_kept_unparsed_with_a_reason() -> None:
    for raw, reason in [
        (b"\x00\x01\x02\xff" * 10, "not an e-mail"),
        (b"", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50, "not a readable OLE2"),
    ]:
        capture = capture_from_bytes(raw, SRC)
        assert capture.item is None
        assert capture.parse_error is not None
        assert reason in capture.parse_error
        assert capture.original is not None
        assert capture.original.sha256 == sha256_bytes(raw)


def test_decode_text_never_raises_on_random_bytes() -> None:
    decoded = decode_text(bytes(range(256)) * 4, "x-unknown-charset")
    assert decoded.text
    assert decoded.note


# -- readers --------------------------------------------------------------------------------


def test_mboxrd_unquoting_restores_the_message(tmp_path: Path) -> None:
    body = b"From: a@b.com\nSubject: x\n\nline\nFrom here on\n>From quoted\nend\n"
    mbox = tmp_path / "x.mbox"
    mbox.write_bytes(
        b"From a@b.com Fri Mar  1 09:30:00 2024\n"
        + body.replace(b"\nFrom here", b"\n>From here").replace(
            b"\n>From quoted", b"\n>>From quoted"
        )
        + b"\nFrom b@c.com Sat Mar  2 09:30:00 2024\nFrom: b@c.com\nSubject: y\n\nsecond\n"
    )
    messages = list(read_mbox(mbox))
    assert len(messages) == 2
    first = messages[0]
    assert isinstance(first, tuple)
    assert first[0] == body
    assert first[1].locator == "message 1, byte 0"


def test_a_file_that_is_not_an_mbox_is_refused_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    with pytest.raises(SourceError, match="not an mbox"):
        list(read_mbox(bad))


def test_mbox_written_by_the_stdlib_imports_every_message(tmp_path: Path, archive: Archive) -> None:
    path = tmp_path / "std.mbox"
    box = mailbox.mbox(path)
    for n in range(30):
        box.add(f"From: s{n}@lenderx.com\nSubject: m{n}\n\nFrom the desk of {n}\n".encode())
    box.flush()
    box.close()
    report = import_mbox(archive, path, workers=2)
    assert (report.added, report.failed) == (30, 0)
    assert all("From the desk" in archive.item(i).body for i in range(1, 31))
    again = import_mbox(archive, path, workers=2)
    assert (again.added, again.duplicates) == (0, 30)


def test_small_inputs_are_parsed_here_and_large_ones_in_workers() -> None:
    assert workers_for(100_000, None) == 0
    assert workers_for(SMALL_INPUT_BYTES, None) is None  # the default: one per core
    assert workers_for(None, None) is None  # size unknown
    assert workers_for(100_000, 2) == 2  # asked for: as asked
    assert workers_for(1 << 40, 0) == 0


def test_a_small_mbox_imports_the_same_parsed_here_or_in_workers(
    tmp_path: Path, archive: Archive
) -> None:
    path = tmp_path / "small.mbox"
    box = mailbox.mbox(path)
    for n in range(40):
        box.add(f"From: s{n}@lenderx.com\nSubject: m{n}\n\nBody {n}\n".encode())
    box.flush()
    box.close()
    other = Archive(tmp_path / "other.db")
    try:
        here = import_mbox(archive, path)  # small: parsed in this process
        there = import_mbox(other, path, workers=2)
        assert (here.added, here.failed) == (there.added, there.failed) == (40, 0)
        assert [archive.item(i).body for i in range(1, 41)] == [
            other.item(i).body for i in range(1, 41)
        ]
        assert archive.verify_custody() == other.verify_custody() == []
    finally:
        other.close()


def test_maildir_flags_come_from_file_names() -> None:
    assert maildir_flags("cur/1700000000.M1P2.host:2,RS") == ("replied", "seen")
    assert maildir_flags("new/1700000000.M1P2.host") == ()


def test_symlinks_and_dovecot_files_in_a_maildir_are_not_read(
    tmp_path: Path, archive: Archive
) -> None:
    root = tmp_path / "Maildir"
    (root / "cur").mkdir(parents=True)
    (root / "tmp").mkdir()
    (root / "cur" / "1.host:2,S").write_bytes(b"From: a@b.com\nSubject: one\n\nx\n")
    (root / "tmp" / "2.host").write_bytes(b"From: a@b.com\nSubject: half delivered\n\nx\n")
    (root / "dovecot-uidlist").write_text("3 V1 N2\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("From: x@y\n\nprivate")
    (root / "cur" / "link:2,S").symlink_to(secret)
    report = import_maildir(archive, root, workers=0)
    assert (report.added, report.failed) == (1, 0)
    assert "seen" in archive.item(1).flags


# -- the shared corpus ------------------------------------------------------------------------


@pytest.mark.corpus
def test_every_corpus_email_is_imported_or_recorded_and_reimport_adds_nothing(
    corpus: Path, archive: Archive
) -> None:
    sources = [
        corpus / "email_mail-parser",
        corpus / "adversarial" / "email",
        corpus / "outlook-msg_msg-extractor",
    ]
    first = import_eml(archive, sources, workers=0)
    files = [p for s in sources for p in s.rglob("*") if p.is_file()]
    assert first.added + first.failed + first.duplicates == len(files)
    # PROVENANCE files are kept, each with a reason; Outlook .msg files are read.
    assert {e.source.rsplit(" ", 1)[-1] for e in first.errors} == {"PROVENANCE.txt"}
    assert all("not an e-mail" in e.reason for e in first.errors)
    second = import_eml(archive, sources, workers=0)
    assert (second.added, second.failed) == (0, 0)
    assert second.duplicates == len(files)
    assert archive.integrity_check() == []
    assert archive.verify_custody() == []


@pytest.mark.corpus
def test_chinese_corpus_mail_decodes(corpus: Path, archive: Archive) -> None:
    import_eml(archive, [corpus / "email_mail-parser" / "tests_mails_mail_test_12"], workers=0)
    item = archive.item(1)
    assert item.title == "代开各地增值税发票"
    assert "增值税发票" in item.body
    assert item.recipients == ("danglüe@email.com",)
    assert archive.search("增值税")[0].id == 1


@pytest.mark.corpus
def test_enron_mbox_and_notmuch_maildir(corpus: Path, archive: Archive) -> None:
    mbox = import_mbox(archive, corpus / "mbox_mbox-to-sqlite" / "tests_enron-sample.mbox")
    assert (mbox.added, mbox.failed) == (2, 0)
    dated = [archive.item(i).occurred_at for i in (1, 2)]
    assert all(d is not None and d.year in (2000, 2001) for d in dated)
    root = corpus / "maildir_notmuch" / "test" / "corpora"
    files = [p for p in root.rglob("*") if p.is_file()]
    report = import_maildir(archive, root)
    # The notmuch README is kept as an unparsed original; duplicates are stored once.
    assert report.added + report.duplicates + report.failed == len(files)
    assert report.failed == 1
    assert report.duplicates >= 1
    again = import_maildir(archive, root)
    assert again.added == 0
    assert again.duplicates == len(files)


@pytest.mark.corpus
def test_outlook_msg_files_are_read_with_dates_people_and_attachments(
    corpus: Path, archive: Archive
) -> None:
    folder = corpus / "outlook-msg_msg-extractor"
    report = import_eml(
        archive,
        [
            folder / "example-msg-files_unicode.msg",
            folder / "example-msg-files_strangeDate.msg",
            corpus / "email_mail-parser" / "tests_mails_mail_outlook_1",
        ],
        workers=0,
    )
    assert (report.added, report.failed) == (3, 0)
    unicode_msg = archive.item(1)
    assert unicode_msg.title == "Test for TIF files"
    assert unicode_msg.sender == "brizhou@gmail.com"
    assert unicode_msg.occurred_at is not None
    assert unicode_msg.occurred_at.isoformat() == "2013-11-18T10:26:24+02:00"
    assert [a.filename for a in unicode_msg.attachments] == [
        "import OleFileIO.tif",
        "raised value error.tif",
    ]
    assert archive.read_original(unicode_msg.attachments[0].sha256)[:4] in (b"II*\x00", b"MM\x00*")
    draft = archive.item(2)
    assert draft.title == "MSG Test File"
    assert draft.occurred_at is None
    assert draft.details["msg_created_at"].startswith("2016-02-23")
    newsletter = archive.item(3)
    assert "Prüfung" in newsletter.title
    assert len(newsletter.attachments) == 5


def test_parsing_in_workers_keeps_order_and_stops_cleanly_when_abandoned() -> None:
    raws = [
        (
            f"From: s{n}@lenderx.com\nSubject: m{n}\n\nbody {n}\n".encode(),
            SourceRef("eml", "t", str(n)),
        )
        for n in range(3000)
    ]
    captures = parse_many(raws, workers=2, chunk_size=16)
    first = [next(captures) for _ in range(50)]
    assert [c.source.locator for c in first] == [str(n) for n in range(50)]
    assert all(
        c.original is not None and c.original.data == raws[i][0] for i, c in enumerate(first)
    )
    started = time.monotonic()
    captures.close()  # as when a write fails half way: the pump and the workers must stop
    assert time.monotonic() - started < 30
    every = list(parse_many(raws[:500], workers=2, chunk_size=7))
    assert [c.source.locator for c in every] == [str(n) for n in range(500)]


def test_a_pdf_attachment_is_searchable_right_after_import(archive: Archive) -> None:
    report = import_mbox(archive, Path(__file__).parent.parent / "fixtures/demo/mail/lenderx.mbox")
    assert report.failed == 0
    hits = archive.search('"repayment schedule" Instalment')
    assert [h.id for h in hits] == [3]
    assert "Instalment 4 2024-10-15 CNY 5,265.76" in archive.item(3).attachments[0].text


def test_an_attachment_named_pdf_without_a_pdf_header_is_not_sent_to_the_extractor(
    archive: Archive, tmp_path: Path
) -> None:
    raw = msg(
        "From: a@lenderx.com\nSubject: fake\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n',
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
        b"Content-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="statement.pdf"\r\n\r\n'
        b"MZ\x90\x00 this is no PDF\r\n--b--\r\n",
    )
    (tmp_path / "fake.eml").write_bytes(raw)
    report = import_eml(archive, [tmp_path / "fake.eml"], workers=0)
    assert (report.added, report.failed) == (1, 0)
    assert archive.attachments_without_text(import_id=report.import_id, header=b"%PDF") == []
    assert len(archive.attachments_without_text(import_id=report.import_id)) == 1


def test_the_demo_mailbox_is_a_163_com_mailbox_with_netease_headers_and_gbk_mail(
    archive: Archive,
) -> None:
    mbox = Path(__file__).parent.parent / "fixtures/demo/mail/lenderx.mbox"
    report = import_mbox(archive, mbox)
    assert report.failed == 0
    first = archive.item(1)  # Wang's request, sent from 163.com's webmail
    raw = archive.read_original(first.original_sha256 or "")

    assert first.sender == "wangxiaoming88@163.com"
    assert first.sender_name == "王小明 Wang Xiaoming"
    assert first.title.startswith("展期申请")
    assert "我申请将第4至6期延期还款三个月" in first.body  # GBK, base64, decoded
    assert b"charset=GBK" in raw
    assert b"X-Mailer: Coremail Webmail Server" in raw
    assert b"by ajax-webmail-wmsvr" in raw
    assert first.message_id is not None
    assert first.message_id.endswith(".Coremail.wangxiaoming88@163.com>")
    reply = archive.item(2)  # the lender's answer, as NetEase's inbound servers keep it
    received = archive.read_original(reply.original_sha256 or "")
    assert received.startswith(b"Received: from mail.lenderx.com (unknown [203.0.113.45])")
    assert b"(Coremail) with SMTP id" in received
    assert b"X-CM-TRANSID:" in received
    assert "朱镕" in reply.body  # labelled gb2312, really GBK
    assert reply.thread_key == first.thread_key
