"""The archive's schema, as an ordered list of migrations applied when an archive is opened.

``PRAGMA user_version`` records how many migrations an archive file has had. Opening an archive
runs the missing ones in one transaction, so no caller can forget and no file is ever left half
migrated. A file whose version is newer than this code knows is refused rather than guessed at.

Tables are created with sqlite-utils (columns as data, one place); the FTS5 table is created by
hand because it is contentless: the archive indexes a transformed text (Han characters as
bigrams, see ``text_index``), so the text it would store is not the text a user reads. Snippets
are made from the ``items`` row instead.

A new, empty archive does not replay the migrations: it runs the statements they leave in
``sqlite_master``, kept in ``schema_snapshot.sql`` (:func:`write_snapshot` makes it; a
test checks that the snapshot builds exactly the file the migrations build, and says how to
regenerate it). Any migration newer than the snapshot then runs as usual, so a snapshot that
lags behind is slower, never wrong. Creating an archive this way takes a few milliseconds
instead of loading sqlite-utils and introspecting every table it creates.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ArchiveError
from ..i18n import _

if TYPE_CHECKING:
    import sqlite_utils

FTS_COLUMNS = ("title", "body", "people", "attachments")
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"


def _v1(db: sqlite_utils.Database) -> None:
    db.table("originals").create(
        {"sha256": str, "size": int, "media_type": str, "stored_at": str, "content": bytes},
        pk="sha256",
        not_null={"size", "media_type", "stored_at"},
    )
    db.table("imports").create(
        {
            "id": int,
            "connector": str,
            "container": str,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "added": int,
            "duplicates": int,
            "failed": int,
        },
        pk="id",
        not_null={"connector", "container", "started_at", "status"},
        defaults={"added": 0, "duplicates": 0, "failed": 0},
    )
    db.table("import_errors").create(
        {"id": int, "import_id": int, "source": str, "reason": str, "original_sha256": str},
        pk="id",
        foreign_keys=[("import_id", "imports", "id")],
        not_null={"import_id", "source", "reason"},
    )
    db.table("items").create(
        {
            "id": int,
            "kind": str,
            "occurred_at": str,  # UTC, ISO 8601 with 'Z', sortable as text
            "occurred_offset": int,  # minutes east of UTC as the source wrote the time
            "acquired_at": str,
            "direction": str,
            "sender": str,
            "sender_name": str,
            "recipients": str,  # JSON list
            "title": str,
            "body": str,
            "thread_key": str,
            "message_id": str,
            "flags": str,  # JSON list
            "details": str,  # JSON object
            "original_sha256": str,
            "container_sha256": str,
            "source_connector": str,
            "source_container": str,
            "source_locator": str,
            "dedup_key": str,
            "parse_status": str,
            "parse_error": str,
            "import_id": int,
        },
        pk="id",
        not_null={"kind", "acquired_at", "dedup_key", "parse_status", "source_connector"},
        defaults={"direction": "unknown", "parse_status": "ok"},
        foreign_keys=[("import_id", "imports", "id")],
    )
    db.table("items").create_index(["dedup_key"], unique=True)
    db.table("items").create_index(["occurred_at"])
    db.table("items").create_index(["kind", "occurred_at"])
    db.table("items").create_index(["original_sha256"])
    db.table("items").create_index(["message_id"])
    db.table("item_people").create(
        {"item_id": int, "role": str, "address": str, "domain": str},
        foreign_keys=[("item_id", "items", "id")],
        not_null={"item_id", "role", "address"},
    )
    db.table("item_people").create_index(["address"])
    db.table("item_people").create_index(["domain"])
    db.table("item_people").create_index(["item_id"])
    db.table("item_sightings").create(
        {
            "item_id": int,
            "connector": str,
            "container": str,
            "locator": str,
            "import_id": int,
            "seen_at": str,
        },
        foreign_keys=[("item_id", "items", "id")],
        not_null={"item_id", "connector", "seen_at"},
    )
    db.table("item_sightings").create_index(
        ["item_id", "connector", "container", "locator"], unique=True
    )
    db.table("attachments").create(
        {
            "id": int,
            "item_id": int,
            "position": int,
            "original_sha256": str,
            "filename": str,
            "media_type": str,
            "size": int,
            "inline": int,
            "content_id": str,
            "text": str,
        },
        pk="id",
        foreign_keys=[("item_id", "items", "id")],
        not_null={"item_id", "position", "original_sha256", "filename", "media_type"},
    )
    db.table("attachments").create_index(["item_id"])
    db.table("attachments").create_index(["original_sha256"])
    db.table("cases").create(
        {"id": int, "slug": str, "title": str, "description": str, "created_at": str},
        pk="id",
        not_null={"slug", "title", "created_at"},
    )
    db.table("cases").create_index(["slug"], unique=True)
    db.table("case_rules").create(
        {"id": int, "case_id": int, "kind": str, "value": str},
        pk="id",
        foreign_keys=[("case_id", "cases", "id")],
        not_null={"case_id", "kind", "value"},
    )
    db.table("case_rules").create_index(["case_id", "kind", "value"], unique=True)
    # state 'linked' or 'excluded': an item a person unlinked by hand stays out even when a
    # rule matches it again later.
    db.table("case_items").create(
        {"case_id": int, "item_id": int, "state": str, "how": str, "at": str},
        pk=("case_id", "item_id"),
        foreign_keys=[("case_id", "cases", "id"), ("item_id", "items", "id")],
        not_null={"state", "how", "at"},
    )
    db.table("case_items").create_index(["item_id"])
    db.table("tags").create(
        {"item_id": int, "tag": str, "at": str},
        pk=("item_id", "tag"),
        foreign_keys=[("item_id", "items", "id")],
    )
    db.table("tags").create_index(["tag"])
    db.table("notes").create(
        {"id": int, "item_id": int, "at": str, "text": str},
        pk="id",
        foreign_keys=[("item_id", "items", "id")],
        not_null={"item_id", "at", "text"},
    )
    db.table("sources").create(
        {"id": int, "connector": str, "container": str, "state": str, "updated_at": str},
        pk="id",
        not_null={"connector", "container", "state", "updated_at"},
    )
    db.table("sources").create_index(["connector", "container"], unique=True)
    db.table("custody").create(
        {
            "seq": int,
            "at": str,
            "action": str,
            "subject": str,
            "details": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="seq",
        not_null={"at", "action", "subject", "details", "prev_hash", "hash"},
    )
    db.execute(
        f"CREATE VIRTUAL TABLE items_fts USING fts5({', '.join(FTS_COLUMNS)}, "
        f"content='', tokenize='{FTS_TOKENIZER}')"
    )
    # The custody log is append-only: the database itself refuses edits and deletions.
    db.execute(
        "CREATE TRIGGER custody_no_update BEFORE UPDATE ON custody "
        "BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END"
    )
    db.execute(
        "CREATE TRIGGER custody_no_delete BEFORE DELETE ON custody "
        "BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END"
    )


def _v2_search_index(db: sqlite_utils.Database) -> None:
    """Search index without the Porter stemmer, with CJK runs closed by their last character.

    Porter stems a prefix query too (``pay*`` became ``pai*`` and missed "payment"); the new
    CJK form lets phrases cross from Chinese into digits (第3期) and single characters be found
    (see ``text_index``). The table is rebuilt from the items, with the same values ingest
    writes, so that a later delete of a row finds exactly what was indexed.
    """
    from ..model import Attachment, Blob, Item
    from .ingest import fts_values  # the one place that decides what an item's index row holds

    db.execute("DROP TABLE items_fts")
    db.execute(
        f"CREATE VIRTUAL TABLE items_fts USING fts5({', '.join(FTS_COLUMNS)}, "
        "content='', tokenize='unicode61 remove_diacritics 2')"
    )
    conn = db.conn
    attachments: dict[int, list[Attachment]] = {}
    for item_id, filename, media_type, text in conn.execute(
        "SELECT item_id, filename, media_type, text FROM attachments ORDER BY item_id, position"
    ):
        attachments.setdefault(item_id, []).append(
            Attachment(Blob("", 0, media_type), filename, media_type, text=text or "")
        )
    rows = conn.execute(
        "SELECT id, sender, sender_name, recipients, title, body FROM items ORDER BY id"
    )
    for item_id, sender, sender_name, recipients, title, body in rows:
        item = Item(
            kind="file",
            sender=sender or "",
            sender_name=sender_name or "",
            recipients=tuple(json.loads(recipients or "[]")),
            title=title or "",
            body=body or "",
        )
        conn.execute(
            "INSERT INTO items_fts (rowid, title, body, people, attachments) "
            "VALUES (?, ?, ?, ?, ?)",
            (item_id, *fts_values(item, attachments.get(item_id, []))),
        )


FILTER_INDEX = "idx_items_search_filters"


def _v3_search_filter_index(db: sqlite_utils.Database) -> None:
    """A compact index of what search filters read (kind, date, sender) by item id.

    A search with --kind/--since/--from probes each match once; probing this index instead of
    the item rows (which hold whole bodies) keeps those probes in a few cached pages.
    """
    db.execute(
        f"CREATE INDEX IF NOT EXISTS {FILTER_INDEX} "
        "ON items (id, kind, occurred_at, sender, sender_name)"
    )


def _v4_import_runner(db: sqlite_utils.Database) -> None:
    """Which process runs an import (id, host, start time), so that a running import and a
    killed one can be told apart (see ``runner``). Older rows have none: they show as before."""
    imports = db.table("imports")
    imports.add_column("runner_pid", int)
    imports.add_column("runner_host", str)
    imports.add_column("runner_started", str)


def _v5_items_by_import(db: sqlite_utils.Database) -> None:
    """Items found by the import that added them, and lighter indexes for phone messages.

    From v5 an item's first sighting is only in its own source columns (``item_sightings``
    holds the later ones), so "what did import N bring" reads ``items.import_id``; older first
    sightings stay where they are. Messages and calls from a phone export have no original of
    their own and no Message-ID: the indexes on those two columns leave such rows out instead
    of filing one NULL entry per message (a lookup by value still uses them).
    """
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_import_id ON items (import_id)")
    for column in ("original_sha256", "message_id"):
        db.execute(f"DROP INDEX IF EXISTS idx_items_{column}")
        db.execute(
            f"CREATE INDEX idx_items_{column} ON items ({column}) WHERE {column} IS NOT NULL"
        )


def _v6_original_parts(db: sqlite_utils.Database) -> None:
    """Originals streamed in from files are kept in numbered parts of 1 MiB.

    SQLite holds at most 1,000,000,000 bytes in one value, and a phone backup with years of
    pictures is larger. A file streamed into one reserved blob was also written twice once it
    outgrew the page cache (its zeros, then its bytes). Such an original has ``content`` NULL
    in ``originals`` and its bytes, in order, in ``original_parts``; originals already stored
    stay as they are.
    """
    db.execute(
        "CREATE TABLE original_parts ("
        " sha256 TEXT NOT NULL REFERENCES originals (sha256),"
        " part INTEGER NOT NULL,"
        " data BLOB NOT NULL,"
        " PRIMARY KEY (sha256, part))"
    )


def _v7_facts(db: sqlite_utils.Database) -> None:
    """Facts drawn from the evidence (see ``facts``): a fact of one case cites one or more of
    its items (``fact_items``, in the order given); ``fact_suggestions`` remembers which
    proposed facts a person accepted (and the fact it became) or rejected, so that they are
    not proposed again. Amounts are exact decimals written as text; dates are ISO days."""
    db.execute(
        "CREATE TABLE facts ("
        " id INTEGER PRIMARY KEY,"
        " case_id INTEGER NOT NULL REFERENCES cases (id),"
        " kind TEXT NOT NULL,"
        " text TEXT NOT NULL,"
        " on_date TEXT,"
        " due TEXT,"
        " amount TEXT,"
        " currency TEXT,"
        " by TEXT,"
        " reference TEXT,"
        " suggestion TEXT,"
        " created_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX idx_facts_case_id ON facts (case_id)")
    db.execute(
        "CREATE TABLE fact_items ("
        " fact_id INTEGER NOT NULL REFERENCES facts (id),"
        " item_id INTEGER NOT NULL REFERENCES items (id),"
        " position INTEGER NOT NULL,"
        " PRIMARY KEY (fact_id, item_id))"
    )
    db.execute("CREATE INDEX idx_fact_items_item_id ON fact_items (item_id)")
    db.execute(
        "CREATE TABLE fact_suggestions ("
        " id TEXT PRIMARY KEY,"
        " case_id INTEGER NOT NULL REFERENCES cases (id),"
        " item_id INTEGER NOT NULL REFERENCES items (id),"
        " state TEXT NOT NULL,"
        " fact_id INTEGER REFERENCES facts (id),"
        " at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX idx_fact_suggestions_item ON fact_suggestions (case_id, item_id)")


CUSTODY_SUBJECT_INDEX = "idx_custody_subject"


def _v8_custody_by_subject(db: sqlite_utils.Database) -> None:
    """The custody log indexed by subject, so that one item's or one case's events are found
    without reading the whole log (``custody.events_about``; a million-item archive holds
    millions of events). ``seq`` is the table's rowid, which every index entry carries: the
    index hands a subject's events over already in order, with no sort."""
    db.execute(f"CREATE INDEX IF NOT EXISTS {CUSTODY_SUBJECT_INDEX} ON custody (subject)")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _v1,
    _v2_search_index,
    _v3_search_filter_index,
    _v4_import_runner,
    _v5_items_by_import,
    _v6_original_parts,
    _v7_facts,
    _v8_custody_by_subject,
]


