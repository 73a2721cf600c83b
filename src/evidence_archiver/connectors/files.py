"""Files on disk (photos, screenshots, recordings, anything) as Captures.

``evidence import file FILE|DIR…`` ends here; ``evidence import pdf`` uses the same machinery
through :mod:`.pdf`. For each file, in order:

1. the parent process hashes it (streamed, never read whole) and sniffs its media type from
   its first bytes (:func:`~evidence_archiver.extract.files.sniff_media_type`);
2. a sandboxed worker reads what it can (:func:`~evidence_archiver.extract.documents.
   extract_document`): PDF text and tables, image EXIF and OCR, audio duration; two workers
   run at once on two cores, and a file that hangs, crashes or exhausts memory is reported
   with the reason while the rest go on;
3. the file becomes one Capture: the original byte for byte, an Item (``kind="document"`` for
   a PDF, ``"file"`` otherwise) and, for a file that could not be read, ``parse_error``: the
   original is archived all the same, with its text marked missing.

A call recording's path is read here, in the parent, where its folders are known
(:func:`~evidence_archiver.extract.recordings.parse_recording_name`: MIUI, EMUI/HarmonyOS,
ColorOS and vivo layouts, and the generic "number + time" names): the number becomes the
item's counterparty (``sender``, the contact's name its ``sender_name``), so case rules on the
number link it, and the start time read in the phone's ``zone`` its ``occurred_at``. A name that
looks like a layout but holds an impossible date keeps its number and gets the reason as
``parse_error``; so does a recording whose audio is damaged (the original is kept either way).

Nothing here writes to the archive; the caller passes the captures to ``Archive.ingest``.
Deduplication is by SHA-256, so importing a folder twice adds nothing.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import SourceError
from ..extract.documents import Extracted, ExtractJob, extract_many, ocr_budget
from ..extract.files import sniff_media_type
from ..extract.ocr import OcrOptions
from ..extract.recordings import CHINA_ZONE, parse_recording_name
from ..extract.sandbox import Limits
from ..hashing import blob_from_file
from ..i18n import _
from ..model import Blob, Capture, ImportProblem, Item, ItemKind, SourceRef
from .sms.common import thread_key

CONNECTOR = "files"
DEFAULT_OCR = OcrOptions()
UNKNOWN_TYPES = ("application/octet-stream", "text/plain")
SNIFF_BYTES = 8192
#: Extensions of call recordings, read for a number and time even when the content is damaged.
RECORDING_SUFFIXES = (".mp3", ".m4a", ".amr", ".aac", ".wav", ".3gp", ".3gpp", ".awb", ".ogg")


@dataclass(frozen=True)
class RecordingOptions:
    """How recordings' names are read: the phone's ``zone`` and ``region`` (see
    :func:`file_captures`)."""

    zone: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class FoundFile:
    """A file to import and how to name where it came from; ``problem`` when unreadable."""

    path: Path
    container: str
    locator: str
    problem: str | None = None


def _walk(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Files under ``root`` in a stable order (hidden entries skipped), and unreadable folders."""
    errors: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=errors.append):
        while errors:
            error = errors.pop(0)
            yield (
                Path(error.filename or dirpath),
                _("cannot read the folder: {reason}").format(reason=error.strerror),
            )
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name, None
    for error in errors:
        yield (
            Path(error.filename or root),
            _("cannot read the folder: {reason}").format(reason=error.strerror),
        )


def find_files(
    paths: Iterable[Path], suffixes: tuple[str, ...] = (), skip: frozenset[Path] = frozenset()
) -> Iterator[FoundFile]:
    """Expand directories (recursively, sorted, hidden entries skipped) into files.

    A file named explicitly is always taken; inside a directory only names ending in one of
    ``suffixes`` (case-insensitive) are, when suffixes are given. Files in ``skip`` (resolved
    paths: the archive's own database files) are never taken. A folder that cannot be read
    comes back with ``problem`` set, and the walk goes on.
    """
    for given in paths:
        path = Path(given).expanduser()
        if path.resolve() in skip:
            continue
        if path.is_file():
            # Named on its own: the folder is the container, the name the locator.
            yield FoundFile(path, str(path.parent), path.name)
        elif path.is_dir():
            for child, problem in _walk(path):
                rel = child.relative_to(path).as_posix() if child != path else "."
                if problem:
                    yield FoundFile(child, str(path), rel, problem)
                    continue
                if suffixes and not child.name.lower().endswith(suffixes):
                    continue
                if not child.is_file() or (skip and child.resolve() in skip):
                    continue
                yield FoundFile(child, str(path), rel)
        else:
            raise SourceError(
                _("{path} does not exist (or is not a file or a folder)").format(path=path)
            )


def _file_times(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"modified": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat()}


