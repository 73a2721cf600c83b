"""Killing a real import (or bundle write) with SIGKILL part way through, for the crash-safety
tests."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path


def items_committed(db: Path) -> int:
    """How many items another process has committed to ``db`` so far (read-only peek)."""
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0


def kill_at(
    start: Callable[[], subprocess.Popen[bytes]], db: Path, thresholds: Iterable[int]
) -> int:
    """Start the import once per threshold and SIGKILL it as soon as that many items are
    committed; return how many runs were killed (a run that finished first was not)."""
    kills = 0
    for threshold in thresholds:
        proc = start()
        deadline = time.monotonic() + 120
        while items_committed(db) < threshold and proc.poll() is None:
            assert time.monotonic() < deadline, "the import made no progress"
            time.sleep(0.005)
        if proc.poll() is None:
            kill_with_helpers(proc)
            kills += 1
        proc.wait(timeout=30)
    return kills


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (its worker processes, theirs, …), from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_with_helpers(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGKILL ``proc`` alone, as the OOM killer or ``kill -9`` would, then check that the
    processes it had started (parser workers, a reader) end by themselves soon after, rather
    than linger forever holding the archive open."""
    helpers = descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + timeout
    while (left := [p for p in helpers if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:  # don't leave them behind for the rest of the suite
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert left == [], f"processes started by the killed import outlived it: {left}"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line holds ``text`` (Linux ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until_gone(text: str, timeout: float = 20) -> list[int]:
    """Wait for every process mentioning ``text`` to end; return those still there."""
    deadline = time.monotonic() + timeout
    while (left := processes_mentioning(text)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


# An append to a finished zip (as ``evidence timestamp`` makes), killed after it wrote over the
# old central directory and before the new one.
_KILLED_APPEND = """
import os, signal, sys
from pathlib import Path
from evidence_archiver.export.zipio import ZipWriter

writer = ZipWriter.append(Path(sys.argv[1]), (2026, 6, 1, 0, 0, 0))
writer.write_bytes("bag/timestamp/manifest.tsr", b"token" * 100_000, compress=False)
os.kill(os.getpid(), signal.SIGKILL)
"""


def kill_during_zip_append(path: Path) -> None:
    """Start appending a large entry to the zip at ``path`` in a process that is then killed."""
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_APPEND, str(path)], capture_output=True, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
