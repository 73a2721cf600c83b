"""``reindex``: PDF attachments archived with empty text become searchable; documents archived
without their password or without OCR are read again; a second run does nothing."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from conftest import FIXTURES, IN_CI
from evidence_archiver import Archive
from evidence_archiver.connectors.pdf import pdf_captures
from evidence_archiver.extract.documents import attachment_texts, extract_attachment_text
from evidence_archiver.extract.sandbox import Limits
from evidence_archiver.hashing import blob_from_bytes
from evidence_archiver.model import Attachment, Capture, Item, SourceRef
from evidence_archiver.reindex import reindex

LOAN = FIXTURES / "documents" / "loan-agreement-2024-03-15.pdf"
LIMITS = Limits(seconds=120)


def email_with_pdf(pdf: bytes, filename: str = "合同.pdf") -> Capture:
    """An email as the email connector keeps it: the PDF attachment with empty text."""
    raw = b"From: service@lenderx.com\r\nSubject: Your agreement\r\n\r\nSee attached.\r\n"
    return Capture(
        source=SourceRef("eml", "inbox", "1.eml"),
        original=blob_from_bytes(raw, "message/rfc822"),
        item=Item(
            kind="email",
            occurred_at=datetime(2024, 3, 15, 2, 0, tzinfo=UTC),
            sender="service@lenderx.com",
            title="Your agreement",
            body="See attached.",
        ),
        attachments=(
            Attachment(blob_from_bytes(pdf, "application/pdf"), filename, "application/pdf"),
        ),
    )


def test_a_pdf_attachment_archived_without_text_becomes_searchable(archive: Archive) -> None:
    archive.ingest([email_with_pdf(LOAN.read_bytes())], connector="eml", container="inbox")
    assert archive.search("还款计划") == []
    report = reindex(archive, limits=LIMITS)
    assert report.attachments_updated == 1
    [email] = archive.timeline()
    assert "第三条 还款计划" in email.attachments[0].text
    assert [h.id for h in archive.search("还款计划")] == [email.id]
    assert [h.id for h in archive.search("Wang Xiaoming")] == [email.id]


def test_a_second_reindex_changes_nothing(archive: Archive) -> None:
    archive.ingest([email_with_pdf(LOAN.read_bytes())], connector="eml", container="inbox")
    reindex(archive, limits=LIMITS)
    events = len(list(archive.custody.events()))
    again = reindex(archive, limits=LIMITS)
    assert again.as_json()["attachments_updated"] == 0
    assert again.documents_updated == 0
    assert len(list(archive.custody.events())) == events


def test_a_broken_pdf_attachment_is_reported_and_left_as_it_was(archive: Archive) -> None:
    archive.ingest([email_with_pdf(b"%PDF-1.4 oops", "bad.pdf")], connector="eml", container="x")
    report = reindex(archive, limits=LIMITS)
    assert report.attachments_updated == 0
    [(where, reason)] = report.failures
    assert "bad.pdf" in where
    assert reason.startswith("not a readable PDF")


@pytest.mark.corpus
def test_an_encrypted_pdf_is_read_once_its_password_is_given(
    corpus: Path, archive: Archive
) -> None:
    path = corpus / "pdf_pdfplumber" / "tests_pdfs_password-example.pdf"
    archive.ingest(pdf_captures([path], limits=LIMITS), connector="pdf", container="c")
    [record] = archive.timeline()
    assert record.parse_error is not None
    assert reindex(archive, password="wrong", limits=LIMITS).documents_updated == 0
    report = reindex(archive, password="test", limits=LIMITS)
    assert report.documents_updated == 1
    [record] = archive.timeline()
    assert record.parse_status == "ok"
    assert "Backup4all" in record.body
    assert record.details["file"]["name"] == path.name
    assert archive.search("Backup4all")
    assert archive.verify_custody() == []


def test_a_scanned_pdf_is_ocrd_by_reindex_after_an_import_without_ocr(
    tmp_path: Path, archive: Archive
) -> None:
    font = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
    if shutil.which("tesseract") is None or not font.exists():
        if IN_CI:
            pytest.fail("tesseract-ocr / fonts-wqy-zenhei missing in CI")
        pytest.skip("tesseract-ocr or fonts-wqy-zenhei not installed")
    image = Image.new("RGB", (900, 200), "white")
    ImageDraw.Draw(image).text(
        (40, 60), "催收通知 Collection notice", font=ImageFont.truetype(str(font), 44), fill="black"
    )
    path = tmp_path / "scan.pdf"
    image.save(path, format="PDF", resolution=150)
    archive.ingest(pdf_captures([path], ocr=None, limits=LIMITS), connector="pdf", container="s")
    assert archive.search("催收通知") == []
    report = reindex(archive, limits=LIMITS)
    assert report.documents_updated == 1
    assert archive.search("催收通知")


def test_extract_attachment_text_reads_a_pdf_and_returns_nothing_for_bad_input() -> None:
    text = extract_attachment_text(LOAN.read_bytes(), "application/pdf")
    assert "=== page 1 of 2 ===" in text
    assert "王小明" in text
    assert extract_attachment_text(b"%PDF-1.4 broken", "application/pdf") == ""
    assert extract_attachment_text(b"GIF89a", "application/zip") == ""


def test_attachment_texts_reads_many_attachments_in_order() -> None:
    loan = LOAN.read_bytes()
    texts = list(
        attachment_texts(
            [
                (loan, "application/pdf", "a.pdf"),
                (b"%PDF-1.4 broken", "application/pdf", "b.pdf"),
                (b"PK\x03\x04", "application/zip", "c.zip"),
                (loan, "application/pdf", "d.pdf"),
            ],
            limits=LIMITS,
        )
    )
    assert len(texts) == 4
    assert "王小明" in texts[0]
    assert texts[1:3] == ["", ""]
    assert texts[3] == texts[0]