def _recording(
    found: FoundFile, media_type: str, options: RecordingOptions
) -> tuple[dict[str, Any], Item | None, str | None]:
    """``(details["recording"], a template Item with the party and time, problem)``."""
    if not (
        media_type.startswith("audio/") or found.path.name.lower().endswith(RECORDING_SUFFIXES)
    ):
        return {}, None, None
    name = parse_recording_name(str(found.path), region=options.region)
    if name is None:
        return {}, None, None
    # Chinese phones' names are in the phone's zone, China's unless told; a generic
    # recorder's name says nothing of its zone, so it gets an instant only when told one.
    zone = options.zone or (CHINA_ZONE if name.system != "generic" else None)
    who = f"{name.contact} ({name.number})" if name.contact and name.number else ""
    template = Item(
        kind="file",
        title=f"Call recording with {who or name.contact or name.number}"
        if (name.contact or name.number)
        else "",
        occurred_at=name.started(zone),
        sender=name.number,
        sender_name=name.contact,
        thread_key=thread_key(name.number) if name.number else None,
    )
    problem = name.problem
    if not media_type.startswith(("audio/", "video/")):
        # Named like a recording, but the bytes are not sound (a .m4a may sniff as video/mp4).
        content = _("not a readable audio file: its content is {media_type}, not sound").format(
            media_type=media_type
        )
        if problem:
            content = _("{first}; {second}").format(first=content, second=problem)
        problem = content
    return name.hint(zone), template, problem


def _capture(
    found: FoundFile,
    blob: Blob,
    connector: str,
    extracted: Extracted | None,
    failure: str | None,
    file_info: dict[str, Any],
    recordings: RecordingOptions,
) -> Capture:
    source = SourceRef(connector, found.container, found.locator)
    kind: ItemKind = "document" if blob.media_type == "application/pdf" else "file"
    hint, party, name_problem = _recording(found, blob.media_type, recordings)
    party = party or Item(kind=kind)
    if extracted is None:
        # The worker hung, crashed or ran out of memory: keep the original, say why.
        details: dict[str, Any] = {"file": file_info, "error": failure, "text_missing": True}
        if hint:
            details["recording"] = hint
        item = Item(
            kind=kind,
            occurred_at=party.occurred_at,
            sender=party.sender,
            sender_name=party.sender_name,
            title=party.title or found.path.name,
            thread_key=party.thread_key,
            details=details,
        )
        return Capture(source, blob, item, parse_error=failure)
    details = {"file": file_info, **extracted.details}
    if hint:
        details["recording"] = hint
    item = Item(
        kind=extracted.kind,
        occurred_at=extracted.occurred_at or party.occurred_at,
        sender=party.sender,
        sender_name=party.sender_name,
        title=party.title or extracted.title or found.path.name,
        body=extracted.body,
        # A call recording joins the conversation with its number, as calls and texts do.
        thread_key=party.thread_key,
        details=details,
    )
    problems = [p for p in (extracted.error, name_problem) if p]
    return Capture(source, blob, item, parse_error="; ".join(problems) or None)


def file_captures(
    paths: Iterable[Path],
    *,
    connector: str = CONNECTOR,
    suffixes: tuple[str, ...] = (),
    password: str | None = None,
    ocr: OcrOptions | None = DEFAULT_OCR,
    limits: Limits | None = None,
    assume_media_type: str | None = None,
    skip: frozenset[Path] = frozenset(),
    zone: str | None = None,
    region: str | None = None,
) -> Iterator[Capture | ImportProblem]:
    """One Capture per file under ``paths``, read in sandboxed parallel workers.

    ``ocr`` (default: ``chi_sim+eng``) is used for scanned PDF pages and images; pass
    ``ocr=None`` to skip OCR. ``password`` opens encrypted PDFs. ``assume_media_type`` is
    used when the content matches no known type (``import pdf`` assumes a PDF, so a damaged
    one is reported as "not a readable PDF" rather than stored as unknown bytes). ``skip``
    names files never to import (the archive's own database when it sits in a given folder).
    ``zone`` (an IANA name) is where the phone's clock ran when it named its call recordings
    (default ``Asia/Shanghai`` for Chinese phones' names, none for other names); ``region``
    reads numbers written without a country code in them (default ``CN`` for Chinese phones).
    """
    recordings = RecordingOptions(zone=zone, region=region)
    ocr_options = ocr
    budget = ocr_budget(limits)
    paths = [Path(p).expanduser() for p in paths]
    for path in paths:
        if not path.exists():
            raise SourceError(
                _("{path} does not exist: check the path and try again").format(path=path)
            )
    pending: deque[tuple[FoundFile, Blob, dict[str, Any]]] = deque()
    problems: list[ImportProblem] = []

    def jobs() -> Iterator[ExtractJob]:
        for found in find_files(paths, suffixes, skip):
            if found.problem:
                problems.append(
                    ImportProblem(
                        SourceRef(connector, found.container, found.locator), found.problem
                    )
                )
                continue
            try:
                with found.path.open("rb") as f:
                    head = f.read(SNIFF_BYTES)
                media_type = sniff_media_type(head, found.path.name)
                if assume_media_type and media_type in UNKNOWN_TYPES:
                    media_type = assume_media_type
                blob = blob_from_file(found.path, media_type)
                info = {"name": found.path.name, "size": blob.size, **_file_times(found.path)}
            except OSError as exc:
                problems.append(
                    ImportProblem(
                        SourceRef(connector, found.container, found.locator),
                        _("cannot read the file: {value}").format(value=exc.strerror or exc),
                    )
                )
                continue
            pending.append((found, blob, {"media_type": media_type, **info}))
            yield ExtractJob(
                found.path.name,
                media_type,
                path=found.path,
                password=password,
                ocr=ocr_options,
                time_budget=budget,
            )

    for outcome in extract_many(jobs(), limits):
        # Problems met while listing come out as soon as they are known.
        while problems:
            yield problems.pop(0)
        found, blob, info = pending.popleft()
        yield _capture(found, blob, connector, outcome.value, outcome.failure, info, recordings)
    yield from problems
