"""PDF text, tables and metadata: bytes (or a file) in, a :class:`PdfExtraction` out.

pdfplumber (over pdfminer.six) does the reading. What we keep, and why:

* the text **per page**, so that search and the bundle can say "page 3";
* **tables** as rows of cell strings (a repayment schedule, a bank statement), with the page
  they were found on, so that ``evidence show`` and the bundle can print them as tables;
* the document **metadata** (title, author, producer, creation and modification dates, page
  count, PDF version), normalised to plain strings and ISO 8601 dates;
* the pages that have **no text layer** but do carry images: scanned pages. They are OCR'd
  when an :class:`~evidence_archiver.extract.ocr.OcrOptions` is given and Tesseract is
  installed; OCR text is kept apart (``ocr_pages``) because it is derived, never the
  document's own text.

Expected failures are returned, not raised: an encrypted PDF without the right password and a
file that is not a readable PDF come back with ``error`` set (and ``encrypted`` for the former),
so a caller can archive the original with the reason. This module is pure and runs inside the
sandboxed worker processes (:mod:`evidence_archiver.extract.sandbox`), which is what protects an
import from PDFs that hang the parser or exhaust memory.
"""

from __future__ import annotations

import io
import logging
import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..i18n import N_, _, translations_of
from .ocr import OcrOptions, OcrUnavailable, ocr_image_bytes

PDF_MEDIA_TYPE = "application/pdf"
# Every reason for an encrypted PDF starts with this mark (in the language of the import), so
# that `evidence reindex` can find those documents again: see is_encrypted_reason().
ENCRYPTED_MARK = N_("encrypted:")


def is_encrypted_reason(reason: str | None) -> bool:
    """Whether a stored parse error says the PDF is encrypted, in any interface language."""
    return bool(reason) and reason.startswith(tuple(translations_of(ENCRYPTED_MARK)))  # type: ignore[union-attr]


# Rendering resolution for OCR of scanned pages: 300 dpi is what Tesseract is trained for.
OCR_DPI = 300
MAX_WARNINGS = 20
MIN_OCR_SECONDS = 5.0  # no page is started with less time than this left
OCR_PARTIAL_HINT = (
    "OCR stopped at the time limit; run 'evidence reindex --timeout 600' to read the rest"
)

METADATA_KEYS = {
    "Title": "title",
    "Author": "author",
    "Subject": "subject",
    "Keywords": "keywords",
    "Creator": "creator",
    "Producer": "producer",
}


@dataclass
class PdfExtraction:
    """What a PDF yielded.

    ``pages[i]`` is the text of page ``i + 1`` ("" for a page without a text layer);
    ``tables`` is ``[{"page": 2, "rows": [["期数", "还款日", ...], ...]}, ...]``;
    ``metadata`` is ``{"title": ..., "creation_date": "2024-03-01T10:00:00+08:00",
    "page_count": 3, "pdf_version": "1.7", "encrypted": False, ...}``;
    ``scanned_pages`` are 1-based page numbers with images but no text;
    ``ocr_pages`` maps a page number to its OCR text (derived); ``ocr`` says how OCR went.
    """

    pages: list[str] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    scanned_pages: list[int] = field(default_factory=list)
    ocr_pages: dict[int, str] = field(default_factory=dict)
    ocr: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    encrypted: bool = False

    @property
    def page_count(self) -> int:
        return len(self.pages)


