"""OCR with Tesseract on images made here: Chinese and English text, scanned PDF pages."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from conftest import IN_CI
from evidence_archiver import Archive
from evidence_archiver.connectors.pdf import pdf_captures
from evidence_archiver.extract.ocr import (
    OcrOptions,
    OcrUnavailable,
    check_available,
    ocr_image_bytes,
    tidy_ocr_text,
)
from evidence_archiver.extract.pdf import extract_pdf
from evidence_archiver.extract.sandbox import Limits

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
LIMITS = Limits(seconds=120)
LINES = ["借款合同 还款计划", "Loan Agreement with LenderX", "逾期罚息 每日万分之五"]


def need(condition: bool, what: str) -> None:
    """Skip on a laptop without the tool; fail in CI, where .ci/run must have installed it."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is missing in CI: .ci/debian-packages.txt must install it")
    pytest.skip(f"{what} is not installed")


@pytest.fixture
def tesseract() -> None:
    need(shutil.which("tesseract") is not None, "tesseract-ocr")
    try:
        check_available("chi_sim+eng")
    except OcrUnavailable:
        need(False, "tesseract-ocr-chi-sim / tesseract-ocr-eng")


def text_image(lines: list[str]) -> Image.Image:
    need(FONT.exists(), "fonts-wqy-zenhei")
    font = ImageFont.truetype(str(FONT), 40)
    image = Image.new("RGB", (900, 80 + 70 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(lines):
        draw.text((40, 40 + 70 * n), line, font=font, fill="black")
    return image


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_ocr_reads_chinese_and_english_from_an_image(tesseract: None) -> None:
    text = ocr_image_bytes(png(text_image(LINES)), OcrOptions("chi_sim+eng"))
    assert "借款合同" in text
    assert "还款计划" in text
    assert "LenderX" in text
    assert "逾期罚息" in text


def test_spaces_between_han_characters_are_removed() -> None:
    assert tidy_ocr_text("借 款 合 同 Loan  Agreement\n\n\n\n逾 期") == (
        "借款合同 Loan  Agreement\n\n逾期"
    )


def test_without_tesseract_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OcrUnavailable, match="apt install tesseract-ocr tesseract-ocr-chi-sim"):
        ocr_image_bytes(b"not even an image")


def scanned_pdf(tmp_path: Path) -> Path:
    """A PDF whose only page is a picture of text, as a scanner makes it."""
    path = tmp_path / "scanned-statement.pdf"
    text_image(LINES).save(path, format="PDF", resolution=150)
    return path


def test_a_scanned_page_is_flagged_and_its_ocr_text_marked_derived(
    tesseract: None, tmp_path: Path, archive: Archive
) -> None:
    archive.ingest(
        pdf_captures([scanned_pdf(tmp_path)], limits=LIMITS), connector="pdf", container="t"
    )
    [record] = archive.timeline()
    assert record.parse_status == "ok"
    assert record.details["scanned_pages"] == [1]
    assert record.details["pages"] == [""]  # the document's own text: none
    ocr = record.details["ocr"]
    assert ocr["derived"] is True
    assert ocr["status"] == "done"
    assert "借款合同" in ocr["text"]["1"]
    assert "(OCR text, derived by Tesseract: not the document's own text)" in record.body
    assert [h.id for h in archive.search("还款计划")] == [record.id]


def test_a_scanned_page_without_ocr_is_flagged_with_the_reason(
    tmp_path: Path, archive: Archive
) -> None:
    archive.ingest(
        pdf_captures([scanned_pdf(tmp_path)], ocr=None, limits=LIMITS),
        connector="pdf",
        container="t",
    )
    [record] = archive.timeline()
    assert record.details["scanned_pages"] == [1]
    assert record.details["ocr"]["status"] == "skipped"
    assert "借款合同" not in record.body


def test_a_scanned_page_without_tesseract_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, archive: Archive
) -> None:
    path = scanned_pdf(tmp_path)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    archive.ingest(pdf_captures([path], limits=LIMITS), connector="pdf", container="t")
    [record] = archive.timeline()
    assert record.details["scanned_pages"] == [1]
    assert record.details["ocr"]["status"] == "unavailable"
    assert "apt install tesseract-ocr" in record.details["ocr"]["reason"]


def test_ocr_stops_inside_the_time_budget_and_lists_the_pages_left(tmp_path: Path) -> None:
    result = extract_pdf(scanned_pdf(tmp_path), ocr=OcrOptions(), time_budget=0)
    assert result.error is None
    assert result.scanned_pages == [1]
    assert result.ocr["status"] == "partial"
    assert result.ocr["pending_pages"] == [1]
    assert "evidence reindex" in result.ocr["reason"]
    assert result.ocr_pages == {}
