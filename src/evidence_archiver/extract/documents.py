"""One entry point from an original's bytes to searchable text and structure, by media type.

:func:`extract_document` is what the sandboxed workers run (see :mod:`.sandbox`): PDFs go to
:mod:`.pdf`, images get their EXIF facts and OCR, recordings their duration and the number and
time in their file name, text files their text, anything else nothing but its type. The result,
an :class:`Extracted`, is what a connector turns into an ``Item``, and what
:func:`extract_attachment_text` (for an email's PDF attachment) and ``evidence reindex`` turn
into attachment text.

Text that OCR produced is *derived*: it is introduced by a line saying so, and recorded under
``details["ocr"]`` with ``"derived": True``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ..i18n import _
from ..model import ItemKind
from . import files as file_facts
from . import pdf as pdf_extract
from .ocr import OcrOptions, OcrUnavailable, ocr_image_bytes
from .sandbox import Limits, Outcome, run_isolated

OCR_IMAGE_HEADER = "=== OCR text, derived by Tesseract: not the file's own text ==="
TEXT_LIMIT = 1 << 20  # plain-text files larger than this are stored, not indexed


@dataclass(frozen=True)
class ExtractJob:
    """One original to read: from ``path`` (read in the worker) or from ``data``."""

    filename: str
    media_type: str
    path: Path | None = None
    data: bytes | None = None
    password: str | None = None
    ocr: OcrOptions | None = field(default_factory=OcrOptions)
    time_budget: float | None = None  # seconds for OCR, kept inside the job's time limit

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.path is None:
            raise ValueError("an ExtractJob needs data or a path")
        return self.path.read_bytes()


@dataclass
class Extracted:
    """What an original yielded: the fields of its Item, or ``error`` when it is unreadable."""

    kind: ItemKind
    title: str = ""
    body: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    error: str | None = None


def _aware(iso: str | None) -> datetime | None:
    """An ISO time with an offset as a datetime; ``None`` for local times (no zone invented)."""
    if not iso:
        return None
    try:
        value = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def ocr_budget(limits: Limits | None) -> float:
    """Seconds of OCR a job may spend: most of its time limit, leaving room to finish."""
    return (limits or Limits()).seconds * 0.8


def is_pdf(media_type: str) -> bool:
    return media_type.lower() in (pdf_extract.PDF_MEDIA_TYPE, "application/x-pdf")


_MACHINE_TITLE = re.compile(
    r"(^Microsoft (Word|Excel|PowerPoint) - )|(\.(docx?|xlsx?|pptx?|pdf|exe|txt|rtf|odt|html?)$)"
    r"|^(untitled|document\d*)$",
    re.IGNORECASE,
)


def _title(metadata_title: str, filename: str) -> str:
    """The PDF's own title when a person wrote it; the file name when a program did."""
    title = metadata_title.strip()
    if not title or _MACHINE_TITLE.search(title):
        return filename
    return title


def _from_pdf(job: ExtractJob) -> Extracted:
    result = pdf_extract.extract_pdf(
        job.read(), password=job.password, ocr=job.ocr, time_budget=job.time_budget
    )
    if result.scanned_pages and not result.ocr:
        result.ocr = {"status": "skipped", "reason": "OCR was turned off (--no-ocr)"}
    metadata = result.metadata
    return Extracted(
        kind="document",
        title=_title(str(metadata.get("title") or ""), job.filename),
        body=pdf_extract.body_text(result),
        details=pdf_extract.details_of(result),
        occurred_at=_aware(metadata.get("creation_date")),
        error=result.error,
    )


def _from_image(job: ExtractJob, data: bytes) -> Extracted:
    details: dict[str, Any] = {}
    try:
        details["image"] = file_facts.image_facts(data)
    except Exception as exc:  # Pillow raises many types for damaged images
        return Extracted(
            kind="file",
            title=job.filename,
            details={"image": {}},
            error=_("not a readable image: {error}").format(error=str(exc)[:200]),
        )
    body = ""
    if job.ocr is None:
        details["ocr"] = {"status": "skipped", "reason": "OCR was turned off (--no-ocr)"}
    else:
        try:
            png = data if details["image"].get("format") in ("PNG", "JPEG") else None
            options = job.ocr
            if job.time_budget is not None:
                options = replace(options, timeout=min(options.timeout, job.time_budget))
            text = ocr_image_bytes(png or file_facts.image_as_png(data), options)
        except OcrUnavailable as exc:
            details["ocr"] = {"status": "unavailable", "reason": str(exc), "derived": True}
        except Exception as exc:
            details["ocr"] = {"status": "failed", "reason": str(exc)[:200], "derived": True}
        else:
            details["ocr"] = {
                "status": "done",
                "engine": "tesseract",
                "lang": job.ocr.lang,
                "derived": True,
                "text": text,
            }
            if text:
                body = f"{OCR_IMAGE_HEADER}\n{text}"
    return Extracted(
        kind="file",
        title=job.filename,
        body=body,
        details=details,
        occurred_at=_aware(details["image"].get("taken_at")),
    )


