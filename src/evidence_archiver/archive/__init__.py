"""Storage: the Archive object and everything that lives in the SQLite file."""

from __future__ import annotations

from .custody import ChainBreak
from .facts import Conflict, FactFields, FactRecord, Suggestion
from .records import CaseSummary, ItemRecord, SearchHit
from .store import Archive, default_archive_path

__all__ = [
    "Conflict",
    "FactFields",
    "FactRecord",
    "Suggestion",
    "Archive",
    "CaseSummary",
    "ChainBreak",
    "ItemRecord",
    "SearchHit",
    "default_archive_path",
]
