"""``file_captures`` and ``pdf_captures`` over real files into a real archive: the generated
agreements and chat screenshot in fixtures/documents, photos with EXIF, a call recording,
unknown bytes."""

from __future__ import annotations

import io
import shutil
import wave
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from conftest import FIXTURES, IN_CI
from evidence_archiver import Archive, SourceError
from evidence_archiver.connectors.files import file_captures
from evidence_archiver.connectors.pdf import pdf_captures
from evidence_archiver.documents import import_files
from evidence_archiver.extract.files import recording_hint, sniff_media_type, thumbnail_png
from evidence_archiver.extract.sandbox import Limits
from evidence_archiver.model import Capture, Item, SourceRef
from evidence_archiver.reindex import link_recordings

DOCS = FIXTURES / "documents"
LOAN = DOCS / "loan-agreement-2024-03-15.pdf"
EXTENSION = DOCS / "extension-agreement-2024-08-30-signed.pdf"
SCREENSHOT = DOCS / "chat-screenshot-2024-09-10.png"
LIMITS = Limits(seconds=120)
CST = timezone(timedelta(hours=8))


def test_the_loan_agreement_keeps_pages_tables_and_metadata(archive: Archive) -> None:
    report = archive.ingest(
        pdf_captures([LOAN, EXTENSION], limits=LIMITS), connector="pdf", container="fixtures"
    )
    assert report.added == 2
    loan, extension = archive.timeline()
    assert loan.kind == "document"
    assert loan.occurred_at == datetime(2024, 3, 15, 10, 0, tzinfo=CST)
    assert loan.title == "借款合同 Loan Agreement LX-2024-0315-001"
    assert len(loan.details["pages"]) == 2
    assert loan.body.startswith("=== page 1 of 2 ===\n借款合同")
    assert "=== page 2 of 2 ===" in loan.body
    [table] = loan.details["tables"]
    assert table["page"] == 1
    assert table["rows"][0] == [
        "期数 No.",
        "还款日 Due date",
        "本金 Principal",
        "利息 Interest",
        "合计 Total",
    ]
    assert table["rows"][1] == ["1", "2024-04-15", "4,815.76", "450.00", "5,265.76"]
    assert table["rows"][6] == ["6", "2024-09-15", "5,187.91", "77.82", "5,265.73"]
    meta = loan.details["metadata"]
    assert meta["author"] == "乐贷 LenderX Financial Services Ltd."
    assert meta["page_count"] == 2
    assert meta["encrypted"] is False
    # Instalments 4-6, three months later and of the same amounts.
    assert [row[:2] for row in extension.details["tables"][0]["rows"][1:]] == [
        ["4", "2024-10-15"],
        ["5", "2024-11-15"],
        ["6", "2024-12-15"],
    ]
    assert extension.details["tables"][0]["rows"][3][4] == "5,265.73"
    assert "已签署 Signed 2024-08-30" in extension.body


def test_agreements_are_found_by_chinese_and_english_terms(archive: Archive) -> None:
    archive.ingest(pdf_captures([DOCS], limits=LIMITS), connector="pdf", container="fixtures")
    titles = {r.id: r.title for r in archive.timeline()}
    assert len(titles) == 2  # only the PDFs of the folder
    for term in ("延期还款协议", "王小明", "LenderX", "逾期"):
        assert archive.search(term), term
    [hit] = archive.search("延期还款协议 Extension")
    assert titles[hit.id].startswith("延期还款协议")


def test_the_chat_screenshot_is_ocrd_as_derived_text(archive: Archive) -> None:
    if shutil.which("tesseract") is None:
        if IN_CI:
            pytest.fail("tesseract-ocr is missing in CI: .ci/debian-packages.txt installs it")
        pytest.skip("tesseract-ocr is not installed")
    archive.ingest(file_captures([SCREENSHOT], limits=LIMITS), connector="files", container="t")
    [record] = archive.timeline()
    assert record.kind == "file"
    assert record.details["file"]["media_type"] == "image/png"
    assert record.details["image"]["width"] == 480
    assert record.details["ocr"]["derived"] is True
    assert record.body.startswith("=== OCR text, derived by Tesseract: not the file's own text")
    assert "Your 4th and 5th instalments are overdue" in record.body
    assert [h.id for h in archive.search("逾期")] == [record.id]