def snapshot_statements(conn: sqlite3.Connection) -> list[str]:
    """The statements that rebuild this database's schema, in the order it was made: every
    table, index and trigger except SQLite's own and the FTS5 table's shadow tables (which
    creating the FTS5 table makes)."""
    return [
        sql
        for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "AND name NOT LIKE 'items_fts_%' ORDER BY rowid"
        )
    ]


SNAPSHOT = Path(__file__).with_name("schema_snapshot.sql")
_SNAPSHOT_HEADER = "-- schema version "


def write_snapshot(path: Path | None = None) -> Path:
    """Rewrite the snapshot from the migrations (after adding one):
    ``python -c "from evidence_archiver.archive.schema import write_snapshot; write_snapshot()"``
    """
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        version = migrate(conn, use_snapshot=False)
        statements = snapshot_statements(conn)
    finally:
        conn.close()
    head = (
        f"{_SNAPSHOT_HEADER}{version}\n"
        "-- The schema an empty archive is created with: what the migrations of schema.py leave\n"
        "-- in sqlite_master. Made by schema.write_snapshot(); do not edit by hand.\n\n"
    )
    path = path or SNAPSHOT
    path.write_text(head + "".join(f"{sql};\n\n" for sql in statements), encoding="utf-8")
    return path


def read_snapshot(path: Path | None = None) -> tuple[int, list[str]]:
    """The snapshot's schema version and its statements (version 0 when there is none)."""
    try:
        text = (path or SNAPSHOT).read_text(encoding="utf-8")
    except FileNotFoundError:
        return 0, []
    first, _sep, rest = text.partition("\n")
    if not first.startswith(_SNAPSHOT_HEADER):
        return 0, []
    statements: list[str] = []
    pending = ""
    for line in rest.splitlines(keepends=True):
        if not pending and (line.startswith("--") or not line.strip()):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip().removesuffix(";"))
            pending = ""
    return int(first.removeprefix(_SNAPSHOT_HEADER)), statements


