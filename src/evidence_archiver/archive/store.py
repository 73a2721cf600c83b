"""The Archive: one SQLite file holding originals, parsed items, cases, the index and custody.

Opening an archive applies any pending migration. Every write is an explicit transaction
(``BEGIN IMMEDIATE`` … ``COMMIT``) on a connection in autocommit mode, in WAL with
``synchronous=FULL``: a crash leaves the file as it was before the transaction, never half way.

:meth:`Archive.ingest` is the only door for new material. It writes in batches; within a batch
each original is stored by its SHA-256 (``INSERT OR IGNORE``), each item by its dedup key, and
the custody events and case links of the batch commit with them. Re-running an import, or
running it again after a kill, therefore stores each original exactly once.
"""

from __future__ import annotations

import gc
import io
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import ArchiveError, NotFound, UsageError
from ..i18n import _
from ..model import (
    Capture,
    ImportProblem,
    ImportReport,
    SourceRef,
)
from . import cases as case_rules
from . import facts as facts_mod
from . import search as search_mod
from .custody import ChainBreak, CustodyLog, verify_chain
from .ingest import (
    BatchWriter,
    PreparedCapture,
    archived_fts,
    held_bytes,
    holds_counterparty_first_keys,
    is_container,
)
from .records import (
    AttachmentRecord,
    CaseSummary,
    ImportFailureRecord,
    ImportRun,
    ImportSource,
    ItemRecord,
    NoteRecord,
    OriginalInfo,
    SearchHit,
    Sighting,
)
from .runner import Runner, is_alive, this_process
from .schema import FILTER_INDEX, FTS_COLUMNS, migrate
from .timeutil import as_sent, format_utc, parse_utc

