"""A new archive is created from the schema snapshot; it must be the file the migrations make."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from evidence_archiver.archive import Archive
from evidence_archiver.archive.schema import (
    MIGRATIONS,
    SNAPSHOT,
    migrate,
    read_snapshot,
    snapshot_statements,
    write_snapshot,
)
from evidence_archiver.errors import ArchiveError

REGENERATE = (
    'the schema snapshot is out of date: run  python -c "from evidence_archiver.archive.schema '
    'import write_snapshot; write_snapshot()"'
)


def _dump(conn: sqlite3.Connection) -> tuple[int, list[str]]:
    return int(conn.execute("PRAGMA user_version").fetchone()[0]), list(conn.iterdump())


def test_the_snapshot_is_what_the_migrations_write_now(tmp_path: Path) -> None:
    fresh = write_snapshot(tmp_path / "snapshot.sql")
    assert fresh.read_text(encoding="utf-8") == SNAPSHOT.read_text(encoding="utf-8"), REGENERATE
    assert read_snapshot()[0] == len(MIGRATIONS), REGENERATE


def test_an_archive_made_from_the_snapshot_equals_one_made_by_every_migration(
    tmp_path: Path,
) -> None:
    Archive(tmp_path / "new.db").close()
    replayed = sqlite3.connect(tmp_path / "replayed.db", isolation_level=None)
    made = sqlite3.connect(tmp_path / "new.db")
    try:
        migrate(replayed, use_snapshot=False)
        # iterdump holds every table's rows too, the FTS5 table's own configuration among them.
        assert _dump(made) == _dump(replayed)
    finally:
        replayed.close()
        made.close()


def test_a_snapshot_behind_the_migrations_is_completed_by_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As when a migration is added and the snapshot not yet regenerated: the snapshot of the
    # version before, then the newest migration.
    older = sqlite3.connect(":memory:", isolation_level=None)
    older.execute("BEGIN")
    import sqlite_utils

    db = sqlite_utils.Database(older)
    for step in MIGRATIONS[:-1]:
        step(db)
    statements = snapshot_statements(older)
    older.execute("ROLLBACK")
    older.close()
    stale = tmp_path / "stale.sql"
    stale.write_text(
        f"-- schema version {len(MIGRATIONS) - 1}\n\n" + "".join(f"{s};\n\n" for s in statements),
        encoding="utf-8",
    )
    monkeypatch.setattr("evidence_archiver.archive.schema.SNAPSHOT", stale)
    assert read_snapshot()[0] == len(MIGRATIONS) - 1
    Archive(tmp_path / "new.db").close()
    replayed = sqlite3.connect(tmp_path / "replayed.db", isolation_level=None)
    made = sqlite3.connect(tmp_path / "new.db")
    try:
        migrate(replayed, use_snapshot=False)
        assert _dump(made) == _dump(replayed)
    finally:
        replayed.close()
        made.close()


def test_a_file_that_is_not_empty_never_gets_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE originals (x)")
    conn.commit()
    conn.close()
    with pytest.raises(ArchiveError, match="already exists"):
        Archive(path)
    conn = sqlite3.connect(path)
    try:
        # Refused whole: nothing of the schema was left behind.
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["originals"]
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    finally:
        conn.close()
