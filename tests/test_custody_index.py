"""Schema v8: the custody log indexed by subject, and the reads that use the index."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from evidence_archiver.archive import Archive, schema
from evidence_archiver.archive.custody import CustodyLog, verify_chain

AT = datetime(2024, 7, 3, 6, 0, tzinfo=UTC)


def _plan(conn: sqlite3.Connection, sql: str, args: tuple[str, ...]) -> str:
    return " | ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args))


def _v7_archive(path: Path) -> None:
    """An archive as schema v7 wrote it, with a custody log about several subjects."""
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    conn.execute("BEGIN")
    for migration in schema.MIGRATIONS[:7]:
        migration(db)
    log = CustodyLog(conn)
    for n in range(1, 60):
        log.append(AT, "acquired", f"item:{n}", {"n": n})
    log.append(AT, "tagged", "item:4", {"tag": "promise"})
    log.append(AT, "case_created", "case:lender-x", {})
    conn.execute("PRAGMA user_version = 7")
    conn.execute("COMMIT")
    conn.close()


def test_a_v7_archive_gets_the_index_and_keeps_its_chain(tmp_path: Path) -> None:
    path = tmp_path / "v7.db"
    _v7_archive(path)
    # sqlite3's own context manager only commits; closing() closes (3.13 reports a leak).
    with closing(sqlite3.connect(path)) as conn:
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(custody)")}
        assert schema.CUSTODY_SUBJECT_INDEX not in indexes
        before = conn.execute("SELECT * FROM custody ORDER BY seq").fetchall()
    with Archive(path) as archive:
        conn = archive.conn
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 8 == len(schema.MIGRATIONS)
        columns = [r[2] for r in conn.execute(f"PRAGMA index_info({schema.CUSTODY_SUBJECT_INDEX})")]
        assert columns == ["subject"]
        assert conn.execute("SELECT * FROM custody ORDER BY seq").fetchall() == before
        assert verify_chain(conn) == []
        # Exactly the subject asked for, in order: item:4, not item:40…item:49.
        events = list(archive.custody.events_about("item:4"))
        assert [(e.action, e.subject) for e in events] == [
            ("acquired", "item:4"),
            ("tagged", "item:4"),
        ]
        assert [e.seq for e in events] == sorted(e.seq for e in events)
        prefixed = {e.subject for e in archive.custody.events("item:4")}
        assert prefixed == {"item:4", *(f"item:{n}" for n in range(40, 50))}
        assert [e.subject for e in archive.custody.events("case:")] == ["case:lender-x"]
        assert len(list(archive.custody.events())) == len(before)


def test_finding_one_subjects_events_searches_the_index_and_sorts_nothing(
    tmp_path: Path,
) -> None:
    with Archive(tmp_path / "new.db") as archive:
        conn = archive.conn
        exact = _plan(
            conn,
            "SELECT seq, at, action, subject, details, prev_hash, hash FROM custody "
            "WHERE subject = ? ORDER BY seq",
            ("item:42",),
        )
        assert f"SEARCH custody USING INDEX {schema.CUSTODY_SUBJECT_INDEX} (subject=?)" in exact
        assert "TEMP B-TREE" not in exact  # the index hands the rows over in seq order
        ranged = _plan(
            conn,
            "SELECT seq FROM custody WHERE subject >= ? AND subject < ? ORDER BY seq",
            ("item:4", "item:5"),
        )
        assert schema.CUSTODY_SUBJECT_INDEX in ranged
        assert "SCAN custody" not in ranged


def test_the_queries_the_log_runs_are_the_ones_whose_plans_were_checked(
    tmp_path: Path,
) -> None:
    # The plans above are of the statements CustodyLog sends: trace them to be sure.
    with Archive(tmp_path / "new.db") as archive:
        archive.create_case("Lender X")
        sent: list[str] = []
        archive.conn.set_trace_callback(sent.append)
        try:
            list(archive.custody.events_about("item:42"))
            list(archive.custody.events("case:"))
        finally:
            archive.conn.set_trace_callback(None)
        plans = [_plan(archive.conn, s, ()) for s in sent if s.startswith("SELECT")]
    assert len(plans) == 2
    assert all(schema.CUSTODY_SUBJECT_INDEX in p for p in plans), plans
