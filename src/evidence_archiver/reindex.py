"""Re-extract text from originals already in the archive (``evidence reindex``).

Two kinds of material get text after the fact:

* **attachments** stored with empty text: an email's PDF attachment archived before the PDF
  extractor existed, or an attachment whose extraction failed. Their text is filled with
  :meth:`Archive.set_attachment_text`, which re-indexes the item, so the email is found by
  what its PDF says;
* **documents and images whose text is missing**: a PDF archived without its password, or a
  scanned page / screenshot archived before Tesseract was installed. They are read again from
  the original and their derived body and details replaced (:meth:`Archive.set_derived_text`),
  only when the new reading is better than the old one.

Extraction runs in the same sandboxed workers as an import (both cores, time and memory
limits), and nothing about an original ever changes. Running it twice does no more work than
what is still missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .archive import Archive
from .archive.records import ItemRecord
from .extract.documents import Extracted, ExtractJob, extract_many, is_pdf, ocr_budget
from .extract.ocr import OcrOptions
from .extract.pdf import is_encrypted_reason
from .extract.sandbox import Limits
from .people import phone_key

DEFAULT_OCR = OcrOptions()
# A recorder app names the file when recording starts; the call log stamps the call's start.
# Without the call's duration, a recording this close to its start is taken to be of it.
RECORDING_MATCH_WINDOW = timedelta(minutes=3)
# The phone's recorder and its call log may disagree by a few seconds.
CLOCK_SKEW = timedelta(seconds=15)


@dataclass
class ReindexReport:
    """What a reindex run did. ``as_json()`` gives the counts and the failures."""

    attachments_updated: int = 0
    documents_updated: int = 0
    unchanged: int = 0
    recordings_linked: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "attachments_updated": self.attachments_updated,
            "documents_updated": self.documents_updated,
            "unchanged": self.unchanged,
            "recordings_linked": self.recordings_linked,
            "failed": len(self.failures),
            "errors": [{"source": s, "reason": r} for s, r in self.failures],
        }


def _attachment_wanted(media_type: str, ocr: OcrOptions | None) -> bool:
    media_type = media_type.lower()
    return is_pdf(media_type) or (ocr is not None and media_type.startswith("image/"))


def _needs_rereading(record: ItemRecord, ocr: OcrOptions | None, encrypted_only: bool) -> bool:
    """A document or image whose text is missing and that a new reading may recover."""
    if not record.original_sha256:
        return False
    if encrypted_only:
        return is_encrypted_reason(record.parse_error)
    details = record.details
    if record.kind == "document" and details.get("text_missing"):
        return True
    status = (details.get("ocr") or {}).get("status")
    return ocr is not None and status in ("unavailable", "skipped", "failed", "partial")


def _better(old: ItemRecord, new: Extracted) -> bool:
    if new.error:
        return False
    if old.parse_error:
        return True
    return (new.details.get("ocr") or {}).get("status") == "done"


def reindex(
    archive: Archive,
    *,
    password: str | None = None,
    ocr: OcrOptions | None = DEFAULT_OCR,
    limits: Limits | None = None,
    progress: Callable[[int], None] | None = None,
    encrypted_only: bool = False,
) -> ReindexReport:
    """Fill in missing text of attachments, documents and images; return what changed.

    ``encrypted_only`` re-reads only documents refused as encrypted (what ``import pdf`` does
    when given a password, for PDFs that were archived before without one).
    """
    report = ReindexReport()
    budget = ocr_budget(limits)
    attachments = [
        (item_id, a)
        for item_id, a in archive.attachments_without_text()
        if _attachment_wanted(a.media_type, ocr) and not encrypted_only
    ]

    def attachment_jobs() -> Iterator[ExtractJob]:
        for _, a in attachments:
            yield ExtractJob(
                a.filename or "attachment",
                a.media_type,
                data=archive.read_original(a.sha256),
                password=password,
                ocr=ocr,
                time_budget=budget,
            )

    for (item_id, a), outcome in zip(
        attachments, extract_many(attachment_jobs(), limits), strict=True
    ):
        where = f"item {item_id} attachment {a.filename or a.id}"
        value = outcome.value
        if value is None or value.error:
            report.failures.append((where, outcome.failure or (value and value.error) or "?"))
        elif value.body.strip():
            archive.set_attachment_text(a.id, value.body)
            report.attachments_updated += 1
        else:
            report.unchanged += 1
        if progress:
            progress(1)

    records = [
        r
        for kind in ("document", "file")
        for r in archive.timeline(kind=kind)
        if _needs_rereading(r, ocr, encrypted_only)
    ]

    def document_jobs() -> Iterator[ExtractJob]:
        for r in records:
            file_info = r.details.get("file") or {}
            yield ExtractJob(
                str(file_info.get("name") or r.title or "document"),
                str(file_info.get("media_type") or "application/pdf"),
                data=archive.read_original(r.original_sha256 or ""),
                password=password,
                ocr=ocr,
                time_budget=budget,
            )

    for record, outcome in zip(records, extract_many(document_jobs(), limits), strict=True):
        where = f"item {record.id} ({record.title})"
        value = outcome.value
        if value is None:
            report.failures.append((where, outcome.failure or "?"))
        elif _better(record, value):
            details = {"file": record.details.get("file", {}), **value.details}
            archive.set_derived_text(record.id, body=value.body, details=details, parse_error=None)
            report.documents_updated += 1
        else:
            if value.error:
                report.failures.append((where, value.error))
            else:
                report.unchanged += 1
        if progress:
            progress(1)
    if not encrypted_only:
        report.recordings_linked = link_recordings(archive)
    return report


def _party_key(record: ItemRecord) -> str:
    """The comparison key of an item's phone counterparty (see :func:`people.phone_key`)."""
    party = record.sender or (record.recipients[0] if record.recipients else "")
    if party:
        return phone_key(party)
    if record.thread_key and record.thread_key.startswith("phone:"):
        return phone_key(record.thread_key[len("phone:") :])
    return ""


