"""Fixtures for the export tests: a local RFC 3161 TSA, broken TSAs, and a case to export.

Registered from conftest.py (``pytest_plugins``). The TSA is the product's own
:func:`evidence_archiver.export.local_tsa.local_tsa`: a CA and a TSA certificate made with the
``openssl`` command, served on 127.0.0.1 by ``openssl ts -reply``. Tools the tests need
(openssl, chromium, poppler's pdffonts/pdftotext) skip a test on a developer's machine when
absent and fail it in CI, where .ci/run installs them.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fpdf import FPDF

from evidence_archiver import Archive
from evidence_archiver.export.local_tsa import LocalTSA, local_tsa
from evidence_archiver.hashing import blob_from_bytes
from evidence_archiver.model import Attachment, Capture, Item, SourceRef

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CST = timezone(timedelta(hours=8))
EXPORT_NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def require_tool(name: str) -> str:
    """The path of a command-line tool; skip without it (fail in CI, which installs it)."""
    path = shutil.which(name)
    if path is None:
        message = f"the '{name}' command is not installed (see .ci/debian-packages.txt)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def tsa() -> Iterator[LocalTSA]:
    require_tool("openssl")
    with local_tsa() as server:
        yield server


class _Reply(BaseHTTPRequestHandler):
    status = 200
    body = b"this is not a timestamp"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def garbage_tsa() -> Iterator[str]:
    """A server that answers every timestamp request with bytes that are not a token."""
    yield from _serve(_Reply)


class _Broken(_Reply):
    status = 500
    body = b"internal error"


@pytest.fixture
def failing_tsa() -> Iterator[str]:
    """A server that answers every request with HTTP 500."""
    yield from _serve(_Broken)


@functools.cache
def make_pdf(lines: tuple[str, ...], pages: int = 2) -> bytes:
    """A small real PDF (with a Chinese line when a CJK font is installed); made once."""
    from evidence_archiver.export.render_pdf import FontMissing, find_cjk_font

    pdf = FPDF()
    pdf.set_creation_date(datetime(2024, 1, 1, tzinfo=UTC))
    try:
        pdf.add_font("cjk", fname=str(find_cjk_font()))
        pdf.set_font("cjk", size=12)
    except FontMissing:
        pdf.set_font("helvetica", size=12)
        lines = tuple(line.encode("latin-1", "replace").decode("latin-1") for line in lines)
    for n in range(pages):
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 10, f"{line} (page {n + 1})", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


SMS_BACKUP = """<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<smses count="3">
  <sms address="+8613812345678" date="1709256600000" type="1" body="您的借款已逾期，请尽快还款" />
  <sms address="+8613812345678" date="1709260200000" type="2" body="我申请延期还款" />
  <sms address="+8613812345678" date="1709263800000" type="1" body="Extension approved" />
