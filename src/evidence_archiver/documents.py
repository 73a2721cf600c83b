"""Library entry points for documents: ``evidence import pdf`` and ``evidence import file``.

Each composes a connector (:mod:`.connectors.pdf`, :mod:`.connectors.files`), the sandboxed
extraction workers and :meth:`Archive.ingest`, and returns the :class:`ImportReport`:

    >>> import_pdfs(archive, [Path("fixtures/documents")])      # doctest: +SKIP
    ImportReport(import_id=3, added=2, duplicates=0, failed=0, ...)

Documents are written in small batches (each a transaction): one PDF can take a second to
read, and a kill half way should lose little work. Progress advances per document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from .archive import Archive
from .connectors.files import CONNECTOR as FILES_CONNECTOR
from .connectors.files import DEFAULT_OCR, file_captures, find_files
from .connectors.pdf import CONNECTOR as PDF_CONNECTOR
from .connectors.pdf import PDF_SUFFIXES, pdf_captures
from .extract.ocr import OcrOptions
from .extract.sandbox import Limits
from .model import Capture, ImportProblem, ImportReport
from .reindex import link_recordings

Progress = Callable[[int], None]
BATCH_SIZE = 25


def archive_files(archive: Archive) -> frozenset[Path]:
    """The archive's own database files, never to be imported into itself."""
    base = archive.path.resolve()
    return frozenset(
        base.with_name(base.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")
    )


def count_documents(paths: Iterable[Path], *, pdf_only: bool) -> int:
    """How many files an import will read (for a progress bar)."""
    return sum(1 for _ in find_files(paths, PDF_SUFFIXES if pdf_only else ()))


def _counted(
    captures: Iterable[Capture | ImportProblem], progress: Progress | None
) -> Iterator[Capture | ImportProblem]:
    for capture in captures:
        yield capture
        if progress:
            progress(1)


def import_pdfs(
    archive: Archive,
    paths: Sequence[Path],
    *,
    password: str | None = None,
    ocr: OcrOptions | None = DEFAULT_OCR,
    limits: Limits | None = None,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import PDF files and folders of them (``*.pdf`` inside folders)."""
    captures = pdf_captures(
        paths, password=password, ocr=ocr, limits=limits, skip=archive_files(archive)
    )
    return archive.ingest(
        _counted(captures, progress),
        connector=PDF_CONNECTOR,
        container=", ".join(str(p) for p in paths),
        batch_size=batch_size,
    )


def import_files(
    archive: Archive,
    paths: Sequence[Path],
    *,
    password: str | None = None,
    ocr: OcrOptions | None = DEFAULT_OCR,
    limits: Limits | None = None,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    zone: str | None = None,
    region: str | None = None,
) -> ImportReport:
    """Import any files (photos, screenshots, recordings, PDFs…) and folders of them.

    Call recordings are then matched with the call-log entries already archived
    (:func:`~evidence_archiver.reindex.link_recordings`). ``zone`` and ``region`` say how to
    read the times and numbers in recordings' names (see
    :func:`~evidence_archiver.connectors.files.file_captures`).
    """
    captures = file_captures(
        paths,
        password=password,
        ocr=ocr,
        limits=limits,
        skip=archive_files(archive),
        zone=zone,
        region=region,
    )
    report = archive.ingest(
        _counted(captures, progress),
        connector=FILES_CONNECTOR,
        container=", ".join(str(p) for p in paths),
        batch_size=batch_size,
    )
    if report.added:
        link_recordings(archive)
    return report