def _call_window(call: ItemRecord) -> tuple[datetime, datetime, float | None]:
    """When a call's recording may have started, and the call's duration when known."""
    assert call.occurred_at is not None
    duration = call.details.get("duration_s")
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        return (
            call.occurred_at - RECORDING_MATCH_WINDOW,
            call.occurred_at + RECORDING_MATCH_WINDOW,
            None,
        )
    end = call.occurred_at + timedelta(seconds=float(duration))
    return call.occurred_at - CLOCK_SKEW, end + CLOCK_SKEW, float(duration)


def _best_call(
    record: ItemRecord, hint: dict[str, Any], calls: list[ItemRecord]
) -> ItemRecord | None:
    """The call whose time span holds the recording's start, the closest when several do."""
    resolution = timedelta(seconds=int(hint.get("resolution_seconds") or 1))
    if record.occurred_at is not None:
        start: datetime = record.occurred_at
        aware = True
    else:
        try:
            start = datetime.fromisoformat(str(hint.get("local_time")))
        except ValueError:
            return None
        aware = False
    audio = (record.details.get("audio") or {}).get("duration_seconds")
    best: tuple[float, ItemRecord] | None = None
    for call in calls:
        window_start, window_end, duration = _call_window(call)
        call_start = call.occurred_at
        assert call_start is not None
        if not aware:
            # A name without a zone is compared with the call's time on the phone's clock.
            window_start, window_end, call_start = (
                t.replace(tzinfo=None) for t in (window_start, window_end, call_start)
            )
        if start + resolution <= window_start or start > window_end:
            continue
        score = abs((start - call_start).total_seconds())
        if duration is not None and isinstance(audio, int | float):
            score += abs(float(audio) - duration)
        if best is None or score < best[0]:
            best = (score, call)
    return best[1] if best else None


def link_recordings(archive: Archive) -> int:
    """Match call recordings with call-log entries; return how many were newly matched.

    A recording whose file name gave a number and a start time (see
    :mod:`~evidence_archiver.extract.recordings`) matches a call with the same number
    (95555 and +8695555 alike) whose time span holds that start: from ``CLOCK_SKEW`` before
    the call began to ``CLOCK_SKEW`` after it ended (its start plus its duration); a call whose
    duration the log does not give spans three minutes either side of its start. A start read
    in the phone's zone is compared as an instant; a generic name's wall-clock time with the
    call's time on the phone's clock. When several calls match, the one that began closest to
    the recording wins, the audio's duration breaking ties. The match is stored in the
    recording's details as ``recording.call_item_id`` (derived data: the original is untouched);
    an unmatched recording stays an item of its own with its number and time.
    """
    calls: dict[str, list[ItemRecord]] = {}
    for call in archive.timeline(kind="call"):
        key = _party_key(call)
        if key and call.occurred_at is not None:
            calls.setdefault(key, []).append(call)
    matched = 0
    for record in archive.timeline(kind="file"):
        hint = record.details.get("recording") or {}
        if "call_item_id" in hint or not hint.get("number"):
            continue
        if record.occurred_at is None and not hint.get("local_time"):
            continue
        best = _best_call(record, hint, calls.get(phone_key(str(hint["number"])), []))
        if best is None:
            continue
        details = dict(record.details)
        details["recording"] = {**hint, "call_item_id": best.id}
        archive.set_derived_text(
            record.id, body=record.body, details=details, parse_error=record.parse_error
        )
        matched += 1
    return matched