#: Audio types phones and recorder apps write, which mutagen (or our AMR reader) must read:
#: one that cannot is damaged. Others (MIDI…) are kept without a duration.
RECORDED_AUDIO = frozenset(
    {
        "audio/mpeg",
        "audio/mp4",
        "audio/m4a",
        "audio/x-m4a",
        "audio/aac",
        "audio/x-aac",
        "audio/amr",
        "audio/amr-wb",
        "audio/wav",
        "audio/x-wav",
        "audio/wave",
        "audio/ogg",
        "audio/flac",
        "audio/x-flac",
        "audio/3gpp",
    }
)


def _from_audio(job: ExtractJob) -> Extracted:
    """Duration and format; a file that says it is audio but cannot be read is reported.

    What the file's name says (the number and time of a call recording) is read by the
    caller, which knows the folders around it (:mod:`.recordings`).
    """
    source = job.data if job.data is not None else job.path
    if source is None:
        return Extracted(kind="file", title=job.filename, details={"audio": {}})
    try:
        facts = file_facts.audio_facts(source, strict=job.media_type.lower() in RECORDED_AUDIO)
    except file_facts.DamagedAudio as exc:
        return Extracted(
            kind="file",
            title=job.filename,
            details={"audio": {}},
            error=_("not a readable audio file: {error}").format(error=str(exc)[:200]),
        )
    return Extracted(kind="file", title=job.filename, details={"audio": facts})


def _from_text(job: ExtractJob, data: bytes) -> Extracted:
    if len(data) > TEXT_LIMIT:
        return Extracted(kind="file", title=job.filename, details={"text_indexed": False})
    return Extracted(
        kind="file",
        title=job.filename,
        body=data.decode("utf-8", "replace"),
        details={"text_indexed": True},
    )


def extract_document(job: ExtractJob) -> Extracted:
    """Read one original by its media type (run this in a worker: see :func:`extract_many`)."""
    media_type = job.media_type.lower()
    if is_pdf(media_type):
        return _from_pdf(job)
    if media_type.startswith("image/"):
        return _from_image(job, job.read())
    if media_type.startswith("audio/"):
        return _from_audio(job)
    if media_type.startswith("text/"):
        return _from_text(job, job.read())
    return Extracted(kind="file", title=job.filename)


def wants_extraction(media_type: str) -> bool:
    """Whether :func:`extract_document` does anything for this type (else skip the worker)."""
    media_type = media_type.lower()
    return is_pdf(media_type) or media_type.startswith(("image/", "audio/", "text/"))


def extract_many(
    jobs: Iterable[ExtractJob], limits: Limits | None = None
) -> Iterator[Outcome[ExtractJob, Extracted]]:
    """:func:`extract_document` over ``jobs`` in sandboxed workers, results in input order."""
    return run_isolated(extract_document, jobs, limits)


def searchable_text(extracted: Extracted) -> str:
    """The text an attachment contributes to search (OCR text included, marked derived)."""
    return extracted.body


def extract_attachment_text(
    data: bytes,
    media_type: str,
    *,
    filename: str = "attachment",
    password: str | None = None,
    ocr: OcrOptions | None = None,
    limits: Limits | None = None,
) -> str:
    """Searchable text of an attachment (a PDF, an image), read in a sandboxed worker.

    Returns "" when there is nothing to read or the attachment cannot be read (encrypted
    without password, broken, over the time or memory limit): the attachment stays archived
    as it came, and ``evidence reindex`` can try again later. OCR is off unless ``ocr`` is
    given, so that importing a large mailbox does not OCR every inline logo.
    """
    if not wants_extraction(media_type) or not data:
        return ""
    limits = limits or Limits(workers=1)
    job = ExtractJob(
        filename, media_type, data=data, password=password, ocr=ocr, time_budget=ocr_budget(limits)
    )
    for outcome in run_isolated(extract_document, [job], limits):
        if outcome.value is not None and outcome.value.error is None:
            return searchable_text(outcome.value)
    return ""


def attachment_texts(
    attachments: Iterable[tuple[bytes, str, str]],
    *,
    password: str | None = None,
    ocr: OcrOptions | None = None,
    limits: Limits | None = None,
) -> Iterator[str]:
    """Searchable text of many ``(data, media_type, filename)`` attachments, in input order.

    The batched form of :func:`extract_attachment_text`: the sandboxed workers start once and
    read attachments on every core. "" for an attachment with nothing readable.
    """
    budget = ocr_budget(limits)
    jobs = (
        ExtractJob(filename, media_type, data=data, password=password, ocr=ocr, time_budget=budget)
        for data, media_type, filename in attachments
    )
    for outcome in run_isolated(extract_document, jobs, limits):
        value = outcome.value
        wanted = wants_extraction(outcome.job.media_type)
        ok = wanted and value is not None and value.error is None
        yield searchable_text(value) if ok and value is not None else ""