</smses>
""".encode()


def sample_captures() -> list[Capture]:
    """Two emails (one with a PDF and a photo attached), three SMS from one backup, a call and
    a PDF document: the kinds a case holds."""
    loan_pdf = make_pdf(("Loan agreement 借款合同", "Amount: 10,000"), pages=2)
    photo = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"
    raw1 = (
        "From: LenderX Service <service@lenderx.com>\r\nTo: me@example.com\r\n"
        "Subject: =?utf-8?b?6L+Y5qy+5o+Q6YaS?=\r\nDate: Fri, 01 Mar 2024 09:30:00 +0800\r\n"
        "\r\nPlease repay by 2024-03-10. 请于3月10日前还款。\r\n"
    ).encode()
    raw2 = (
        "From: me@example.com\r\nTo: service@lenderx.com\r\nSubject: Re: repayment\r\n"
        "Date: Sat, 02 Mar 2024 10:00:00 +0800\r\n\r\nI ask for an extension. 我申请延期。\r\n"
    ).encode()
    backup = blob_from_bytes(SMS_BACKUP, "application/xml")
    captures = [
        Capture(
            source=SourceRef("eml", "/home/me/mail/reminder.eml", ""),
            original=blob_from_bytes(raw1, "message/rfc822"),
            item=Item(
                kind="email",
                occurred_at=datetime(2024, 3, 1, 9, 30, tzinfo=CST),
                direction="in",
                sender="service@lenderx.com",
                sender_name="LenderX Service",
                recipients=("me@example.com",),
                title="还款提醒",
                body="Please repay by 2024-03-10. 请于3月10日前还款。",
                message_id="<m1@lenderx.com>",
            ),
            attachments=(
                Attachment(
                    blob_from_bytes(loan_pdf, "application/pdf"),
                    "../../合同 agreement.pdf",
                    "application/pdf",
                    text="Loan agreement 借款合同",
                ),
                Attachment(
                    blob_from_bytes(photo, "image/jpeg"), "C:\\photos\\receipt.jpg", "image/jpeg"
                ),  # fmt: skip
            ),
        ),
        Capture(
            source=SourceRef("eml", "/home/me/mail/reply.eml", ""),
            original=blob_from_bytes(raw2, "message/rfc822"),
            item=Item(
                kind="email",
                occurred_at=datetime(2024, 3, 2, 10, 0, tzinfo=CST),
                direction="out",
                sender="me@example.com",
                recipients=("service@lenderx.com",),
                title="Re: repayment",
                body="I ask for an extension. 我申请延期。",
            ),
        ),
        Capture(source=SourceRef("sms", "backup.xml", ""), original=backup, item=None),
    ]
    sms = [
        ("您的借款已逾期，请尽快还款", "in", datetime(2024, 3, 1, 9, 30, tzinfo=UTC)),
        ("我申请延期还款", "out", datetime(2024, 3, 1, 10, 30, tzinfo=UTC)),
        ("Extension approved", "in", datetime(2024, 3, 1, 11, 30, tzinfo=UTC)),
    ]
    for n, (body, direction, at) in enumerate(sms):
        captures.append(
            Capture(
                source=SourceRef("sms", "backup.xml", f"element {n + 1}"),
                original=None,
                item=Item(
                    kind="sms",
                    occurred_at=at,
                    direction=direction,  # type: ignore[arg-type]
                    sender="+8613812345678" if direction == "in" else "",
                    recipients=() if direction == "in" else ("+8613812345678",),
                    body=body,
                    thread_key="+8613812345678",
                ),
                dedup_key=f"sms:{n}",
                container_sha256=backup.sha256,
            )
        )
    statement = make_pdf(("Statement 账单", "Overdue 逾期: 500"), pages=1)
    captures.append(
        Capture(
            source=SourceRef("pdf", "statement.pdf", ""),
            original=blob_from_bytes(statement, "application/pdf"),
            item=Item(
                kind="document",
                occurred_at=datetime(2024, 3, 5, tzinfo=CST),
                title="账单 March statement",
                body="Statement 账单\nOverdue 逾期: 500",
                details={
                    "pages": ["Statement 账单\nOverdue 逾期: 500"],
                    "tables": [
                        {"page": 1, "rows": [["日期 date", "金额 amount"], ["2024-03-05", "500"]]}
                    ],
                    "metadata": {"page_count": 1},
                },  # fmt: skip
            ),
        )
    )
    call_log = blob_from_bytes(b"call,+8613812345678,2024-03-03,65\n", "text/csv")
    captures.append(
        Capture(
            source=SourceRef("calls", "calls.csv", "line 1"),
            original=call_log,
            item=Item(
                kind="call",
                occurred_at=datetime(2024, 3, 3, 15, 0, tzinfo=CST),
                direction="in",
                sender="+8613812345678",
                title="Call from +8613812345678",
                details={"duration": 65},
            ),
        )
    )
    return captures


def build_case(archive: Archive) -> str:
    archive.ingest(sample_captures(), connector="test", container="samples")
    slug, _ = archive.create_case(
        "LenderX 逾期 dispute",
        slug="lenderx",
        rules=[("domain", "lenderx.com"), ("phone", "+8613812345678")],
    )
    archive.link(slug, [6])  # the statement has no sender a rule could match
    archive.tag(1, "reminder")
    archive.add_note(1, "first reminder 第一次提醒")
    # An item outside the case: its custody events appear only as hashes in the bundle.
    archive.ingest(
        [
            Capture(
                source=SourceRef("eml", "other.eml", ""),
                original=blob_from_bytes(
                    b"Subject: private\r\n\r\nunrelated\r\n", "message/rfc822"
                ),
                item=Item(kind="email", title="private", body="unrelated", sender="a@b.org"),
            )
        ],
        connector="eml",
        container="other",
    )
    return slug


@pytest.fixture
def case_archive(archive_path: Path, clock: Callable[[], datetime]) -> Iterator[Archive]:
    """An archive holding the case ``lenderx`` with emails, SMS, a call and a PDF document."""
    with Archive(archive_path, clock=clock) as archive:
        build_case(archive)
        yield archive