Clock = Callable[[], datetime]
STREAM_CHUNK = 1 << 20
#: How large the WAL may grow during an import before it is started again from its beginning.
WAL_RESTART_BYTES = 64 << 20
#: The page size of new archives. An archive is mostly originals (mail, media, whole backup
#: files): every page is written to the WAL, then copied into the file, one system call each,
#: so 16 KiB pages make a quarter of the calls of SQLite's default 4 KiB. Measured on imports
#: (benchmarks/import_mbox.py, sms.py) and on search, export and the review app's pages: see
#: the commit that set it.
PAGE_SIZE = 16384
#: Allocations between two collections of the youngest generation during an import (Python's
#: default is 700). See :func:`fewer_collections`.
IMPORT_GC_THRESHOLD = 10_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often for a while (an import, a reader process).

    An import makes and drops millions of small objects (strings, tuples, rows) that reference
    counting frees at once; the collector, looking for cycles among them every 700 allocations,
    took 1.2 s of the writer's 14 s and 0.7 s of the reader's 13 s on a 205,000-message phone
    backup (0.3 s and 0.01 s at every 10,000). Cycles are still collected, just later.
    """
    before = gc.get_threshold()
    gc.set_threshold(IMPORT_GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def default_archive_path() -> Path:
    """``$EVIDENCE_ARCHIVE`` or ``archive.db`` in the user's data directory."""
    env = os.environ.get("EVIDENCE_ARCHIVE")
    if env:
        return Path(env).expanduser()
    import platformdirs  # only where no archive was named

    return Path(platformdirs.user_data_dir("evidence-archiver", appauthor=False)) / "archive.db"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Archive:
    """An evidence archive in one SQLite file.

    >>> with Archive(tmp_path / "archive.db") as archive:   # doctest: +SKIP
    ...     report = archive.ingest(captures, connector="mbox", container="takeout.mbox")
    ...     report.as_json()
    {'import_id': 1, 'added': 12, 'duplicates': 0, 'failed': 1, 'linked': 5, 'errors': [...]}
    """

    def __init__(self, path: Path | str, *, create: bool = True, clock: Clock = _utcnow) -> None:
        self.path = Path(path)
        self.clock = clock
        if not create and not self.path.exists():
            raise ArchiveError(
                _(
                    "no archive at {path}: run 'evidence init' first, or point --archive (or "
                    "EVIDENCE_ARCHIVE) at an existing archive"
                ).format(path=self.path)
            )
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(
                _("cannot open the archive {path}: {error}").format(path=self.path, error=exc)
            ) from exc
        try:
            # Only a new, empty file takes it; an archive keeps the page size it was made with.
            self.conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA busy_timeout=30000")
            # A larger page cache keeps the B-tree and FTS pages an import touches in memory
            # as the archive grows (the default 2 MB thrashes past a few thousand items).
            self.conn.execute("PRAGMA cache_size=-65536")
            migrate(self.conn)
        except BaseException as exc:
            # Not an archive, or one from a newer version: nothing to keep open.
            self.conn.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise ArchiveError(
                    _("cannot open the archive {path}: {error}").format(path=self.path, error=exc)
                ) from exc
            raise
        self.custody = CustodyLog(self.conn)

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; custody events appended inside it commit with it."""
        self.conn.execute("BEGIN IMMEDIATE")
        self.custody.refresh()
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            self.custody.forget_head()
            raise
        self.conn.execute("COMMIT")

    # -- ingest --------------------------------------------------------------------------------

    @contextmanager
    def _background_checkpoints(self) -> Iterator[None]:
        """During an import, copy the WAL back into the database from a second connection in a
        thread, instead of in the writer's COMMIT: SQLite releases the GIL, so the copying runs
        on the other core while the writer goes on. Durability is unchanged (every COMMIT is
        still synced to the WAL); only who checkpoints, and when, changes.

        A passive checkpoint copies frames but never rewinds the WAL while the writer keeps
        committing, so on a long import the WAL grew without end (1.4 GB for a 512 MB phone
        backup), and every page the writer read past its cache was looked up in ever more WAL
        index tables. Once the WAL holds more than ``WAL_RESTART_BYTES`` and a passive pass
        has copied all of it, a RESTART checkpoint (which waits for the writer's transaction
        to end, copies the few frames added since, and makes the next transaction start the
        WAL from its beginning) keeps it bounded."""
        stop = threading.Event()

        def checkpoint() -> None:
            conn = sqlite3.connect(self.path, timeout=30)
            try:
                page = int(conn.execute("PRAGMA page_size").fetchone()[0])
                while not stop.wait(0.2):
                    checkpoint = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    _busy, frames, copied = checkpoint
                    if frames * page > WAL_RESTART_BYTES and copied == frames:
                        conn.execute("PRAGMA wal_checkpoint(RESTART)")
            finally:
                conn.close()

        self.conn.execute("PRAGMA wal_autocheckpoint=0")
        thread = threading.Thread(target=checkpoint, name="evidence-checkpoint", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.conn.execute("PRAGMA wal_autocheckpoint=1000")
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def ingest(
        self,
        captures: Iterable[Capture | ImportProblem | PreparedCapture],
        *,
        connector: str,
        container: str,
        batch_size: int = 500,
        batch_bytes: int = 16 << 20,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Store captures; return what was added, what was already there and what failed.

        A batch (one transaction) ends after ``batch_size`` captures, or sooner once the
        originals it holds in memory reach ``batch_bytes``, so that large mail or media never
        pile up in memory whatever the batch size, or right after a whole export file.

        The run is logged in ``imports`` before the first batch, with the process that runs
        it, so that while it runs it shows as ``running`` and once that process is gone without
        finishing (killed) as ``interrupted``. Each batch is one transaction.
        """
        started = self.clock()
        runner = this_process()
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO imports (connector, container, started_at, status, runner_pid, "
                "runner_host, runner_started) VALUES (?, ?, ?, 'running', ?, ?, ?)",
                (
                    connector,
                    container,
                    format_utc(started),
                    runner.pid,
                    runner.host,
                    runner.started,
                ),
            )
            import_id = int(cur.lastrowid or 0)
        report = ImportReport(import_id=import_id)
        rules = case_rules.load_rules(self.conn)
        older_keys = holds_counterparty_first_keys(self.conn)
        batch: list[Capture | ImportProblem | PreparedCapture] = []
        held = 0
        with self._background_checkpoints(), fewer_collections():
            for capture in captures:
                batch.append(capture)
                held += held_bytes(capture)
                # A whole export file is written at once, in a transaction of its own: its
                # reader is meanwhile busy with the first records, on the other core.
                whole_file = isinstance(capture, Capture) and is_container(capture)
                if len(batch) >= batch_size or held >= batch_bytes or whole_file:
                    self._ingest_batch(batch, report, rules, older_keys)
                    if progress:
                        progress(len(batch))
                    batch, held = [], 0
            if batch:
                self._ingest_batch(batch, report, rules, older_keys)
                if progress:
                    progress(len(batch))
        with self.transaction() as conn:
            conn.execute(
                "UPDATE imports SET finished_at = ?, status = 'done', added = ?, "
                "duplicates = ?, failed = ? WHERE id = ?",
                (
                    format_utc(self.clock()),
                    report.added,
                    report.duplicates,
                    report.failed,
                    import_id,
                ),
            )
        return report

    def _ingest_batch(
        self,
        batch: list[Capture | ImportProblem | PreparedCapture],
        report: ImportReport,
        rules: case_rules.RuleSet,
        older_keys: bool,
    ) -> None:
        now = self.clock()
        pending = ImportReport(import_id=report.import_id)
        with self.transaction() as conn:
            writer = BatchWriter(conn, self.custody, pending, now, older_keys=older_keys)
            for capture in batch:
                writer.add(capture)
            new_ids = writer.flush()
            if new_ids and rules:
                pending.linked += case_rules.link_new_items(conn, self.custody, rules, new_ids, now)
        # Counted only once the batch committed: a rolled-back batch reports nothing.
        report.added += pending.added
        report.duplicates += pending.duplicates
        report.failed += pending.failed
        report.linked += pending.linked
        report.errors.extend(pending.errors)

    def set_attachment_text(self, attachment_id: int, text: str) -> None:
        """Replace the extracted text of an attachment and re-index its item (for reindex)."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT item_id FROM attachments WHERE id = ?", (attachment_id,)
            ).fetchone()
            if row is None:
                raise NotFound(
                    _("no attachment {attachment_id}").format(attachment_id=attachment_id)
                )
            item_id = int(row[0])
            self._fts_delete(item_id)
            conn.execute("UPDATE attachments SET text = ? WHERE id = ?", (text, attachment_id))
            self._fts_insert(item_id)

    def attachments_without_text(
        self, import_id: int | None = None, *, header: bytes | None = None
    ) -> list[tuple[int, AttachmentRecord]]:
        """``(item_id, attachment)`` for every attachment whose text is still empty; only those
        of items an import added when ``import_id`` is given, and only those whose original
        holds ``header`` in its first KiB when that is given (checked inside SQLite)."""
        sql = (
            "SELECT a.item_id, a.id, a.position, a.original_sha256, a.filename, a.media_type, "
            "a.size, a.inline, a.content_id FROM attachments a "
            "WHERE COALESCE(a.text, '') = ''"
        )
        args: list[Any] = []
        if import_id is not None:
            sql += " AND a.item_id IN (SELECT id FROM items WHERE import_id = ?)"
            args.append(import_id)
        if header is not None:
            sql += (
                " AND a.original_sha256 IN (SELECT sha256 FROM originals "
                "WHERE sha256 = a.original_sha256 AND instr(substr(content, 1, 1024), ?) > 0)"
            )
            args.append(header)
        return [
            (a[0], AttachmentRecord(a[1], a[2], a[3], a[4], a[5], a[6] or 0, bool(a[7]), a[8], ""))
            for a in self.conn.execute(sql + " ORDER BY a.id", args)
        ]

    def set_derived_text(
        self, item_id: int, *, body: str, details: dict[str, Any], parse_error: str | None
    ) -> None:
        """Replace an item's derived body and details (re-extraction of its original, e.g. a
        PDF opened later with its password, or OCR'd once Tesseract is installed), re-index it
        and record the change in the custody log. The original itself never changes."""
        with self.transaction() as conn:
            self._require_item(item_id)
            self._fts_delete(item_id)
            conn.execute(
                "UPDATE items SET body = ?, details = ?, parse_status = ?, parse_error = ? "
                "WHERE id = ?",
                (
                    body,
                    json.dumps(details, ensure_ascii=False, sort_keys=True, default=str),
                    "failed" if parse_error else "ok",
                    parse_error,
                    item_id,
                ),
            )
            self._fts_insert(item_id)
            self.custody.append(
                self.clock(), "re-extracted", f"item:{item_id}", {"parse_error": parse_error}
            )

    def _fts_row(self, item_id: int) -> tuple[str, str, str, str]:
        return archived_fts(self.conn, item_id)

    def _fts_delete(self, item_id: int) -> None:
        # A contentless FTS5 table forgets a row only when given the exact values indexed.
        self.conn.execute(
            f"INSERT INTO items_fts (items_fts, rowid, {', '.join(FTS_COLUMNS)}) "
            "VALUES ('delete', ?, ?, ?, ?, ?)",
            (item_id, *self._fts_row(item_id)),
        )

    def _fts_insert(self, item_id: int) -> None:
        self.conn.execute(
            "INSERT INTO items_fts (rowid, title, body, people, attachments) "
            "VALUES (?, ?, ?, ?, ?)",
            (item_id, *self._fts_row(item_id)),
        )

    # -- originals -----------------------------------------------------------------------------

    def original_info(self, sha256: str) -> OriginalInfo:
        row = self.conn.execute(
            "SELECT sha256, size, media_type, stored_at FROM originals WHERE sha256 = ?",
            (sha256,),
        ).fetchone()
        if row is None:
            raise NotFound(_("no original with SHA-256 {sha256}").format(sha256=sha256))
        return OriginalInfo(row[0], row[1], row[2], parse_utc(row[3]))

    def read_original(self, sha256: str) -> bytes:
        """The whole original in memory; use :meth:`copy_original` for large files."""
        row = self.conn.execute(
            "SELECT content FROM originals WHERE sha256 = ?", (sha256,)
        ).fetchone()
        if row is None:
            raise NotFound(_("no original with SHA-256 {sha256}").format(sha256=sha256))
        if row[0] is not None:
            return bytes(row[0])
        buffer = io.BytesIO()
        self.copy_original(sha256, buffer)
        return buffer.getvalue()

    def copy_original(self, sha256: str, out: BinaryIO) -> int:
        """Stream an original into ``out`` in 1 MiB chunks; return the bytes written."""
        row = self.conn.execute(
            "SELECT rowid, content IS NULL FROM originals WHERE sha256 = ?", (sha256,)
        ).fetchone()
        if row is None:
            raise NotFound(_("no original with SHA-256 {sha256}").format(sha256=sha256))
        written = 0
        if row[1]:  # streamed in from a file: kept in parts (schema._v6_original_parts)
            for (part,) in self.conn.execute(
                "SELECT data FROM original_parts WHERE sha256 = ? ORDER BY part", (sha256,)
            ):
                out.write(part)
                written += len(part)
            return written
        with self.conn.blobopen("originals", "content", int(row[0]), readonly=True) as blob:
            while chunk := blob.read(STREAM_CHUNK):
                out.write(chunk)
                written += len(chunk)
        return written

    # -- items ---------------------------------------------------------------------------------

    def item(self, item_id: int) -> ItemRecord:
        """Everything known about one item: fields, attachments, tags, notes, cases, sources."""
        conn = self.conn
        conn_row = conn.execute(
            "SELECT id, kind, occurred_at, occurred_offset, acquired_at, direction, sender, "
            "sender_name, recipients, title, body, thread_key, message_id, flags, details, "
            "original_sha256, container_sha256, source_connector, source_container, "
            "source_locator, parse_status, parse_error FROM items WHERE id = ?",
            (item_id,),
        ).fetchone()
        if conn_row is None:
            raise NotFound(
                _("no item {item_id} in this archive (see 'evidence search')").format(
                    item_id=item_id
                )
            )
        r = list(conn_row)
        attachments = tuple(
            AttachmentRecord(a[0], a[1], a[2], a[3], a[4], a[5] or 0, bool(a[6]), a[7], a[8] or "")
            for a in conn.execute(
                "SELECT id, position, original_sha256, filename, media_type, size, inline, "
                "content_id, text FROM attachments WHERE item_id = ? ORDER BY position",
                (item_id,),
            )
        )
        tags = tuple(
            t
            for (t,) in conn.execute(
                "SELECT tag FROM tags WHERE item_id = ? ORDER BY tag", (item_id,)
            )
        )
        notes = tuple(
            NoteRecord(n[0], parse_utc(n[1]), n[2])
            for n in conn.execute(
                "SELECT id, at, text FROM notes WHERE item_id = ? ORDER BY id", (item_id,)
            )
        )
        cases = tuple(
            s
            for (s,) in conn.execute(
                "SELECT c.slug FROM case_items ci JOIN cases c ON c.id = ci.case_id "
                "WHERE ci.item_id = ? AND ci.state = 'linked' ORDER BY c.slug",
                (item_id,),
            )
        )
        # The first sighting is the item's own source; item_sightings holds the later ones
        # (archives written before v5 hold the first there too: it is not repeated).
        first = Sighting(r[17], r[18] or "", r[19] or "", parse_utc(r[4]))
        later = [
            Sighting(s[0], s[1] or "", s[2] or "", parse_utc(s[3]))
            for s in conn.execute(
                "SELECT connector, container, locator, seen_at FROM item_sightings "
                "WHERE item_id = ? ORDER BY seen_at, rowid",
                (item_id,),
            )
        ]
        sightings = (first, *(s for s in later if s != first))
        return _item_record(r, attachments, tags, notes, cases, sightings)

    def timeline_ids(
        self,
        case: str | None = None,
        *,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[int]:
        """Ids of items in time order (items without a date last), optionally of one case;
        ``limit`` and ``offset`` cut one page of them (the review app pages a timeline).

        A case's items are read from its links joined to the compact filter index (id, kind,
        date), never from the item rows: ordering a case of 50,000 items reads no body."""
        where = ["1=1"]
        args: list[Any] = []
        source = "items i"
        if case is not None:
            case_id = self._case_id(case)
            source = (
                f"case_items ci CROSS JOIN items i INDEXED BY {FILTER_INDEX} "
                "ON i.id = ci.item_id AND ci.case_id = ? AND ci.state = 'linked'"
            )
            args.append(case_id)
        if kind:
            where.append("i.kind = ?")
            args.append(kind)
        if since:
            where.append("i.occurred_at >= ?")
            args.append(format_utc(since))
        if until:
            where.append("i.occurred_at <= ?")
            args.append(format_utc(until))
        sql = (
            f"SELECT i.id FROM {source} WHERE "
            + " AND ".join(where)
            + " ORDER BY i.occurred_at IS NULL, i.occurred_at, i.id"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
            if offset:
                sql += f" OFFSET {int(offset)}"
        elif offset:
            sql += f" LIMIT -1 OFFSET {int(offset)}"
        return [int(i) for (i,) in self.conn.execute(sql, args)]

    def timeline(
        self,
        case: str | None = None,
        *,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[ItemRecord]:
        """Items in time order (items without a date last), optionally of one case."""
        ids = self.timeline_ids(case, kind=kind, since=since, until=until, limit=limit)
        return [self.item(i) for i in ids]

    def tags_of(self, item_ids: Iterable[int]) -> dict[int, set[str]]:
        """The tags of each of ``item_ids`` that has any."""
        wanted = set(item_ids)
        found: dict[int, set[str]] = {}
        for item_id, tag in self.conn.execute("SELECT item_id, tag FROM tags"):
            if item_id in wanted:
                found.setdefault(int(item_id), set()).add(tag)
        return found

    # -- tags and notes ------------------------------------------------------------------------

    def _require_item(self, item_id: int) -> None:
        if self.conn.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone() is None:
            raise NotFound(
                _("no item {item_id} in this archive (see 'evidence search')").format(
                    item_id=item_id
                )
            )

    def tag(self, item_id: int, tag: str) -> bool:
        """Add a tag; return False when the item had it already."""
        tag = tag.strip()
        if not tag:
            raise UsageError(_("a tag cannot be empty"))
        self._require_item(item_id)
        with self.transaction() as conn:
            now = self.clock()
            cur = conn.execute(
                "INSERT OR IGNORE INTO tags (item_id, tag, at) VALUES (?, ?, ?)",
                (item_id, tag, format_utc(now)),
            )
            if cur.rowcount != 1:
                return False
            self.custody.append(now, "tagged", f"item:{item_id}", {"tag": tag})
        return True

    def untag(self, item_id: int, tag: str) -> bool:
        self._require_item(item_id)
        with self.transaction() as conn:
            cur = conn.execute("DELETE FROM tags WHERE item_id = ? AND tag = ?", (item_id, tag))
            if cur.rowcount != 1:
                return False
            self.custody.append(self.clock(), "untagged", f"item:{item_id}", {"tag": tag})
        return True

    def add_note(self, item_id: int, text: str) -> int:
        if not text.strip():
            raise UsageError(_("a note cannot be empty"))
        self._require_item(item_id)
        with self.transaction() as conn:
            now = self.clock()
            cur = conn.execute(
                "INSERT INTO notes (item_id, at, text) VALUES (?, ?, ?)",
                (item_id, format_utc(now), text),
            )
            note_id = int(cur.lastrowid or 0)
            self.custody.append(now, "noted", f"item:{item_id}", {"note_id": note_id, "text": text})
        return note_id

    # -- cases ---------------------------------------------------------------------------------

    def _case_id(self, slug: str) -> int:
        return case_rules.case_id(self.conn, slug)

    def create_case(
        self,
        title: str,
        *,
        slug: str | None = None,
        rules: Iterable[tuple[str, str]] = (),
        description: str = "",
    ) -> tuple[str, int]:
        """Create a case, link every archived item its rules match; return ``(slug, linked)``.

        ``rules`` are ``(kind, value)`` with kind ``address``, ``domain``, ``phone`` or
        ``keyword``; :func:`cases.rule_from_counterparty` turns "lenderx.com" or
        "+86 138…" into the right kind.
        """
        with self.transaction() as conn:
            made = case_rules.create_case(
                conn, self.custody, title, slug, description, list(rules), self.clock()
            )
        return made

    def add_case_rules(self, slug: str, rules: Iterable[tuple[str, str]]) -> int:
        """Add rules to a case and link what they match; return how many items were linked."""
        with self.transaction() as conn:
            return case_rules.add_rules(
                conn, self.custody, self._case_id(slug), list(rules), self.clock()
            )

    def remove_case_rule(self, slug: str, kind: str, value: str) -> bool:
        """Remove a rule (items it linked stay linked: a link is evidence of a decision)."""
        with self.transaction() as conn:
            return case_rules.remove_rule(
                conn, self.custody, self._case_id(slug), kind, value, self.clock()
            )

    def items_seen_in_import(self, import_id: int) -> list[int]:
        """Ids of the items an import added or first found in a new place (``--case``)."""
        return [
            int(i)
            for (i,) in self.conn.execute(
                "SELECT id FROM items WHERE import_id = ? "
                "UNION SELECT item_id FROM item_sightings WHERE import_id = ? ORDER BY 1",
                (import_id, import_id),
            )
        ]

    def link(self, slug: str, item_ids: Iterable[int]) -> int:
        with self.transaction() as conn:
            case_id = self._case_id(slug)
            ids = list(item_ids)
            for i in ids:
                self._require_item(i)
            return case_rules.set_links(
                conn, self.custody, case_id, ids, "linked", "manual", self.clock()
            )

    def unlink(self, slug: str, item_ids: Iterable[int]) -> int:
        with self.transaction() as conn:
            case_id = self._case_id(slug)
            ids = list(item_ids)
            for i in ids:
                self._require_item(i)
            return case_rules.set_links(
                conn, self.custody, case_id, ids, "excluded", "manual", self.clock()
            )

    def case_names(self) -> list[tuple[str, str]]:
        """``[(slug, title), …]`` of every case: for a menu, without counting their items."""
        return case_rules.names(self.conn)

    def cases(self) -> list[CaseSummary]:
        return case_rules.summaries(self.conn)

    def case(self, slug: str) -> CaseSummary:
        return case_rules.summary(self.conn, self._case_id(slug))

    # -- facts ---------------------------------------------------------------------------------

    def add_fact(
        self,
        items: Iterable[int],
        fields: facts_mod.FactFields,
        *,
        case: str | None = None,
    ) -> facts_mod.FactRecord:
        """Record a fact citing ``items`` (all linked to ``case``; by default the one case they
        share); a custody event ``fact_added`` commits with it.

        >>> archive.add_fact([11], FactFields(kind="promise", text="…"))  # doctest: +SKIP
        FactRecord(id=1, case='lender-x-extension', kind='promise', items=(11,), …)
        """
        ids = list(items)
        with self.transaction() as conn:
            case_id = self._case_id(case) if case else facts_mod.case_of_items(conn, ids)
            return facts_mod.add(conn, self.custody, case_id, ids, fields, self.clock())

    def facts(self, case: str) -> list[facts_mod.FactRecord]:
        """The facts of a case in time order (see :func:`facts.fact_date`)."""
        return facts_mod.list_facts(self.conn, self._case_id(case))

    def fact(self, fact_id: int) -> facts_mod.FactRecord:
        return facts_mod.get(self.conn, fact_id)

    def facts_citing(self, item_id: int) -> list[facts_mod.FactRecord]:
        """The facts (of any case) that cite an item."""
        self._require_item(item_id)
        return facts_mod.citing(self.conn, item_id)

    def edit_fact(
        self,
        fact_id: int,
        fields: facts_mod.FactFields,
        *,
        items: Iterable[int] | None = None,
        clear: Iterable[str] = (),
    ) -> facts_mod.FactRecord:
        """Change a fact (only the fields given); a ``fact_edited`` event says what changed."""
        with self.transaction() as conn:
            return facts_mod.edit(
                conn,
                self.custody,
                fact_id,
                fields,
                self.clock(),
                items=list(items) if items is not None else None,
                clear=list(clear),
            )

    def remove_fact(self, fact_id: int) -> None:
        """Delete a fact; the ``fact_removed`` event keeps what it said."""
        with self.transaction() as conn:
            facts_mod.remove(conn, self.custody, fact_id, self.clock())

    def suggest_facts(self, case: str, *, limit: int | None = None) -> list[facts_mod.Suggestion]:
        """Candidate facts found in the case's text, not yet accepted or rejected (the first
        ``limit`` of them, in time order, when given)."""
        return facts_mod.suggestions(self.conn, self._case_id(case), limit=limit)

    def suggestion(self, suggestion_id: str) -> facts_mod.Suggestion:
        """The suggestion with this id (accepted, rejected or not yet), as ``fact suggest``
        found it; NotFound when its item changed or left the case, UsageError for an id
        that is not one."""
        return facts_mod.find_suggestion(self.conn, suggestion_id)[1]

    def accept_suggestion(
        self, suggestion_id: str, overrides: facts_mod.FactFields | None = None
    ) -> facts_mod.FactRecord:
        """Record a suggestion as a fact (``overrides`` replace what was found)."""
        with self.transaction() as conn:
            fact = facts_mod.decide(
                conn, self.custody, suggestion_id, True, self.clock(), overrides
            )
        assert fact is not None
        return fact

    def reject_suggestion(self, suggestion_id: str) -> None:
        """Turn a suggestion down; it is not proposed again."""
        with self.transaction() as conn:
            facts_mod.decide(conn, self.custody, suggestion_id, False, self.clock())

    def fact_conflicts(self, case: str) -> list[facts_mod.Conflict]:
        """Possible breaches of the case's promises (see :func:`facts.conflicts`)."""
        return facts_mod.conflicts(self.conn, self._case_id(case))

    # -- search --------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        case: str | None = None,
        kind: str | None = None,
        sender: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        tag: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[SearchHit]:
        """Items matching ``query`` (see :func:`text_index.compile_query`), best first."""
        return search_mod.search(
            self.conn,
            query,
            case_id=self._case_id(case) if case else None,
            kind=kind,
            sender=sender,
            since=since,
            until=until,
            tag=tag,
            limit=limit,
            offset=offset,
        )

    # -- sync state of sources (IMAP folders and the like) ---------------------------------------

    def source_state(self, connector: str, container: str) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT state FROM sources WHERE connector = ? AND container = ?",
            (connector, container),
        ).fetchone()
        return dict(json.loads(row[0])) if row else {}

    def set_source_state(self, connector: str, container: str, state: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO sources (connector, container, state, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (connector, container) "
                "DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                (connector, container, json.dumps(state, sort_keys=True), format_utc(self.clock())),
            )

    # -- status, import log, custody -----------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """``{"total": N, "items": {"email": N, …}, "cases": N, "import_errors": N, …}``."""
        conn = self.conn
        kinds = dict(conn.execute("SELECT kind, COUNT(*) FROM items GROUP BY kind ORDER BY kind"))
        originals, size = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM originals"
        ).fetchone()
        errors = conn.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT source, reason FROM import_errors)"
        ).fetchone()[0]
        unfinished = [
            _run_state(*row)
            for row in conn.execute(
                "SELECT status, finished_at, runner_pid, runner_host, runner_started "
                "FROM imports WHERE status = 'running'"
            )
        ]
        return {
            "archive": str(self.path),
            "total": sum(kinds.values()),
            "items": kinds,
            "originals": originals,
            "originals_bytes": size,
            "cases": conn.execute("SELECT COUNT(*) FROM cases").fetchone()[0],
            "unparsed": conn.execute(
                "SELECT COUNT(*) FROM items WHERE parse_status != 'ok'"
            ).fetchone()[0],
            "import_errors": errors,
            "imports": conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0],
            "running_imports": sum(1 for state in unfinished if state == "running"),
            "interrupted_imports": sum(1 for state in unfinished if state == "interrupted"),
            "custody_events": conn.execute("SELECT COUNT(*) FROM custody").fetchone()[0],
        }

    def kind_counts(self) -> dict[str, int]:
        """``{"email": N, "sms": N, …}``: how many items of each kind (from the kind index;
        :meth:`status` reads much more)."""
        return {
            kind: int(n)
            for kind, n in self.conn.execute(
                "SELECT kind, COUNT(*) FROM items GROUP BY kind ORDER BY kind"
            )
        }

    def state_token(self) -> tuple[int, int]:
        """A value that changes whenever what this connection reads may have changed: when
        another connection (an import in a terminal, an export thread) committed, or this one
        wrote. Equal tokens mean an unchanged archive, so what was read from it still holds."""
        version = int(self.conn.execute("PRAGMA data_version").fetchone()[0])
        return version, self.conn.total_changes

    def imports(self, limit: int = 20) -> list[ImportRun]:
        return [
            ImportRun(
                r[0],
                r[1],
                r[2],
                parse_utc(r[3]),
                parse_utc(r[4]) if r[4] else None,
                _run_state(r[5], r[4], r[9], r[10], r[11]),
                r[6],
                r[7],
                r[8],
            )
            for r in self.conn.execute(
                "SELECT id, connector, container, started_at, finished_at, status, added, "
                "duplicates, failed, runner_pid, runner_host, runner_started FROM imports "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            )
        ]

    def import_sources(self) -> list[ImportSource]:
        """What each source (a mailbox, an IMAP folder, a phone export) brought in, over all
        its import runs, read from the import log: ``[ImportSource("mbox", "takeout.mbox",
        runs=2, added=120, duplicates=120, failed=1, last=…), …]``, the most recent first."""
        return [
            ImportSource(r[0], r[1], r[2], r[3] or 0, r[4] or 0, r[5] or 0, parse_utc(r[6]))
            for r in self.conn.execute(
                "SELECT connector, container, COUNT(*), SUM(added), SUM(duplicates), "
                "SUM(failed), MAX(started_at) FROM imports GROUP BY connector, container "
                "ORDER BY MAX(started_at) DESC, connector, container"
            )
        ]

    def import_failures(self, limit: int = 50) -> list[ImportFailureRecord]:
        """The most recent distinct failures (the same bad file imported twice shows once)."""
        return [
            ImportFailureRecord(r[0], r[1], r[2], r[3])
            for r in self.conn.execute(
                "SELECT MAX(import_id), source, reason, original_sha256 FROM import_errors "
                "GROUP BY source, reason ORDER BY MAX(id) DESC LIMIT ?",
                (limit,),
            )
        ]

    def verify_custody(self) -> list[ChainBreak]:
        """Re-hash the custody log; return the rows that break the chain (empty = intact)."""
        return verify_chain(self.conn)

    def integrity_check(self) -> list[str]:
        """SQLite's own check of the file; ``[]`` when it is sound."""
        rows = [r[0] for r in self.conn.execute("PRAGMA integrity_check")]
        return [] if rows == ["ok"] else rows