def test_media_type_comes_from_content_not_the_name(tmp_path: Path) -> None:
    disguised = tmp_path / "statement.pdf"
    disguised.write_bytes(SCREENSHOT.read_bytes())
    [capture] = list(file_captures([disguised], ocr=None, limits=LIMITS))
    assert capture.original is not None  # type: ignore[union-attr]
    assert capture.original.media_type == "image/png"  # type: ignore[union-attr]
    assert capture.item.kind == "file"  # type: ignore[union-attr]
    assert sniff_media_type(b"%PDF-1.7\n...", "x.bin") == "application/pdf"
    assert sniff_media_type(b"\x00\x01\x02binary", "") == "application/octet-stream"
    assert sniff_media_type("还款 text".encode(), "note") == "text/plain"


def test_a_photo_keeps_its_exif_time_and_device(tmp_path: Path, archive: Archive) -> None:
    exif = Image.Exif()
    exif[271], exif[272] = "Apple", "iPhone 12"
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[36867], sub[36881] = "2024:09:10 14:03:22", "+08:00"
    path = tmp_path / "IMG_0001.JPG"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, format="JPEG", exif=exif)
    path.write_bytes(buffer.getvalue())
    archive.ingest(file_captures([path], ocr=None, limits=LIMITS), connector="files", container="t")
    [record] = archive.timeline()
    assert record.occurred_at == datetime(2024, 9, 10, 14, 3, 22, tzinfo=CST)
    assert record.details["image"]["device"] == "Apple iPhone 12"
    assert record.details["file"]["media_type"] == "image/jpeg"


def test_a_call_recording_keeps_duration_and_the_number_and_time_in_its_name(
    tmp_path: Path, archive: Archive
) -> None:
    path = tmp_path / "Call recording +8613812345678_20240305_142210.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 8000 * 2)
    archive.ingest(file_captures([path], limits=LIMITS), connector="files", container="t")
    [record] = archive.timeline()
    assert record.details["audio"]["duration_seconds"] == 2.0
    assert record.details["recording"] == {
        "local_time": "2024-03-05T14:22:10",
        "number": "+8613812345678",
    }
    assert record.occurred_at is None  # a local time without a zone is not guessed


def test_a_call_recording_is_matched_with_its_call_log_entry(
    tmp_path: Path, archive: Archive
) -> None:
    call = Capture(
        source=SourceRef("sms-backup", "calls.xml", "element 3"),
        original=None,
        item=Item(
            kind="call",
            occurred_at=datetime(2024, 3, 5, 14, 21, 40, tzinfo=CST),
            direction="in",
            sender="+8613812345678",
            thread_key="phone:+8613812345678",
        ),
        dedup_key="call:+8613812345678:2024-03-05T06:21:40Z",
    )
    other = replace(
        call,
        item=replace(call.item, occurred_at=datetime(2024, 3, 5, 9, 0, tzinfo=CST)),  # type: ignore[arg-type]
        dedup_key="call:+8613812345678:2024-03-05T01:00:00Z",
    )
    archive.ingest([call, other], connector="sms-backup", container="calls.xml")
    path = tmp_path / "20240305142210_+8613812345678.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 800)
    import_files(archive, [path], ocr=None, limits=LIMITS)
    calls = {r.occurred_at: r.id for r in archive.timeline(kind="call")}
    [recording] = archive.timeline(kind="file")
    assert recording.thread_key == "phone:+8613812345678"
    assert recording.details["recording"]["call_item_id"] == calls[call.item.occurred_at]  # type: ignore[union-attr]
    assert link_recordings(archive) == 0  # already matched