def _from_snapshot(conn: sqlite3.Connection, target: int) -> int:
    """Create the schema of an empty file from the snapshot, inside the caller's transaction;
    return the version it reached (0 when the file is not empty or there is no snapshot)."""
    version, statements = read_snapshot()
    if not statements or target < version:
        return 0
    if conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
        return 0
    for statement in statements:
        conn.execute(statement)
    return version


def migrate(conn: sqlite3.Connection, *, use_snapshot: bool = True) -> int:
    """Bring the schema up to date; return the version the file now has.

    ``use_snapshot=False`` replays every migration even on an empty file (what the snapshot
    is checked against)."""
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    target = len(MIGRATIONS)
    if current > target:
        raise ArchiveError(
            _(
                "this archive was written by a newer version of evidence (schema {current}, this "
                "program knows {target}); upgrade evidence-archiver to open it"
            ).format(current=current, target=target)
        )
    if current == target:
        return current
    conn.execute("BEGIN IMMEDIATE")
    try:
        if current == 0 and use_snapshot:
            current = _from_snapshot(conn, target)
        if current < target:
            # Imported only when a migration runs: opening an up-to-date archive, which is
            # almost every open, need not load it (a fifth of the command's start-up).
            import sqlite_utils

            db = sqlite_utils.Database(conn)
            for version in range(current, target):
                MIGRATIONS[version](db)
        conn.execute(f"PRAGMA user_version = {target}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return target
