"""An import's state as `evidence status` shows it: running while its process works, done when
it finished, interrupted once its process is gone without finishing (killed)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from evidence_archiver import Archive
from evidence_archiver.archive.runner import Runner, is_alive, process_gone, this_process
from evidence_archiver.cli import app
from evidence_archiver.hashing import blob_from_bytes
from evidence_archiver.model import Capture, Item, SourceRef

# An import whose source never ends until the flag file appears (a slow mail server, say).
SLOW_IMPORT = """
import sys, time
from pathlib import Path
from evidence_archiver import Archive
from evidence_archiver.hashing import blob_from_bytes
from evidence_archiver.model import Capture, Item, SourceRef
db, flag = Path(sys.argv[1]), Path(sys.argv[2])
def captures():
    yield Capture(SourceRef("eml", "slow", "1"), blob_from_bytes(b"one", "text/plain"),
                  Item(kind="email", title="one"))
    while not flag.exists():
        time.sleep(0.05)
with Archive(db) as archive:
    archive.ingest(captures(), connector="eml", container="slow source")
"""


def _wait_for_run(db: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists():
            try:
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                try:
                    if conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0]:
                        return
                finally:
                    conn.close()
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    raise AssertionError("the import never logged its run")


def test_another_process_import_shows_running_then_interrupted_once_killed(
    tmp_path: Path,
) -> None:
    db, flag = tmp_path / "archive.db", tmp_path / "finish"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_IMPORT, str(db), str(flag)])
    try:
        _wait_for_run(db)
        with Archive(db) as archive:
            assert archive.imports()[0].status == "running"
            status = archive.status()
            assert (status["running_imports"], status["interrupted_imports"]) == (1, 0)
        result = CliRunner().invoke(app, ["status", "--archive", str(db)])
        assert result.exit_code == 0, result.output
        assert "still running" in result.output
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with Archive(db) as archive:
        assert archive.imports()[0].status == "interrupted"
        status = archive.status()
        assert (status["running_imports"], status["interrupted_imports"]) == (0, 1)
    result = CliRunner().invoke(app, ["status", "--archive", str(db)])
    assert "interrupted" in result.output
    assert "run the same import again" in result.output


def test_an_import_that_finishes_shows_done(tmp_path: Path) -> None:
    db, flag = tmp_path / "archive.db", tmp_path / "finish"
    flag.touch()
    subprocess.run([sys.executable, "-c", SLOW_IMPORT, str(db), str(flag)], check=True)
    with Archive(db) as archive:
        (run,) = archive.imports()
        assert (run.status, run.added) == ("done", 1)


def test_during_its_own_import_a_process_sees_its_run_as_running(archive: Archive) -> None:
    seen: list[str] = []

    def captures():  # type: ignore[no-untyped-def]
        yield Capture(
            SourceRef("eml", "here", "1"),
            blob_from_bytes(b"one", "text/plain"),
            Item(kind="email", title="one"),
        )
        seen.append(archive.imports()[0].status)

    archive.ingest(captures(), connector="eml", container="here")
    assert seen == ["running"]
    assert archive.imports()[0].status == "done"


def test_a_reused_process_id_or_a_vanished_process_is_not_mistaken_for_the_runner() -> None:
    me = this_process()
    assert is_alive(me) is True
    assert is_alive(Runner(me.pid, me.host, "1")) is False  # same id, another start time
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert is_alive(Runner(child.pid, me.host, None)) is False
    assert is_alive(Runner(me.pid, "another-computer", me.started)) is None


def test_runs_logged_by_an_older_version_without_a_runner_show_interrupted(
    archive: Archive,
) -> None:
    with archive.transaction() as conn:
        conn.execute(
            "INSERT INTO imports (connector, container, started_at, status) "
            "VALUES ('mbox', 'old.mbox', '2024-01-01T00:00:00.000000Z', 'running')"
        )
        conn.execute(
            "INSERT INTO imports (connector, container, started_at, status, runner_pid, "
            "runner_host, runner_started) VALUES ('mbox', 'remote.mbox', "
            "'2024-01-01T00:00:00.000000Z', 'running', 1, 'another-computer', NULL)"
        )
    states = {run.container: run.status for run in archive.imports()}
    # One cannot be checked from here (another computer): it is shown as it says.
    assert states == {"old.mbox": "interrupted", "remote.mbox": "running"}


def test_a_killed_process_not_yet_reaped_counts_as_gone() -> None:
    # Until whoever started it waits for it, a killed process lingers as a zombie: it must not
    # pass for a running import, nor keep parser workers waiting for it.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert not process_gone(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not process_gone(child.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process_gone(child.pid)
        assert child.returncode is None  # not reaped yet: still a zombie
        assert is_alive(Runner(child.pid, this_process().host, None)) is False
    finally:
        child.kill()
        child.wait()
    assert process_gone(child.pid)
