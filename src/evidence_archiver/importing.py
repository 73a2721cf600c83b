"""Library entry points for imports: read a source with its connector, parse, ingest.

These compose a connector's reader, the parser pool and :meth:`Archive.ingest`, so the CLI,
the demo and tests all import the same way. Each returns the :class:`ImportReport`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from .archive import Archive
from .connectors import email as email_connector
from .model import ImportReport

Progress = Callable[[int], None]


def read_pdf_attachments(archive: Archive, import_id: int) -> int:
    """Give the PDF attachments an e-mail import added their text, with the PDF extractor (in
    its sandboxed workers); return how many got text. Others wait for ``evidence reindex``."""
    # Readers accept the header anywhere in the first KiB; without it, it is no PDF. Checked
    # first, inside SQLite, so that no extractor workers start for a mailbox without real PDFs.
    chosen = [
        a
        for _, a in archive.attachments_without_text(import_id=import_id, header=b"%PDF")
        if a.media_type == "application/pdf" or a.filename.lower().endswith(".pdf")
    ]
    if not chosen:
        return 0
    # The PDF extractor is loaded only for a mailbox that has PDFs.
    from .extract.documents import attachment_texts

    # Read lazily: the extractor takes a few at a time, so a mailbox full of large PDFs is
    # never held in memory at once.
    jobs = ((archive.read_original(a.sha256), "application/pdf", a.filename) for a in chosen)
    filled = 0
    for attachment, text in zip(chosen, attachment_texts(jobs), strict=True):
        if text.strip():
            archive.set_attachment_text(attachment.id, text)
            filled += 1
    return filled


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
    report = archive.ingest(
        email_connector.prepare_many(
            email_connector.read_eml(paths, skip=email_connector.archive_files(archive.path)),
            workers=workers,
        ),
        connector="eml",
        container=container,
        batch_size=batch_size,
        progress=progress,
    )
    read_pdf_attachments(archive, report.import_id)
    return report


def import_mbox(
    archive: Archive,
    path: Path,
    *,
    progress: Progress | None = None,
    workers: int | None = None,
    batch_size: int = 500,
) -> ImportReport:
    """Import every message of an mbox file (mboxo or mboxrd)."""
    try:
        size: int | None = path.stat().st_size
    except OSError:
        size = None  # read_mbox reports why
    report = archive.ingest(
        email_connector.prepare_many(
            email_connector.read_mbox(path),
            workers=email_connector.workers_for(size, workers),
        ),
        connector="mbox",
        container=str(path),
        batch_size=batch_size,
        progress=progress,
    )
    read_pdf_attachments(archive, report.import_id)
    return report


def import_maildir(
    archive: Archive,
    root: Path,
    *,
    progress: Progress | None = None,
    workers: int | None = None,
    batch_size: int = 500,
) -> ImportReport:
    """Import a maildir tree, keeping the flags its file names carry (seen, replied…)."""
    captures = email_connector.prepare_many(
        email_connector.read_maildir(root, skip=email_connector.archive_files(archive.path)),
        workers=workers,
        amend=email_connector.with_maildir_flags,
    )
    report = archive.ingest(
        captures,
        connector="maildir",
        container=str(root),
        batch_size=batch_size,
        progress=progress,
    )
    read_pdf_attachments(archive, report.import_id)
    return report
