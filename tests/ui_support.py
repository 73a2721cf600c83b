"""What the review app's tests share: a demo archive with a hostile mail and a broken file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from evidence_archiver import Archive
from evidence_archiver.demo import run_demo
from evidence_archiver.importing import import_eml

HOSTILE_SUBJECT = '<img src=x onerror="alert(1)">Final notice'
HOSTILE_EML = (
    "From: Collector <collect@lenderx.com>\r\n"
    "To: me@example.com\r\n"
    f"Subject: {HOSTILE_SUBJECT}\r\n"
    "Date: Mon, 02 Sep 2024 10:00:00 +0800\r\n"
    "Message-ID: <hostile-1@lenderx.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<html><body onload=\"alert('body')\"><script>alert('inline')</script>"
    "<p>Pay now &lt;script&gt;alert('text')&lt;/script&gt;</p>"
    '<img src="http://tracker.example/p.gif" onerror="alert(\'img\')"></body></html>\r\n'
).encode()


def build_archive(folder: Path) -> Path:
    """The demo's archive (31 items of the Lender X case), a hostile HTML mail from the
    lender and an unreadable .eml, whose import problem the overview lists."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "archive.db"
    (folder / "hostile.eml").write_bytes(HOSTILE_EML)
    (folder / "broken.eml").write_bytes(b"")
    with Archive(path) as archive:
        run_demo(archive)
        import_eml(archive, [folder / "hostile.eml", folder / "broken.eml"], workers=0)
    return path


def copy_archive(source: Path, target: Path) -> Path:
    """A copy of an archive (SQLite's backup: whole, whatever is in its WAL)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return target
