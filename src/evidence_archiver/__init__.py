"""evidence-archiver: one local, searchable, tamper-evident archive of a dispute with a lender."""

from __future__ import annotations

from .archive import Archive
from .errors import ArchiveError, EvidenceError, NotFound, SourceError, UsageError

__version__ = "0.1.0"

__all__ = ["Archive", "ArchiveError", "EvidenceError", "NotFound", "SourceError", "UsageError"]
