"""A real `evidence import wechat` killed with SIGKILL part way, then run again: every message is
archived exactly once, the export file is stored once, and SQLite's integrity check passes."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evidence_archiver import Archive
from evidence_archiver.connectors.sms import CHILD_READER_BYTES
from killing import items_committed, kill_at, wait_until_gone

MESSAGES = 8000
START = 1719889500


def make_export(path: Path) -> None:
    """A 12-column MemoTrace CSV big enough (over 1 MB) to be read in a child process."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "localId",
                "TalkerId",
                "Type",
                "SubType",
                "IsSender",
                "CreateTime",
                "Status",
                "StrContent",
                "StrTime",
                "Remark",
                "NickName",
                "Sender",
            ]
        )
        for n in range(MESSAGES):
            send = n % 3 == 0
            text = f'第{n}条：您的借款本期应还 {n % 5000}.00 元，请按时还款。\n"Reminder" {n}'
            names = ["王小明", "王小明", "wxid_me"] if send else ["乐贷客服", "乐贷", "wxid_kf"]
            created = START + n * 30
            writer.writerow([n + 1, "wxid_kf", 1, 0, int(send), created, 2, text, "", *names])


def start(db: Path, export: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "evidence_archiver", "import", "wechat", str(export), "--json"],
        env={**os.environ, "EVIDENCE_ARCHIVE": str(db)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_kill_9_mid_wechat_import_then_rerun_archives_each_message_once(tmp_path: Path) -> None:
    export = tmp_path / "乐贷客服_utf8.csv"
    make_export(export)
    assert export.stat().st_size >= CHILD_READER_BYTES
    db = tmp_path / "archive.db"
    kills = kill_at(lambda: start(db, export), db, (1, 2500))
    assert kills >= 1, "the import finished before it could be killed; make the input bigger"
    assert items_committed(db) < MESSAGES
    # The export is read in a child process; it must not outlive its killed parent.
    assert wait_until_gone(str(db)) == []
    final = start(db, export)
    assert final.wait(timeout=300) == 0
    with Archive(db) as archive:
        assert archive.integrity_check() == []
        assert archive.verify_custody() == []
        status = archive.status()
        assert status["items"] == {"chat": MESSAGES}
        assert status["originals"] == 1  # the export file, once
        keys = archive.conn.execute("SELECT COUNT(DISTINCT dedup_key) FROM items").fetchone()[0]
        assert keys == MESSAGES
        assert archive.imports(limit=1)[0].status == "done"
    again = start(db, export)
    assert again.wait(timeout=300) == 0
    assert items_committed(db) == MESSAGES
