"""Writing one batch of captures: the inside of :meth:`Archive.ingest`.

A batch is collected first and written with one ``executemany`` per table, inside the caller's
transaction. Item ids are assigned here (the transaction holds the write lock, so nobody else can
take them), which lets every row that points at an item, and the item's custody event, be built
before any of them is written; the custody events are chained in Python in the same order.
Measured, the time goes into SQLite writing the originals' bytes (WAL, then checkpoint), not
into Python: this shape keeps the writer simple, it does not make it faster.

Small originals go in with the batch; originals backed by a file are streamed in at once, so a
large file is never held in memory.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..model import Attachment, Blob, Capture, ImportFailure, ImportProblem, ImportReport, Item
from ..people import normalize_address
from .custody import INSERT_SQL as CUSTODY_INSERT
from .custody import CustodyLog
from .text_index import index_text
from .timeutil import format_utc, offset_minutes

STREAM_CHUNK = 1 << 20
_LOOKUP_CHUNK = 500

_ITEM_INSERT = (
    "INSERT INTO items (id, kind, occurred_at, occurred_offset, acquired_at, direction, sender, "
    "sender_name, recipients, title, body, thread_key, message_id, flags, details, "
    "original_sha256, container_sha256, source_connector, source_container, source_locator, "
    "dedup_key, parse_status, parse_error, import_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ORIGINAL_INSERT = (
    "INSERT OR IGNORE INTO originals (sha256, size, media_type, stored_at, content) "
    "VALUES (?, ?, ?, ?, ?)"
)
_PEOPLE_INSERT = "INSERT INTO item_people (item_id, role, address, domain) VALUES (?, ?, ?, ?)"
_ATTACHMENT_INSERT = (
    "INSERT INTO attachments (item_id, position, original_sha256, filename, media_type, size, "
    "inline, content_id, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_FTS_INSERT = (
    "INSERT INTO items_fts (rowid, title, body, people, attachments) VALUES (?, ?, ?, ?, ?)"
)
_SIGHTING_INSERT = (
    "INSERT OR IGNORE INTO item_sightings "
    "(item_id, connector, container, locator, import_id, seen_at) VALUES (?, ?, ?, ?, ?, ?)"
)
_ERROR_INSERT = (
    "INSERT INTO import_errors (import_id, source, reason, original_sha256) VALUES (?, ?, ?, ?)"
)


# Encoders made once: json.dumps builds a new one on every call with options, and a phone
# backup makes several calls per message.
_LIST_JSON = json.JSONEncoder(ensure_ascii=False).encode
_DETAILS_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str).encode


def _json_list(values: tuple[str, ...]) -> str:
    return _LIST_JSON(list(values)) if values else "[]"


def fts_values(item: Item, attachments: Any) -> tuple[str, str, str, str]:
    """The four indexed columns of an item (title, body, people, attachment names and text)."""
    people = " ".join([item.sender_name, item.sender, *item.recipients])
    attachment_text = " ".join(f"{a.filename} {a.text}" for a in attachments)
    return (
        index_text(item.title),
        index_text(item.body),
        index_text(people),
        index_text(attachment_text),
    )


def store_original(conn: sqlite3.Connection, blob: Blob, stored_at: str) -> bool:
    """Store one original unless it is there already; return True when it was new."""
    if blob.data is not None:
        cur = conn.execute(
            _ORIGINAL_INSERT, (blob.sha256, blob.size, blob.media_type, stored_at, blob.data)
        )
        return cur.rowcount == 1
    if blob.path is None:
        raise ValueError("a Blob needs data or a path")
    cur = conn.execute(
        "INSERT OR IGNORE INTO originals (sha256, size, media_type, stored_at, content) "
        "VALUES (?, ?, ?, ?, zeroblob(?))",
        (blob.sha256, blob.size, blob.media_type, stored_at, blob.size),
    )
    if cur.rowcount != 1:
        return False
    # Large files are streamed into the reserved blob, never read whole into memory.
    with (
        blob.path.open("rb") as src,
        conn.blobopen("originals", "content", int(cur.lastrowid or 0)) as dst,
    ):
        while chunk := src.read(STREAM_CHUNK):
            dst.write(chunk)
    return True


@dataclass
class BatchWriter:
    """Collects one batch (:meth:`add`) and writes it (:meth:`flush`); see the module doc."""

    conn: sqlite3.Connection
    custody: CustodyLog
    report: ImportReport
    now: datetime
    stored_at: str = ""
    originals: dict[str, tuple[str, int, str, str, bytes]] = field(default_factory=dict)
    pending: list[tuple[Capture, str]] = field(default_factory=list)
    errors: list[tuple[int, str, str, str | None]] = field(default_factory=list)
    custody_rows: list[tuple[int, str, str, str, str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stored_at = format_utc(self.now)

    def _fail(self, where: str, reason: str, sha256: str | None) -> None:
        self.errors.append((self.report.import_id, where, reason, sha256))
        self.report.failed += 1
        self.report.errors.append(ImportFailure(where, reason))

    def _keep(self, blob: Blob) -> None:
        if blob.data is None:
            store_original(self.conn, blob, self.stored_at)
        elif blob.sha256 not in self.originals:
            self.originals[blob.sha256] = (
                blob.sha256,
                blob.size,
                blob.media_type,
                self.stored_at,
                blob.data,
            )

    def add(self, capture: Capture | ImportProblem) -> None:
        if isinstance(capture, ImportProblem):
            src = capture.source
            self._fail(f"{src.container} {src.locator}".strip(), capture.reason, None)
            return
        is_container = capture.item is None and capture.parse_error is None
        original = capture.original
        if is_container:
            # A whole export file that its items point into; stored once, acquired once.
            if original is not None and store_original(self.conn, original, self.stored_at):
                self._event(
                    "acquired",
                    f"original:{original.sha256}",
                    {
                        "connector": capture.source.connector,
                        "container": capture.source.container,
                        "sha256": original.sha256,
                        "size": original.size,
                        "import_id": self.report.import_id,
                    },
                )
            return
        sha = original.sha256 if original else None
        dedup_key = capture.dedup_key or (f"sha256:{sha}" if sha else None)
        if dedup_key is None:
            raise ValueError("a capture needs an original or a dedup key")
        if original is not None:
            self._keep(original)
        self.pending.append((capture, dedup_key))

    def _event(self, action: str, subject: str, details: dict[str, Any]) -> None:
        self.custody_rows.append(self.custody.next_row(self.stored_at, action, subject, details))

    def _existing(self) -> dict[str, int]:
        keys = list(dict.fromkeys(key for _, key in self.pending))
        found: dict[str, int] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for key, item_id in self.conn.execute(
                f"SELECT dedup_key, id FROM items WHERE dedup_key IN ({marks})", chunk
            ):
                found[key] = int(item_id)
        return found

    def flush(self) -> list[int]:
        """Write the batch; return the ids of the items it added."""
        conn = self.conn
        import_id = self.report.import_id
        known = self._existing()
        next_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM items").fetchone()[0]) + 1
        items: list[tuple[Any, ...]] = []
        people: list[tuple[int, str, str, str]] = []
        attachments: list[tuple[Any, ...]] = []
        fts: list[tuple[int, str, str, str, str]] = []
        sightings: list[tuple[Any, ...]] = []
        new_ids: list[int] = []
        for capture, dedup_key in self.pending:
            src = capture.source
            if dedup_key in known:
                sightings.append(
                    (
                        known[dedup_key],
                        src.connector,
                        src.container,
                        src.locator,
                        import_id,
                        self.stored_at,
                    )
                )
                self.report.duplicates += 1
                continue
            item_id = next_id
            next_id += 1
            known[dedup_key] = item_id
            new_ids.append(item_id)
            item = capture.item or Item(kind="file", title=f"(unreadable) {src.locator}".strip())
            sha = capture.original.sha256 if capture.original else None
            items.append(self._item_row(item_id, capture, item, dedup_key))
            people.extend(_people_rows(item_id, item))
            for position, attachment in enumerate(capture.attachments):
                self._keep(attachment.blob)
                attachments.append(_attachment_row(item_id, position, attachment))
            fts.append((item_id, *(capture.index or fts_values(item, capture.attachments))))
            sightings.append(
                (item_id, src.connector, src.container, src.locator, import_id, self.stored_at)
            )
            self._event(
                "acquired",
                f"item:{item_id}",
                {
                    "connector": src.connector,
                    "container": src.container,
                    "locator": src.locator,
                    "original_sha256": sha,
                    "container_sha256": capture.container_sha256,
                    "attachments": [a.blob.sha256 for a in capture.attachments],
                    "import_id": import_id,
                },
            )
            if capture.parse_error:
                where = f"{src.container} {src.locator}".strip()
                self._fail(where, f"kept unparsed: {capture.parse_error}", sha)
            else:
                self.report.added += 1
        conn.executemany(_ORIGINAL_INSERT, self.originals.values())
        conn.executemany(_ITEM_INSERT, items)
        conn.executemany(_PEOPLE_INSERT, people)
        conn.executemany(_ATTACHMENT_INSERT, attachments)
        conn.executemany(_FTS_INSERT, fts)
        conn.executemany(_SIGHTING_INSERT, sightings)
        conn.executemany(CUSTODY_INSERT, self.custody_rows)
        conn.executemany(_ERROR_INSERT, self.errors)
        return new_ids

    def _item_row(self, item_id: int, capture: Capture, item: Item, key: str) -> tuple[Any, ...]:
        src = capture.source
        occurred = item.occurred_at
        return (
            item_id,
            item.kind,
            format_utc(occurred) if occurred else None,
            offset_minutes(occurred) if occurred else None,
            self.stored_at,
            item.direction,
            item.sender,
            item.sender_name,
            _json_list(item.recipients),
            item.title,
            item.body,
            item.thread_key,
            item.message_id,
            _json_list(item.flags),
            _DETAILS_JSON(item.details),
            capture.original.sha256 if capture.original else None,
            capture.container_sha256,
            src.connector,
            src.container,
            src.locator,
            key,
            "failed" if capture.parse_error else "ok",
            capture.parse_error,
            self.report.import_id,
        )


def _people_rows(item_id: int, item: Item) -> list[tuple[int, str, str, str]]:
    rows = []
    seen: set[tuple[str, str]] = set()
    for role, raw in [("from", item.sender), *(("to", r) for r in item.recipients)]:
        if not raw:
            continue
        address, domain = normalize_address(raw)
        if (role, address) not in seen:
            seen.add((role, address))
            rows.append((item_id, role, address, domain))
    return rows


def _attachment_row(item_id: int, position: int, attachment: Attachment) -> tuple[Any, ...]:
    return (
        item_id,
        position,
        attachment.blob.sha256,
        attachment.filename,
        attachment.media_type,
        attachment.blob.size,
        int(attachment.inline),
        attachment.content_id,
        attachment.text,
    )