def test_recorder_app_names_give_number_and_time() -> None:
    assert recording_hint("20240305142210_+8613812345678.amr") == {
        "local_time": "2024-03-05T14:22:10",
        "number": "+8613812345678",
    }
    assert recording_hint("holiday.mp3") == {}


def test_any_other_file_is_stored_with_type_size_and_times(
    tmp_path: Path, archive: Archive
) -> None:
    path = tmp_path / "backup.bin"
    path.write_bytes(b"\x00\xff" * 100)
    report = archive.ingest(file_captures([path]), connector="files", container="t")
    assert report.added == 1
    [record] = archive.timeline()
    assert record.details["file"]["media_type"] == "application/octet-stream"
    assert record.details["file"]["size"] == 200
    assert record.details["file"]["modified"].endswith("+00:00")
    assert archive.read_original(record.original_sha256 or "") == path.read_bytes()


def test_reimporting_a_folder_adds_nothing(tmp_path: Path, archive: Archive) -> None:
    folder = tmp_path / "evidence"
    folder.mkdir()
    shutil.copy(LOAN, folder / LOAN.name)
    (folder / "note.txt").write_text("催收电话记录 collection call log", encoding="utf-8")
    first = archive.ingest(file_captures([folder], ocr=None), connector="files", container="t")
    again = archive.ingest(file_captures([folder], ocr=None), connector="files", container="t")
    assert (first.added, again.added, again.duplicates) == (2, 0, 2)
    assert archive.search("催收电话")


def test_a_missing_path_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        list(file_captures([tmp_path / "nowhere"]))


def test_a_pdf_over_the_time_limit_is_archived_with_the_reason(archive: Archive) -> None:
    report = archive.ingest(
        pdf_captures([LOAN], limits=Limits(seconds=0.01, workers=1)),
        connector="pdf",
        container="t",
    )
    assert report.failed == 1
    [record] = archive.timeline()
    assert record.parse_error == "took longer than the time limit of 0.01 s"
    assert record.details["text_missing"] is True
    assert archive.read_original(record.original_sha256 or "") == LOAN.read_bytes()


def assert_kept_as_unreadable_image(archive: Archive, path: Path) -> None:
    """Imported as a failure with the reason, and the original kept byte for byte."""
    report = archive.ingest(file_captures([path], limits=LIMITS), connector="files", container="t")
    assert report.failed == 1
    [record] = archive.timeline()
    assert record.parse_error is not None
    assert record.parse_error.startswith("not a readable image")
    assert archive.read_original(record.original_sha256 or "") == path.read_bytes()


def test_a_truncated_image_is_archived_with_the_reason(tmp_path: Path, archive: Archive) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(SCREENSHOT.read_bytes()[:200])
    assert_kept_as_unreadable_image(archive, path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_photo_cut_short_after_its_exif_is_not_taken_as_readable(
    tmp_path: Path, archive: Archive, fmt: str
) -> None:
    exif = Image.Exif()
    exif[0x0132] = "2024:09:10 21:05:00"  # DateTime
    exif[0x010F] = "Apple"  # Make
    picture = Image.effect_noise((400, 300), 60).convert("RGB")
    out = io.BytesIO()
    picture.save(out, format=fmt, exif=exif.tobytes())
    whole = out.getvalue()
    path = tmp_path / f"photo.{fmt.lower()}"
    path.write_bytes(whole[: len(whole) // 2])  # the header and EXIF are intact
    assert_kept_as_unreadable_image(archive, path)


def test_a_thumbnail_fits_in_320_pixels() -> None:
    thumb = Image.open(io.BytesIO(thumbnail_png(SCREENSHOT.read_bytes())))
    assert thumb.format == "PNG"
    assert max(thumb.size) == 320
    assert thumb.size == (240, 320)  # the screenshot's 3:4 shape is kept
