"""Fetching and parsing in a process of its own (``fetch_process=True``, the default for folders
with 8 MB of new mail or more), against a real Dovecot: the same archive as the in-process path,
on a connection of its own that sends ID before EXAMINE, resuming, reconnecting after a cut, a
clear reason when it gives up or its process dies, and kill -9 in the middle then a re-run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dovecot import HOST, FaultProxy, ImapUser, NetEaseProxy, make_message
from evidence_archiver import Archive
from evidence_archiver.connectors.imap import (
    FolderReport,
    ImapAccount,
    ImapImportReport,
    import_imap,
)
from evidence_archiver.connectors.imap_auth import Password
from evidence_archiver.hashing import sha256_bytes
from killing import descendants, items_committed, kill_with_helpers


def load(user: ImapUser, count: int, *, big_every: int = 0, first: int = 0) -> list[bytes]:
    messages = [
        make_message(i, attachment=os.urandom(40_000) if big_every and i % big_every == 0 else None)
        for i in range(first, first + count)
    ]
    user.append("INBOX", messages)
    return messages


def direct(user: ImapUser, **overrides: Any) -> ImapAccount:
    settings: dict[str, Any] = {
        "host": HOST,
        "user": user.name,
        "port": user.server.imaps_port,
        "ca_file": user.server.ca_file,
        "timeout": 10.0,
    }
    settings.update(overrides)
    return ImapAccount(**settings)


def via(proxy: FaultProxy, user: ImapUser, timeout: float = 10.0) -> ImapAccount:
    return direct(user, port=proxy.port, timeout=timeout)


def run(archive: Archive, user: ImapUser, account: ImapAccount, **options: Any) -> ImapImportReport:
    options.setdefault("fetch_process", True)
    options.setdefault("backoff", 0.05)
    options.setdefault("batch_bytes", 64 << 10)
    options.setdefault("ingest_batch", 10)
    options.setdefault("folders", ["INBOX"])
    return import_imap(archive, account, Password(user.password, "prompt"), **options)


def assert_each_exactly_once(archive: Archive, messages: list[bytes]) -> None:
    assert archive.status()["items"].get("email", 0) == len(messages)
    for raw in messages:
        assert archive.read_original(sha256_bytes(raw)) == raw


def items_by_locator(archive: Archive) -> dict[str, tuple[Any, ...]]:
    rows = archive.conn.execute(
        "SELECT source_locator, kind, occurred_at, sender, recipients, title, body, thread_key,"
        " message_id, flags, details, original_sha256, parse_status, parse_error FROM items"
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


class Recorder:
    def __init__(self) -> None:
        self.advanced = [0, 0]
        self.threads: set[int] = set()

    def folder_started(self, folder: str, messages: int, size: int) -> None:
        self.started = (messages, size)

    def advance(self, folder: str, messages: int, size: int) -> None:
        self.threads.add(threading.get_ident())
        self.advanced[0] += messages
        self.advanced[1] += size

    def folder_finished(self, report: FolderReport) -> None:
        self.finished = report

    def warn(self, message: str) -> None:
        pass


def test_a_process_of_its_own_archives_what_the_in_process_path_does(
    tmp_path: Path, imap_user: ImapUser
) -> None:
    messages = load(imap_user, 30, big_every=7)
    progress = Recorder()
    with Archive(tmp_path / "child.db") as child, Archive(tmp_path / "here.db") as here:
        report = run(child, imap_user, direct(imap_user), progress=progress)
        run(here, imap_user, direct(imap_user), fetch_process=False, workers=0)

        inbox = report.folders[0]
        assert (inbox.stopped, inbox.added, inbox.fetched) == (None, 30, 30)
        assert inbox.bytes == sum(len(m) for m in messages)
        assert progress.started == (30, inbox.bytes)
        assert progress.advanced == [30, inbox.bytes]
        assert progress.threads == {threading.get_ident()}  # the calling thread, as promised
        assert_each_exactly_once(child, messages)
        # The same items, to the column, whichever process parsed them.
        assert items_by_locator(child) == items_by_locator(here)
        assert child.verify_custody() == []

        # Incremental: the next run asks only for what is new.
        again = run(child, imap_user, direct(imap_user))
        assert (again.folders[0].to_fetch, again.folders[0].added) == (0, 0)
        newer = load(imap_user, 5, first=100)
        third = run(child, imap_user, direct(imap_user))
        assert (third.folders[0].to_fetch, third.folders[0].added) == (5, 5)
        assert_each_exactly_once(child, messages + newer)


def test_its_own_connection_sends_id_before_opening_the_folder(
    archive: Archive, netease_user: ImapUser
) -> None:
    messages = [make_message(i, to=netease_user.name) for i in range(4)]
    netease_user.append("INBOX", messages)
    with NetEaseProxy(netease_user.server.imap_port) as proxy:
        account = ImapAccount(
            HOST, netease_user.name, port=proxy.port, security="plaintext", provider="163"
        )
        report = run(archive, netease_user, account)

    assert report.complete, [f.stopped for f in report.folders]
    assert report.folders[0].added == 4
    assert len(proxy.commands) >= 2  # the planning connection and the fetching one
    for commands in proxy.commands:
        if "EXAMINE" in commands:
            assert "ID" in commands
            assert commands.index("ID") < commands.index("EXAMINE")
    assert_each_exactly_once(archive, messages)


def test_a_cut_on_the_fetching_connection_reconnects_and_resumes(
    archive: Archive, imap_user: ImapUser
) -> None:
    messages = load(imap_user, 60, big_every=5)
    # The first connection plans (a few kB); the second, the fetching process's, is cut.
    with FaultProxy(imap_user.server.imaps_port, cut_after=200_000, faulty_connections=2) as proxy:
        report = run(archive, imap_user, via(proxy, imap_user))

    inbox = report.folders[0]
    assert inbox.stopped is None
    assert inbox.reconnects >= 1
    assert proxy.connections >= 3
    assert (inbox.added, inbox.duplicates) == (60, 0)
    assert_each_exactly_once(archive, messages)


def test_giving_up_keeps_what_was_fetched_and_the_next_run_finishes(
    archive: Archive, imap_user: ImapUser
) -> None:
    messages = load(imap_user, 60, big_every=5)
    with FaultProxy(
        imap_user.server.imaps_port, cut_after=250_000, faulty_connections=2, refuse_after=2
    ) as proxy:
        report = run(archive, imap_user, via(proxy, imap_user), retries=2)

    inbox = report.folders[0]
    assert inbox.stopped is not None
    assert "gave up after 3 attempts" in inbox.stopped
    kept = archive.status()["items"]["email"]
    assert 0 < kept < 60
    assert inbox.added == kept

    again = run(archive, imap_user, direct(imap_user))
    assert again.folders[0].stopped is None
    assert again.folders[0].fetched <= 60 - kept + 10
    assert_each_exactly_once(archive, messages)


def parent_cmdline(pid: int) -> bytes:
    """The command line of the parent of process ``pid`` (b"" when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        return Path(f"/proc/{parent}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return b""


def test_a_fetching_process_that_dies_stops_the_folder_with_a_reason(
    archive_path: Path, archive: Archive, imap_user: ImapUser
) -> None:
    messages = load(imap_user, 120, big_every=10)
    killed: list[int] = []

    def kill_the_fetcher() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and items_committed(archive_path) < 10:
            time.sleep(0.02)
        ours = Path("/proc/self/cmdline").read_bytes()
        for pid in descendants(os.getpid()):
            # A forked process has this one's command line (Dovecot and its helpers do not);
            # from Python 3.12 on it is a child of the fork server, which names itself.
            if Path(f"/proc/{pid}/cmdline").read_bytes() == ours or b"forkserver" in parent_cmdline(
                pid
            ):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    killer = threading.Thread(target=kill_the_fetcher)
    with FaultProxy(imap_user.server.imaps_port, delay=0.2, faulty_connections=0) as proxy:
        killer.start()
        report = run(archive, imap_user, via(proxy, imap_user), batch_bytes=16 << 10)
        killer.join(60)

    assert killed
    inbox = report.folders[0]
    assert inbox.stopped is not None
    assert "stopped unexpectedly" in inbox.stopped
    assert "run the import again" in inbox.stopped
    assert 10 <= inbox.added < 120

    again = run(archive, imap_user, direct(imap_user))
    assert again.folders[0].stopped is None
    assert_each_exactly_once(archive, messages)
    assert archive.verify_custody() == []


KILL_SCRIPT = """
import sys
from pathlib import Path
from evidence_archiver import Archive
from evidence_archiver.connectors.imap import ImapAccount, import_imap
from evidence_archiver.connectors.imap_auth import resolve_credentials

db, user, port, ca = sys.argv[1:5]
account = ImapAccount("127.0.0.1", user, port=int(port), ca_file=Path(ca))
with Archive(db) as archive:
    import_imap(archive, account, resolve_credentials(user, "127.0.0.1"),
                batch_bytes=16 << 10, ingest_batch=5, fetch_process=True)
"""


@pytest.mark.slow
def test_kill_9_then_rerun_keeps_every_message_exactly_once(
    archive_path: Path, imap_user: ImapUser
) -> None:
    messages = load(imap_user, 120, big_every=10)
    env = {**os.environ, "EVIDENCE_IMAP_PASSWORD": imap_user.password}
    with FaultProxy(imap_user.server.imaps_port, delay=0.2, faulty_connections=0) as proxy:
        child = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, str(archive_path), imap_user.name,
             str(proxy.port), str(imap_user.server.ca_file)],
            env=env,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and items_committed(archive_path) < 10:
                assert child.poll() is None, "the import ended before it could be killed"
                time.sleep(0.01)
            assert descendants(child.pid), "the fetching process was not running"
            kill_with_helpers(child)  # the fetching process must end by itself
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(10)
    assert child.returncode == -signal.SIGKILL
    kept = items_committed(archive_path)
    assert 10 <= kept < 120

    with Archive(archive_path) as archive:
        again = run(archive, imap_user, direct(imap_user))
        assert again.folders[0].stopped is None
        assert_each_exactly_once(archive, messages)
        assert archive.status()["interrupted_imports"] >= 1
        assert archive.verify_custody() == []
        assert archive.integrity_check() == []


class Interrupted(Exception):
    pass


class StopAtFirstProgress(Recorder):
    def advance(self, folder: str, messages: int, size: int) -> None:
        raise Interrupted("the user pressed Ctrl-C")


def test_a_writer_that_stops_early_stops_the_fetching_process(
    archive: Archive, imap_user: ImapUser
) -> None:
    messages = load(imap_user, 300)
    ours = Path("/proc/self/cmdline").read_bytes()

    def forked() -> list[int]:
        found = []
        for pid in descendants(os.getpid()):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/cmdline").read_bytes() == ours:
                    found.append(pid)
        return found

    with pytest.raises(Interrupted):
        run(archive, imap_user, direct(imap_user), progress=StopAtFirstProgress())
    assert forked() == []  # stopped and reaped, not left behind holding the archive open

    # What was committed before the interruption stays; the next run finishes the folder.
    again = run(archive, imap_user, direct(imap_user))
    assert again.folders[0].stopped is None
    assert_each_exactly_once(archive, messages)