class _WarningCollector(logging.Handler):
    """Keeps pdfminer's complaints ("Data-loss while decompressing…") as facts about the file."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()[:200]
        if message not in self.messages and len(self.messages) < MAX_WARNINGS:
            self.messages.append(message)


def pdf_version(head: bytes) -> str | None:
    """The version in the ``%PDF-1.7`` header (searched in the first KiB, as readers do)."""
    match = re.search(rb"%PDF-(\d\.\d)", head[:1024])
    return match.group(1).decode("ascii") if match else None


_PDF_DATE = re.compile(
    r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?\s*"
    r"(?:(Z)|([+-])(\d{2})'?(\d{2})?'?)?"
)


def parse_pdf_date(value: str) -> str | None:
    """``D:20240301100000+08'00'`` -> ``2024-03-01T10:00:00+08:00``; no zone -> no offset.

    A date without a time zone is returned without an offset (never guessed as UTC).
    """
    match = _PDF_DATE.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, zulu, sign, oh, om = match.groups()
    try:
        naive = datetime(  # noqa: DTZ001 - the zone is attached below when the file gives one
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
        )
    except ValueError:
        return None
    if zulu:
        return naive.replace(tzinfo=UTC).isoformat()
    if sign:
        delta = timedelta(hours=int(oh), minutes=int(om or 0))
        if delta >= timedelta(hours=24):
            return naive.isoformat()
        tz = timezone(delta if sign == "+" else -delta)
        return naive.replace(tzinfo=tz).isoformat()
    return naive.isoformat()


def _plain(value: Any) -> str:
    """Metadata values arrive as str, bytes, numbers or pdfminer objects; keep readable text."""
    if isinstance(value, bytes):
        for encoding in ("utf-8", "latin-1"):
            try:
                return value.decode(encoding).strip()
            except UnicodeDecodeError:
                continue
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return str(value).strip()


def normalise_metadata(raw: dict[str, Any]) -> dict[str, Any]:
    """pdfplumber's ``pdf.metadata`` to our keys; unknown keys kept under ``other``."""
    meta: dict[str, Any] = {}
    other: dict[str, str] = {}
    for key, value in raw.items():
        text = _plain(value)
        if key in METADATA_KEYS:
            if text:
                meta[METADATA_KEYS[key]] = text
        elif key in ("CreationDate", "ModDate"):
            name = "creation_date" if key == "CreationDate" else "modification_date"
            meta[name] = parse_pdf_date(text) or text
            meta[name + "_raw"] = text
        elif text and len(other) < 30:
            other[str(key)[:60]] = text[:500]
    if other:
        meta["other"] = other
    return meta


def _clean_rows(rows: list[list[str | None]]) -> list[list[str]]:
    cleaned = [[(cell or "").strip() for cell in row] for row in rows]
    return [row for row in cleaned if any(row)]


def _is_password_error(exc: BaseException) -> bool:
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PDFPasswordIncorrect | PDFEncryptionError):
            return True
        inner = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = inner or seen.__cause__
    return False


def _describe(exc: BaseException) -> str:
    # pdfplumber wraps pdfminer's exception; the inner one says what is wrong.
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    if isinstance(inner, RecursionError) or isinstance(exc, RecursionError):
        return _("not a readable PDF: its structure loops or nests too deeply")
    text = str(inner).strip() or type(inner).__name__
    # pdfminer quotes raw bytes of the damaged object; a person needs only the gist.
    text = "".join(c if c.isprintable() else "?" for c in text)
    if len(text) > 100:
        text = text[:100] + "…"
    return _("not a readable PDF: {reason}").format(reason=text)


def extract_pdf(
    source: bytes | Path,
    *,
    password: str | None = None,
    ocr: OcrOptions | None = None,
    tables: bool = True,
    time_budget: float | None = None,
) -> PdfExtraction:
    """Read a PDF; never raises for a bad or encrypted file (see ``error``/``encrypted``).

    ``time_budget`` (seconds) bounds the OCR of scanned pages: pages left when it runs out are
    listed in ``ocr["pending_pages"]`` for ``evidence reindex``, rather than the whole document
    overrunning its time limit and losing its text layer too.
    """
    import pdfplumber

    deadline = None if time_budget is None else time.monotonic() + time_budget
    data = source if isinstance(source, bytes) else source.read_bytes()
    result = PdfExtraction()
    if not data:
        result.error = "not a readable PDF: the file is empty (0 bytes)"
        return result
    version = pdf_version(data)
    collector = _WarningCollector()
    pdf_logger = logging.getLogger("pdfminer")
    plumber_logger = logging.getLogger("pdfplumber")
    for logger in (pdf_logger, plumber_logger):
        logger.addHandler(collector)
    old_propagate = pdf_logger.propagate, plumber_logger.propagate
    pdf_logger.propagate = plumber_logger.propagate = False
    try:
        try:
            pdf = pdfplumber.open(
                io.BytesIO(data), password=password or "", raise_unicode_errors=False
            )
        except Exception as exc:  # pdfminer raises many types for broken files
            if _is_password_error(exc):
                result.encrypted = True
                result.error = (
                    _("encrypted: the password given is wrong")
                    if password
                    else _(
                        "encrypted: password required (use --password-prompt or set "
                        "EVIDENCE_PDF_PASSWORD)"
                    )
                )
            else:
                result.error = _describe(exc)
            return result
        try:
            with pdf:
                _read_document(pdf, result, version, tables, ocr, deadline)
        except Exception as exc:  # damage found past the header: keep what was read
            result.error = _describe(exc)
    finally:
        for logger in (pdf_logger, plumber_logger):
            logger.removeHandler(collector)
        pdf_logger.propagate, plumber_logger.propagate = old_propagate
        result.warnings = collector.messages
    return result


