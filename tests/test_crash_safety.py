"""A real import subprocess killed with SIGKILL at several points, then run again: every
original is stored exactly once, the file passes SQLite's integrity check and the custody chain
is intact."""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evidence_archiver import Archive
from killing import items_committed, kill_at

MESSAGES = 2000


def make_mbox(path: Path) -> None:
    box = mailbox.mbox(path)
    for n in range(MESSAGES):
        body = f"Payment reminder {n}. 还款提醒第{n}号。\n" + "Lorem ipsum dolor sit amet. " * 40
        box.add(
            f"From: collections@lenderx.com\nTo: me@example.com\nSubject: reminder {n}\n"
            f"Date: Fri, 01 Mar 2024 09:{n % 60:02d}:00 +0800\nMessage-ID: <r{n}@lenderx>\n\n"
            f"{body}\n".encode()
        )
    box.flush()
    box.close()


def start_import(db: Path, mbox: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evidence_archiver",
            "import",
            "mbox",
            str(mbox),
            "--workers",
            "0",
            "--batch-size",
            "25",
            "--json",
        ],
        env={**os.environ, "EVIDENCE_ARCHIVE": str(db)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_kill_9_at_several_points_then_rerun_keeps_each_original_once(tmp_path: Path) -> None:
    mbox = tmp_path / "big.mbox"
    make_mbox(mbox)
    db = tmp_path / "archive.db"
    # Kill before anything is committed, early, and in the middle.
    kills = kill_at(lambda: start_import(db, mbox), db, (0, 100, 900))
    assert kills >= 2, "the import finished before it could be killed; make the input bigger"
    assert items_committed(db) < MESSAGES
    final = start_import(db, mbox)
    assert final.wait(timeout=300) == 0
    with Archive(db) as archive:
        assert archive.integrity_check() == []
        assert archive.verify_custody() == []
        status = archive.status()
        assert status["total"] == MESSAGES
        assert status["originals"] == MESSAGES
        assert (
            archive.conn.execute("SELECT COUNT(DISTINCT original_sha256) FROM items").fetchone()[0]
            == MESSAGES
        )
        acquired = archive.conn.execute(
            "SELECT COUNT(*) FROM custody WHERE action = 'acquired'"
        ).fetchone()[0]
        assert acquired == MESSAGES
        runs = archive.imports(limit=10)
        assert runs[0].status == "done"
        # A kill before the run was logged leaves no trace; every later one shows.
        interrupted = sum(r.status == "interrupted" for r in runs)
        assert kills - 1 <= interrupted <= kills
        assert len(archive.search("还款提醒")) == 20
