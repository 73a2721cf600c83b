"""Writing one batch of captures: the inside of :meth:`Archive.ingest`.

A batch is collected first and written with one ``executemany`` per table, inside the caller's
transaction. Item ids are assigned here (the transaction holds the write lock, so nobody else can
take them), which lets every row that points at an item, and the item's custody event, be built
before any of them is written; the custody events are chained in Python in the same order.
Measured, the time goes into SQLite writing the originals' bytes (WAL, then checkpoint), not
into Python: this shape keeps the writer simple, it does not make it faster.

Small originals go in with the batch; originals backed by a file are streamed in at once, so a
large file is never held in memory.

Everything about a capture's rows that does not depend on the archive (the item's columns as
text, its people, its index text) is made by :func:`prepare`. A reader running in another
process (a parser worker, a phone reader) calls it there and sends the
:class:`PreparedCapture`, a plain tuple that crosses a pipe far more cheaply than the capture's
objects; the writer then only numbers the rows, chains their custody events and inserts them.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from ..errors import NotFound, SourceError
from ..i18n import _
from ..model import Attachment, Blob, Capture, ImportFailure, ImportProblem, ImportReport, Item
from ..people import normalize_address, phone_variants
from .custody import INSERT_SQL as CUSTODY_INSERT
from .custody import CustodyLog
from .text_index import index_text
from .timeutil import format_utc, offset_minutes

#: The size of the parts a file-backed original is kept in.
PART_SIZE = 1 << 20
_LOOKUP_CHUNK = 500

# The columns after the first seven are PreparedCapture.row, in this order.
_ITEM_INSERT = (
    "INSERT INTO items (id, acquired_at, import_id, dedup_key, source_connector, "
    "source_container, source_locator, kind, occurred_at, occurred_offset, direction, sender, "
    "sender_name, recipients, title, body, thread_key, message_id, flags, details, "
    "original_sha256, container_sha256, parse_status, parse_error) "
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
_PART_INSERT = "INSERT INTO original_parts (sha256, part, data) VALUES (?, ?, ?)"
_FTS_INSERT = (
    "INSERT INTO items_fts (rowid, title, body, people, attachments) VALUES (?, ?, ?, ?, ?)"
)
_FTS_DELETE = (
    "INSERT INTO items_fts (items_fts, rowid, title, body, people, attachments) "
    "VALUES ('delete', ?, ?, ?, ?, ?)"
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


# Titles and people repeat from item to item ("WeChat message from 乐贷客服"): their index
# text is made once. Bodies rarely repeat and can be long, so they are not kept.
_index_repeated = lru_cache(maxsize=4096)(index_text)


def fts_values(item: Item, attachments: Any) -> tuple[str, str, str, str]:
    """The four indexed columns of an item (title, body, people, attachment names and text)."""
    people = " ".join([item.sender_name, item.sender, *item.recipients])
    attachment_text = " ".join(f"{a.filename} {a.text}" for a in attachments)
    return (
        _index_repeated(item.title),
        index_text(item.body),
        _index_repeated(people),
        index_text(attachment_text) if attachment_text else "",
    )


class PreparedCapture(NamedTuple):
    """A capture with an item, as the rows the writer inserts (see :func:`prepare`)."""

    connector: str
    container: str
    locator: str
    dedup_key: str
    original: Blob | None
    attachments: tuple[Attachment, ...]
    # kind, occurred_at, occurred_offset, direction, sender, sender_name, recipients, title,
    # body, thread_key, message_id, flags, details, original_sha256, container_sha256,
    # parse_status, parse_error: the items columns after the first seven of _ITEM_INSERT.
    row: tuple[Any, ...]
    people: tuple[tuple[str, str, str], ...]  # role, address, domain
    fts: tuple[str, str, str, str]  # the search-index columns (title, body, people, attachments)
    parse_error: str | None

    @property
    def where(self) -> str:
        return f"{self.container} {self.locator}".strip()

    @property
    def container_sha256(self) -> str | None:
        return self.row[14]  # type: ignore[no-any-return]


def prepare(capture: Capture) -> PreparedCapture:
    """The rows of a capture that holds an item (or an original that failed to parse).

    Pure: it depends on nothing but the capture, so it can run in the process that read it.
    """
    src = capture.source
    original = capture.original
    sha = original.sha256 if original else None
    dedup_key = capture.dedup_key or (f"sha256:{sha}" if sha else None)
    if dedup_key is None:
        raise ValueError("a capture needs an original or a dedup key")
    item = capture.item or Item(kind="file", title=f"(unreadable) {src.locator}".strip())
    occurred = item.occurred_at
    row = (
        item.kind,
        format_utc(occurred) if occurred else None,
        offset_minutes(occurred) if occurred else None,
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
        sha,
        capture.container_sha256,
        "failed" if capture.parse_error else "ok",
        capture.parse_error,
    )
    return PreparedCapture(
        src.connector,
        src.container,
        src.locator,
        dedup_key,
        original,
        capture.attachments,
        row,
        _people(item),
        fts_values(item, capture.attachments),
        capture.parse_error,
    )


def pack_prepared(entry: Any) -> Any:
    """A prepared capture as the plain tuple of its fields, anything else as it is: what a
    reader process sends (:func:`unpack_prepared` turns it back).

    A plain tuple of strings unpickles in a sixth of the time a named tuple takes (2.4 against
    16 us a phone message, measured), and the unpickling happens in the writer's process.
    """
    return tuple(entry) if type(entry) is PreparedCapture else entry


def unpack_prepared(entry: Any) -> Any:
    """The inverse of :func:`pack_prepared`."""
    return tuple.__new__(PreparedCapture, entry) if type(entry) is tuple else entry


def is_container(capture: Capture) -> bool:
    """A whole export file that its items point into (stored once, no item of its own)."""
    return capture.item is None and capture.parse_error is None


def prepare_all(
    captures: Iterable[Capture | ImportProblem],
) -> Iterator[Capture | ImportProblem | PreparedCapture]:
    """``captures`` with each one that holds an item prepared (see :func:`prepare`)."""
    for capture in captures:
        if isinstance(capture, Capture) and not is_container(capture):
            yield prepare(capture)
        else:
            yield capture


def held_bytes(entry: Capture | ImportProblem | PreparedCapture) -> int:
    """The bytes of originals an entry carries in memory (file-backed ones are not counted)."""
    if isinstance(entry, ImportProblem):
        return 0
    held = len(entry.original.data or b"") if entry.original is not None else 0
    return held + sum(len(a.blob.data or b"") for a in entry.attachments)


def store_original(conn: sqlite3.Connection, blob: Blob, stored_at: str) -> bool:
    """Store one original unless it is there already; return True when it was new.

    Bytes in memory go into ``originals.content``. A file is streamed into ``original_parts``
    (see ``schema._v6_original_parts``), never read whole into memory, and hashed again on the
    way: it was hashed when it was read, and whatever changed it since (an app still writing
    its backup, a sync client) must not leave an original that does not match its own hash.
    """
    if blob.data is not None:
        cur = conn.execute(
            _ORIGINAL_INSERT, (blob.sha256, blob.size, blob.media_type, stored_at, blob.data)
        )
        return cur.rowcount == 1
    if blob.path is None:
        raise ValueError("a Blob needs data or a path")
    cur = conn.execute(
        "INSERT OR IGNORE INTO originals (sha256, size, media_type, stored_at, content) "
        "VALUES (?, ?, ?, ?, NULL)",
        (blob.sha256, blob.size, blob.media_type, stored_at),
    )
    if cur.rowcount != 1:
        return False
    digest = hashlib.sha256()
    remaining = blob.size
    with blob.path.open("rb") as src:

        def parts() -> Iterator[tuple[str, int, bytes]]:
            nonlocal remaining
            number = 0
            while remaining and (chunk := src.read(min(PART_SIZE, remaining))):
                digest.update(chunk)
                remaining -= len(chunk)
                yield blob.sha256, number, chunk
                number += 1

        conn.executemany(_PART_INSERT, parts())
        grew = bool(src.read(1))
    if remaining or grew or digest.hexdigest() != blob.sha256:
        raise SourceError(
            _(
                "{path} changed while it was being imported, so it was not stored (nor what was "
                "read from it in this batch); import it again once nothing is writing it"
            ).format(path=blob.path)
        )
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
    pending: list[PreparedCapture] = field(default_factory=list)
    errors: list[tuple[int, str, str, str | None]] = field(default_factory=list)
    custody_rows: list[tuple[int, str, str, str, str, str, str]] = field(default_factory=list)
    #: The archive holds phone keys in the older form (:func:`holds_counterparty_first_keys`).
    older_keys: bool = False

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

    def add(self, capture: Capture | ImportProblem | PreparedCapture) -> None:
        if isinstance(capture, ImportProblem):
            src = capture.source
            self._fail(f"{src.container} {src.locator}".strip(), capture.reason, None)
            return
        if isinstance(capture, Capture):
            if is_container(capture):
                self._add_container(capture)
                return
            capture = prepare(capture)
        if capture.original is not None:
            self._keep(capture.original)
        self.pending.append(capture)

    def _add_container(self, capture: Capture) -> None:
        original = capture.original
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

    def _event(self, action: str, subject: str, details: dict[str, Any]) -> None:
        self.custody_rows.append(self.custody.next_row(self.stored_at, action, subject, details))

    def _existing(self) -> dict[str, tuple[int, tuple[str, str, str]]]:
        """Items already archived under the batch's keys: their id and their own source."""
        keys = list(dict.fromkeys(p.dedup_key for p in self.pending))
        # A phone message archived by an older version has its key in an older form (see
        # older_key_forms): look under those too, and answer for this one.
        aliases = (
            {alias: key for key in keys for alias in older_key_forms(key)}
            if self.older_keys
            else {}
        )
        keys += list(aliases)
        found: dict[str, tuple[int, tuple[str, str, str]]] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for key, item_id, connector, container, locator in self.conn.execute(
                "SELECT dedup_key, id, source_connector, source_container, source_locator "
                f"FROM items WHERE dedup_key IN ({marks})",
                chunk,
            ):
                found[key] = (int(item_id), (connector, container or "", locator or ""))
        for alias, key in aliases.items():
            if alias in found and key not in found:
                found[key] = found[alias]
        return found

    def flush(self) -> list[int]:
        """Write the batch; return the ids of the items it added."""
        conn = self.conn
        import_id = self.report.import_id
        stored_at = self.stored_at
        known = self._existing()
        next_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM items").fetchone()[0]) + 1
        items: list[tuple[Any, ...]] = []
        people: list[tuple[int, str, str, str]] = []
        attachments: list[tuple[Any, ...]] = []
        fts: list[tuple[int, str, str, str, str]] = []
        sightings: list[tuple[Any, ...]] = []
        new_ids: list[int] = []
        late: list[tuple[int, PreparedCapture]] = []
        for p in self.pending:
            if p.dedup_key in known:
                # Seen again, perhaps in a new place. The first place is the item's own source
                # columns, not repeated in item_sightings: one row and one index entry less
                # per item.
                known_id, first_place = known[p.dedup_key]
                if (p.connector, p.container, p.locator) != first_place:
                    sightings.append(
                        (known_id, p.connector, p.container, p.locator, import_id, stored_at)
                    )
                if p.attachments:
                    late.append((known_id, p))
                self.report.duplicates += 1
                continue
            item_id = next_id
            next_id += 1
            known[p.dedup_key] = (item_id, (p.connector, p.container, p.locator))
            new_ids.append(item_id)
            items.append(
                (item_id, stored_at, import_id, p.dedup_key, p.connector, p.container, p.locator)
                + p.row
            )
            people.extend([(item_id, *person) for person in p.people])
            for position, attachment in enumerate(p.attachments):
                self._keep(attachment.blob)
                attachments.append(_attachment_row(item_id, position, attachment))
            fts.append((item_id, *p.fts))
            sha = p.original.sha256 if p.original else None
            self._event(
                "acquired",
                f"item:{item_id}",
                {
                    "connector": p.connector,
                    "container": p.container,
                    "locator": p.locator,
                    "original_sha256": sha,
                    "container_sha256": p.container_sha256,
                    "attachments": [a.blob.sha256 for a in p.attachments],
                    "import_id": import_id,
                },
            )
            if p.parse_error:
                self._fail(
                    p.where,
                    _("kept unparsed: {parse_error}").format(parse_error=p.parse_error),
                    sha,
                )
            else:
                self.report.added += 1
        refresh = self._late_attachments(late, attachments, set(new_ids)) if late else []
        # The index is contentless: an item's row is forgotten with the values it was given,
        # before its new attachments are written, and made again after.
        conn.executemany(_FTS_DELETE, [(i, *archived_fts(conn, i)) for i in refresh])
        conn.executemany(_ORIGINAL_INSERT, self.originals.values())
        conn.executemany(_ITEM_INSERT, items)
        conn.executemany(_PEOPLE_INSERT, people)
        conn.executemany(_ATTACHMENT_INSERT, attachments)
        conn.executemany(_FTS_INSERT, fts)
        conn.executemany(_FTS_INSERT, [(i, *archived_fts(conn, i)) for i in refresh])
        conn.executemany(_SIGHTING_INSERT, sightings)
        conn.executemany(CUSTODY_INSERT, self.custody_rows)
        conn.executemany(_ERROR_INSERT, self.errors)
        return new_ids

    def _late_attachments(
        self,
        late: list[tuple[int, PreparedCapture]],
        rows: list[tuple[Any, ...]],
        in_batch: set[int],
    ) -> list[int]:
        """Attachments a message seen again brings that its archived item lacks.

        A chat export without its media folder archives its messages without their pictures;
        the same chat exported again with them must not leave those files out of the archive.
        They are added to the item (never replacing anything), each with a custody event of
        its own. ``rows`` (this batch's attachment rows) grows; the ids of items archived
        before this batch that gained attachments are returned (their index rows are remade;
        ``in_batch``, the items this batch adds, are not written yet and keep the row made).
        """
        ids = sorted({item_id for item_id, _ in late})
        have: dict[int, tuple[set[str], int]] = {}
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start : start + _LOOKUP_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for item_id, sha, position in self.conn.execute(
                "SELECT item_id, original_sha256, position FROM attachments "
                f"WHERE item_id IN ({marks})",
                chunk,
            ):
                shas, top = have.setdefault(int(item_id), (set(), -1))
                shas.add(sha)
                have[int(item_id)] = (shas, max(top, int(position)))
        for row in rows:  # items added earlier in this very batch
            shas, top = have.setdefault(int(row[0]), (set(), -1))
            shas.add(row[2])
            have[int(row[0])] = (shas, max(top, int(row[1])))
        refresh: list[int] = []
        for item_id, p in late:
            shas, top = have.setdefault(item_id, (set(), -1))
            added = []
            for attachment in p.attachments:
                if attachment.blob.sha256 in shas:
                    continue
                top += 1
                shas.add(attachment.blob.sha256)
                self._keep(attachment.blob)
                rows.append(_attachment_row(item_id, top, attachment))
                added.append(attachment)
            have[item_id] = (shas, top)
            if not added:
                continue
            self._event(
                "attachment_added",
                f"item:{item_id}",
                {
                    "connector": p.connector,
                    "container": p.container,
                    "locator": p.locator,
                    "attachments": [a.blob.sha256 for a in added],
                    "import_id": self.report.import_id,
                },
            )
            if item_id not in in_batch and item_id not in refresh:
                refresh.append(item_id)
        return refresh