def _read_document(
    pdf: Any,
    result: PdfExtraction,
    version: str | None,
    tables: bool,
    ocr: OcrOptions | None,
    deadline: float | None,
) -> None:
    encrypted = bool(getattr(pdf.doc, "encryption", None))
    result.encrypted = encrypted
    result.metadata = normalise_metadata(pdf.metadata)
    result.metadata["pdf_version"] = version
    result.metadata["encrypted"] = encrypted
    pages = list(pdf.pages)
    result.metadata["page_count"] = len(pages)
    if not pages:
        result.error = "not a readable PDF: it has no pages"
        return
    for number, page in enumerate(pages, start=1):
        _read_page(page, number, result, tables)
        page.close()  # frees the page's cached layout: long documents stay small
    if result.scanned_pages and ocr is not None:
        _ocr_scanned(pdf, result, ocr, deadline)


def _read_page(page: Any, number: int, result: PdfExtraction, tables: bool) -> None:
    try:
        text = page.extract_text() or ""
    except Exception as exc:
        result.warnings.append(
            _("page {number}: text unreadable ({error})").format(
                number=number, error=str(exc)[:100]
            )
        )
        text = ""
    result.pages.append(text)
    try:
        has_images = bool(page.images)
    except Exception:
        has_images = False
    if not text.strip() and has_images:
        result.scanned_pages.append(number)
    if not tables or not text.strip():
        return
    try:
        found = page.extract_tables()
    except Exception as exc:
        result.warnings.append(
            _("page {number}: tables unreadable ({error})").format(
                number=number, error=str(exc)[:100]
            )
        )
        return
    for rows in found:
        cleaned = _clean_rows(rows)
        # One row or one column is running text that happens to have rules, not a table.
        if len(cleaned) >= 2 and max(len(r) for r in cleaned) >= 2:
            result.tables.append({"page": number, "rows": cleaned})


def _ocr_scanned(pdf: Any, result: PdfExtraction, ocr: OcrOptions, deadline: float | None) -> None:
    result.ocr = {"engine": "tesseract", "lang": ocr.lang, "derived": True, "pages": []}
    for index, number in enumerate(result.scanned_pages):
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining < MIN_OCR_SECONDS:
            # Stop inside the time limit: the text layer and the pages read so far are kept.
            result.ocr["status"] = "partial"
            result.ocr["pending_pages"] = result.scanned_pages[index:]
            result.ocr["reason"] = OCR_PARTIAL_HINT
            return
        options = ocr if remaining is None else replace(ocr, timeout=min(ocr.timeout, remaining))
        try:
            image = pdf.pages[number - 1].to_image(resolution=OCR_DPI).original
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            text = ocr_image_bytes(buffer.getvalue(), options)
        except OcrUnavailable as exc:
            result.ocr = {"status": "unavailable", "reason": str(exc), "derived": True}
            return
        except Exception as exc:
            result.warnings.append(
                _("page {number}: OCR failed ({error})").format(number=number, error=str(exc)[:100])
            )
            continue
        result.ocr_pages[number] = text
        result.ocr["pages"].append(number)
    result.ocr["status"] = "done"


def page_separator(number: int, total: int, *, derived: bool = False) -> str:
    """The line that opens each page in a document's body text."""
    if derived:
        return (
            f"=== page {number} of {total} "
            "(OCR text, derived by Tesseract: not the document's own text) ==="
        )
    return f"=== page {number} of {total} ==="


def body_text(extraction: PdfExtraction) -> str:
    """All page texts joined, each page opened by a separator line; OCR text marked derived."""
    total = extraction.page_count
    parts: list[str] = []
    for number, text in enumerate(extraction.pages, start=1):
        if number in extraction.ocr_pages:
            parts.append(page_separator(number, total, derived=True))
            parts.append(extraction.ocr_pages[number].strip())
        else:
            parts.append(page_separator(number, total))
            parts.append(text.strip())
    return "\n".join(parts).strip()


def details_of(extraction: PdfExtraction) -> dict[str, Any]:
    """The ``Item.details`` of a document: pages, tables, metadata, scanned pages, OCR."""
    details: dict[str, Any] = {
        "pages": extraction.pages,
        "tables": extraction.tables,
        "metadata": extraction.metadata,
        "scanned_pages": extraction.scanned_pages,
        "ocr": {
            **extraction.ocr,
            "text": {str(k): v for k, v in sorted(extraction.ocr_pages.items())},
        }
        if extraction.ocr
        else {},
    }
    if extraction.warnings:
        details["warnings"] = extraction.warnings
    if extraction.error:
        details["error"] = extraction.error
        details["text_missing"] = True
    return details
