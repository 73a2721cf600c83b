"""Library entry points for imports: read a source with its connector, parse, ingest.

These compose a connector's reader, the parser pool and :meth:`Archive.ingest`, so the CLI,
the demo and tests all import the same way. Each returns the :class:`ImportReport`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from .archive import Archive
from .connectors import email as email_connector
from .model import Capture, ImportProblem, ImportReport

Progress = Callable[[int], None]


def _with_maildir_flags(
    captures: Iterable[Capture | ImportProblem],
) -> Iterator[Capture | ImportProblem]:
    for capture in captures:
        if isinstance(capture, Capture) and capture.item is not None:
            flags = email_connector.maildir_flags(capture.source.locator)
            if flags:
                capture = replace(
                    capture, item=replace(capture.item, flags=capture.item.flags + flags)
                )
        yield capture


def import_eml(
    archive: Archive,
    paths: Sequence[Path],
    *,
    progress: Progress | None = None,
    workers: int | None = None,
    batch_size: int = 500,
) -> ImportReport:
    """Import ``.eml`` files and folders of them (each file is one message)."""
    container = ", ".join(str(p) for p in paths)
    return archive.ingest(
        email_connector.parse_many(
            email_connector.read_eml(paths, skip=email_connector.archive_files(archive.path)),
            workers=workers,
        ),
        connector="eml",
        container=container,
        batch_size=batch_size,
        progress=progress,
    )


def import_mbox(
    archive: Archive,
    path: Path,
    *,
    progress: Progress | None = None,
    workers: int | None = None,
    batch_size: int = 500,
) -> ImportReport:
    """Import every message of an mbox file (mboxo or mboxrd)."""
    return archive.ingest(
        email_connector.parse_many(email_connector.read_mbox(path), workers=workers),
        connector="mbox",
        container=str(path),
        batch_size=batch_size,
        progress=progress,
    )


def import_maildir(
    archive: Archive,
    root: Path,
    *,
    progress: Progress | None = None,
    workers: int | None = None,
    batch_size: int = 500,
) -> ImportReport:
    """Import a maildir tree, keeping the flags its file names carry (seen, replied…)."""
    captures = email_connector.parse_many(
        email_connector.read_maildir(root, skip=email_connector.archive_files(archive.path)),
        workers=workers,
    )
    return archive.ingest(
        _with_maildir_flags(captures),
        connector="maildir",
        container=str(root),
        batch_size=batch_size,
        progress=progress,
    )