def archived_fts(conn: sqlite3.Connection, item_id: int) -> tuple[str, str, str, str]:
    """The index values of an archived item as the database holds it now.

    What a contentless FTS5 row must be deleted with, and re-inserted with after a change.
    """
    row = conn.execute(
        "SELECT title, body, sender, sender_name, recipients FROM items WHERE id = ?", (item_id,)
    ).fetchone()
    if row is None:
        raise NotFound(
            _("no item {item_id} in this archive (see 'evidence search')").format(item_id=item_id)
        )
    title, body, sender, sender_name, recipients = row
    item = Item(
        kind="file",
        sender=sender or "",
        sender_name=sender_name or "",
        recipients=tuple(json.loads(recipients or "[]")),
        title=title or "",
        body=body or "",
    )
    attachments = [
        Attachment(Blob(sha, size or 0, media), filename, media, text=text or "")
        for sha, size, media, filename, text in conn.execute(
            "SELECT original_sha256, size, media_type, filename, text FROM attachments "
            "WHERE item_id = ? ORDER BY position",
            (item_id,),
        )
    ]
    return fts_values(item, attachments)


#: The kinds of phone keys (``connectors.sms.common.message_key``).
PHONE_KEY_KINDS = ("sms", "mms", "call", "chat")
# A counterparty that may be a service number (95…, 10…, 12…, 400…, 800…, with or without
# +86): the only ones that older versions stored in another form.
_SERVICE_NUMBER = re.compile(r"(?:\+86)?(?:9|1[02]|[48]00)")


