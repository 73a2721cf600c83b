"""What the archive hands back when it is read: items with everything known about them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..model import SourceRef


@dataclass(frozen=True)
class AttachmentRecord:
    id: int
    position: int
    sha256: str
    filename: str
    media_type: str
    size: int
    inline: bool
    content_id: str | None
    text: str


@dataclass(frozen=True)
class NoteRecord:
    id: int
    at: datetime
    text: str


@dataclass(frozen=True)
class Sighting:
    """One place an item was found (the same message may be in several folders or files)."""

    connector: str
    container: str
    locator: str
    seen_at: datetime


@dataclass(frozen=True)
class ItemRecord:
    """One archived item. ``occurred_at`` is in the offset the source wrote it with."""

    id: int
    kind: str
    occurred_at: datetime | None
    acquired_at: datetime
    direction: str
    sender: str
    sender_name: str
    recipients: tuple[str, ...]
    title: str
    body: str
    thread_key: str | None
    message_id: str | None
    flags: tuple[str, ...]
    details: dict[str, Any]
    original_sha256: str | None
    container_sha256: str | None
    source: SourceRef
    parse_status: str
    parse_error: str | None
    attachments: tuple[AttachmentRecord, ...] = ()
    tags: tuple[str, ...] = ()
    notes: tuple[NoteRecord, ...] = ()
    cases: tuple[str, ...] = ()
    sightings: tuple[Sighting, ...] = field(default=())


@dataclass(frozen=True)
class OriginalInfo:
    sha256: str
    size: int
    media_type: str
    stored_at: datetime


@dataclass(frozen=True)
class SearchHit:
    """One search result; ``snippet`` marks matched words with ``**``."""

    id: int
    kind: str
    occurred_at: datetime | None
    title: str
    sender: str
    snippet: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
            "title": self.title,
            "sender": self.sender,
            "snippet": self.snippet,
        }


@dataclass(frozen=True)
class ImportRun:
    id: int
    connector: str
    container: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    added: int
    duplicates: int
    failed: int


@dataclass(frozen=True)
class ImportSource:
    """One source over all its import runs: how many runs, and what they added in total."""

    connector: str
    container: str
    runs: int
    added: int
    duplicates: int
    failed: int
    last: datetime


@dataclass(frozen=True)
class ImportFailureRecord:
    import_id: int
    source: str
    reason: str
    original_sha256: str | None


@dataclass(frozen=True)
class CaseSummary:
    slug: str
    title: str
    description: str
    created_at: datetime
    rules: tuple[tuple[str, str], ...]
    items: int
    first: datetime | None
    last: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "rules": [{"kind": k, "value": v} for k, v in self.rules],
            "items": self.items,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
        }
