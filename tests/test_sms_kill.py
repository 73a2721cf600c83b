"""A real phone import killed with SIGKILL part way, then run again: every message is archived
exactly once, the backup file is stored once, and SQLite's integrity check passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evidence_archiver import Archive
from evidence_archiver.connectors.sms import CHILD_READER_BYTES
from killing import items_committed, kill_at, wait_until_gone

MESSAGES = 6000
# The library call a user's script would make; small batches so a kill lands mid-way.
IMPORT = (
    "import sys; from pathlib import Path; from evidence_archiver import Archive; "
    "from evidence_archiver.connectors.sms import import_phone_export; "
    "a = Archive(Path(sys.argv[1])); "
    "import_phone_export(a, Path(sys.argv[2]), region='CN', batch_size=50)"
)


def make_backup(path: Path) -> None:
    """A backup big enough (over 1 MB) to be read in a child process."""
    start = 1709254805000
    with path.open("w", encoding="utf-8") as f:
        f.write(f"<?xml version='1.0' encoding='UTF-8' ?>\n<smses count=\"{MESSAGES}\">\n")
        for n in range(MESSAGES):
            kind = 1 if n % 3 else 2
            f.write(
                f'  <sms address="+86 138 0013 {8000 + n % 7}" date="{start + n * 60000}" '
                f'type="{kind}" body="还款提醒 {n}: please repay &#55357;&#56397;" read="1" '
                f'readable_date="null" contact_name="乐贷 LenderX" />\n'
            )
        f.write("</smses>\n")


def start(db: Path, backup: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", IMPORT, str(db), str(backup)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_kill_9_mid_import_then_rerun_archives_each_message_once(tmp_path: Path) -> None:
    backup = tmp_path / "sms-big.xml"
    make_backup(backup)
    assert backup.stat().st_size >= CHILD_READER_BYTES
    db = tmp_path / "archive.db"
    kills = kill_at(lambda: start(db, backup), db, (200, 2500))
    assert kills >= 1, "the import finished before it could be killed; make the input bigger"
    assert items_committed(db) < MESSAGES
    # The backup is read in a child process; it must not outlive its killed parent.
    assert wait_until_gone(str(db)) == []
    final = start(db, backup)
    assert final.wait(timeout=300) == 0
    with Archive(db) as archive:
        assert archive.integrity_check() == []
        assert archive.verify_custody() == []
        status = archive.status()
        assert status["items"] == {"sms": MESSAGES}
        assert status["originals"] == 1  # the backup file, once
        keys = archive.conn.execute("SELECT COUNT(DISTINCT dedup_key) FROM items").fetchone()[0]
        assert keys == MESSAGES
        assert archive.imports(limit=1)[0].status == "done"
        assert all("emoji-repaired" in i.flags for i in archive.timeline(limit=5))