def _run_state(
    status: str,
    finished_at: str | None,
    pid: int | None,
    host: str | None,
    started: str | None,
) -> str:
    """An import's state as a user should read it: a run marked ``running`` whose process is
    gone is ``interrupted``; one whose process cannot be checked from here (another computer,
    or written by an older version) is ``running`` if it says so, as recorded."""
    if status != "running" or finished_at is not None:
        return status
    if pid is None:
        return "interrupted"  # written before runners were recorded: it was left unfinished
    alive = is_alive(Runner(int(pid), host or "", started))
    return "interrupted" if alive is False else "running"


def _item_record(
    r: list[Any],
    attachments: tuple[AttachmentRecord, ...],
    tags: tuple[str, ...],
    notes: tuple[NoteRecord, ...],
    cases: tuple[str, ...],
    sightings: tuple[Sighting, ...],
) -> ItemRecord:
    return ItemRecord(
        id=r[0],
        kind=r[1],
        occurred_at=as_sent(r[2], r[3]) if r[2] else None,
        acquired_at=parse_utc(r[4]),
        direction=r[5] or "unknown",
        sender=r[6] or "",
        sender_name=r[7] or "",
        recipients=tuple(json.loads(r[8] or "[]")),
        title=r[9] or "",
        body=r[10] or "",
        thread_key=r[11],
        message_id=r[12],
        flags=tuple(json.loads(r[13] or "[]")),
        details=json.loads(r[14] or "{}"),
        original_sha256=r[15],
        container_sha256=r[16],
        source=SourceRef(r[17], r[18] or "", r[19] or ""),
        parse_status=r[20],
        parse_error=r[21],
        attachments=attachments,
        tags=tags,
        notes=notes,
        cases=cases,
        sightings=sightings,
    )
