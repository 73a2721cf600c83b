"""Plain data shared by every layer.

A connector turns a source into a stream of :class:`Capture` (or :class:`ImportProblem` when a
piece of the source cannot even be read). :meth:`evidence_archiver.archive.Archive.ingest` is the
only door into storage. Everything here is frozen: once a capture is made, nothing downstream can
quietly change what was acquired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

#: What a recorded fact can be (``evidence fact add --kind``).
FACT_KINDS = ("promise", "demand", "payment", "breach", "other")

ItemKind = Literal["email", "sms", "mms", "call", "chat", "document", "file"]
Direction = Literal["in", "out", "unknown"]


@dataclass(frozen=True)
class Blob:
    """The bytes of an original: either in memory or a file that is streamed when stored.

    ``sha256`` and ``size`` are computed by whoever made the blob (see ``hashing.blob_from_*``),
    so that a worker process can hash while the archive writer only writes.
    """

    sha256: str
    size: int
    media_type: str
    data: bytes | None = None
    path: Path | None = None


@dataclass(frozen=True)
class Attachment:
    """A part of an item kept as an original of its own (an email attachment, an MMS picture).

    ``filename`` is a safe display name, never a path taken from the sender; ``text`` is any
    searchable text extracted from it (empty until an extractor knows the media type).
    """

    blob: Blob
    filename: str
    media_type: str
    inline: bool = False
    content_id: str | None = None
    text: str = ""


@dataclass(frozen=True)
class Item:
    """The parsed, searchable view of one message, call or document.

    ``occurred_at`` is timezone-aware when known and ``None`` when the source gives no time
    (nothing is invented; the acquisition time is recorded separately by the archive).
    """

    kind: ItemKind
    occurred_at: datetime | None = None
    direction: Direction = "unknown"
    sender: str = ""
    sender_name: str = ""
    recipients: tuple[str, ...] = ()
    title: str = ""
    body: str = ""
    thread_key: str | None = None
    message_id: str | None = None
    flags: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceRef:
    """Where a capture came from: the connector, the container (file, mailbox) and the place in it.

    ``locator`` is what a person needs to find the original again, e.g. ``mbox byte 18342`` or
    ``cur/1700000000.M1P2.host:2,S``.
    """

    connector: str
    container: str
    locator: str = ""


@dataclass(frozen=True)
class Capture:
    """What a connector yields: an original, how it parsed, and where it came from.

    ``original`` is the exact acquired bytes. When the original is a whole export file shared by
    many items (an SMS backup), the connector yields the file once as a capture with
    ``item=None`` and then one capture per message with ``original=None``,
    ``container_sha256`` naming that file and ``dedup_key`` a natural key of the message.
    ``parse_error`` set means the original is kept but could not be understood.
    """

    source: SourceRef
    original: Blob | None
    item: Item | None
    attachments: tuple[Attachment, ...] = ()
    parse_error: str | None = None
    dedup_key: str | None = None
    container_sha256: str | None = None


@dataclass(frozen=True)
class ImportProblem:
    """A piece of a source that could not be read at all (no original to keep)."""

    source: SourceRef
    reason: str


@dataclass(frozen=True)
class ImportFailure:
    """One line of an import report: what failed and why, in words a person can act on."""

    source: str
    reason: str


@dataclass
class ImportReport:
    """The outcome of one :meth:`Archive.ingest` run.

    ``as_json()`` gives ``{"added": N, "duplicates": N, "failed": N, "errors": [...]}``.
    """

    import_id: int
    added: int = 0
    duplicates: int = 0
    failed: int = 0
    linked: int = 0
    errors: list[ImportFailure] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "added": self.added,
            "duplicates": self.duplicates,
            "failed": self.failed,
            "linked": self.linked,
            "errors": [{"source": e.source, "reason": e.reason} for e in self.errors],
        }


@dataclass(frozen=True)
class Case:
    id: int
    slug: str
    title: str
    created_at: datetime
    description: str = ""


@dataclass(frozen=True)
class CaseRule:
    kind: Literal["address", "domain", "phone", "keyword"]
    value: str


@dataclass(frozen=True)
class CustodyEvent:
    """One row of the hash-chained custody log."""

    seq: int
    at: datetime
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str