def holds_counterparty_first_keys(conn: sqlite3.Connection) -> bool:
    """Whether the archive holds phone keys in the form older versions wrote (counterparty
    first, see ``message_key``): then each new key is also looked up in that form. One range
    of the key index per kind (``sms|`` up to ``sms}``), so it costs a few index probes."""
    return any(
        conn.execute(
            "SELECT 1 FROM items WHERE dedup_key >= ? AND dedup_key < ? LIMIT 1",
            (f"{kind}|", f"{kind}}}"),
        ).fetchone()
        for kind in PHONE_KEY_KINDS
    )


def older_key_forms(key: str) -> tuple[str, ...]:
    """The forms older versions stored the same phone message's key in.

    ``sms@1704067200000|95555|in|d1gest`` was ``sms|95555|1704067200000|in|d1gest`` (the
    counterparty first), and, for a service number, ``sms|+8695555|1704067200000|in|d1gest``
    before service numbers kept their digits. Keys of other items have no other form.
    """
    head, sep, rest = key.partition("|")
    kind, at, stamp = head.partition("@")
    if not sep or not at or kind not in PHONE_KEY_KINDS:
        return ()
    counterparty, sep2, tail = rest.partition("|")
    if not sep2:
        return ()
    forms = [counterparty]
    if _SERVICE_NUMBER.match(counterparty):
        forms += [form for form in phone_variants(counterparty) if form != counterparty]
    return tuple(f"{kind}|{form}|{stamp}|{tail}" for form in forms)


def _people(item: Item) -> tuple[tuple[str, str, str], ...]:
    """The item's people as case rules match them: sender, recipients, and the other names the
    counterparty goes by (``details["aliases"]``, e.g. a WeChat contact's remark), as ``alias``."""
    aliases = item.details.get("aliases") or ()
    return _people_rows(
        item.sender, item.recipients, tuple(a for a in aliases if isinstance(a, str))
    )


# A conversation's messages share their people: the rows are made once per set of them.
@lru_cache(maxsize=4096)
def _people_rows(
    sender: str, recipients: tuple[str, ...], aliases: tuple[str, ...]
) -> tuple[tuple[str, str, str], ...]:
    rows = []
    seen: set[tuple[str, str]] = set()
    for role, raw in [
        ("from", sender),
        *(("to", r) for r in recipients),
        *(("alias", a) for a in aliases),
    ]:
        if not raw:
            continue
        address, domain = normalize_address(raw)
        if (role, address) not in seen:
            seen.add((role, address))
            rows.append((role, address, domain))
    return tuple(rows)


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
