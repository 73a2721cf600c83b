"""Faults during an IMAP import: cut connections, a server that stops answering, kill -9.

Whatever happens, the archive ends up with every message exactly once, after at most one more
run, and an import that gives up says why.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dovecot import HOST, FaultProxy, ImapUser, make_message
from evidence_archiver import Archive
from evidence_archiver.connectors.imap import ImapAccount, ImapImportReport, import_imap
from evidence_archiver.connectors.imap_auth import Password
from evidence_archiver.hashing import sha256_bytes
from killing import items_committed, kill_with_helpers


def load(user: ImapUser, count: int, *, big_every: int = 0) -> list[bytes]:
    messages = [
        make_message(i, attachment=os.urandom(40_000) if big_every and i % big_every == 0 else None)
        for i in range(count)
    ]
    user.append("INBOX", messages)
    return messages


def via(proxy: FaultProxy, user: ImapUser, timeout: float = 10.0) -> ImapAccount:
    return ImapAccount(
        HOST, user.name, port=proxy.port, ca_file=user.server.ca_file, timeout=timeout
    )


def direct(user: ImapUser) -> ImapAccount:
    return ImapAccount(HOST, user.name, port=user.server.imaps_port, ca_file=user.server.ca_file)


def run(archive: Archive, user: ImapUser, account: ImapAccount, **options: Any) -> ImapImportReport:
    options.setdefault("workers", 0)
    options.setdefault("backoff", 0.05)
    options.setdefault("batch_bytes", 64 << 10)
    options.setdefault("ingest_batch", 10)
    return import_imap(archive, account, Password(user.password, "prompt"), **options)


def assert_each_exactly_once(archive: Archive, messages: list[bytes]) -> None:
    assert archive.status()["items"].get("email", 0) == len(messages)
    assert archive.status()["originals"] >= len(messages)
    for raw in messages:
        assert archive.read_original(sha256_bytes(raw)) == raw


def test_connection_cut_mid_fetch_reconnects_and_resumes(
    archive: Archive, imap_user: ImapUser
) -> None:
    messages = load(imap_user, 60, big_every=5)
    with FaultProxy(imap_user.server.imaps_port, cut_after=200_000) as proxy:
        report = run(archive, imap_user, via(proxy, imap_user))

    inbox = report.folders[0]
    assert inbox.stopped is None
    assert inbox.reconnects >= 1
    assert proxy.connections >= 2
    assert (inbox.added, inbox.duplicates) == (60, 0)
    assert_each_exactly_once(archive, messages)


def test_server_that_stops_answering_times_out_and_resumes(
    archive: Archive, imap_user: ImapUser
) -> None:
    messages = load(imap_user, 40, big_every=4)
    with FaultProxy(imap_user.server.imaps_port, stall_after=150_000) as proxy:
        started = time.monotonic()
        report = run(archive, imap_user, via(proxy, imap_user, timeout=3.0))

    assert time.monotonic() - started < 60
    inbox = report.folders[0]
    assert inbox.stopped is None
    assert inbox.reconnects >= 1
    assert_each_exactly_once(archive, messages)


def test_giving_up_keeps_what_was_fetched_and_the_next_run_finishes(
    archive: Archive, imap_user: ImapUser
) -> None:
    messages = load(imap_user, 60, big_every=5)
    with FaultProxy(imap_user.server.imaps_port, cut_after=250_000, refuse_after=1) as proxy:
        report = run(archive, imap_user, via(proxy, imap_user), retries=2)

    inbox = report.folders[0]
    assert inbox.stopped is not None
    assert "gave up after 3 attempts" in inbox.stopped
    assert "run the import again" in inbox.stopped
    kept = archive.status()["items"]["email"]
    assert 0 < kept < 60
    assert inbox.added == kept

    again = run(archive, imap_user, direct(imap_user))

    assert again.folders[0].stopped is None
    # Only what was not committed is fetched again (at most one ingest batch overlaps).
    assert again.folders[0].fetched <= 60 - kept + 10
    assert_each_exactly_once(archive, messages)


def test_bye_from_the_server_mid_fetch_reconnects_and_resumes(
    archive_path: Path, archive: Archive, imap_user: ImapUser
) -> None:
    messages = load(imap_user, 120, big_every=10)
    kicked = threading.Event()

    def kick_when_half_way() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and items_committed(archive_path) < 10:
            time.sleep(0.02)
        imap_user.server.kick(imap_user.name)
        kicked.set()

    kicker = threading.Thread(target=kick_when_half_way)
    # Slowed down so that the BYE arrives while batches are still being fetched.
    with FaultProxy(imap_user.server.imaps_port, delay=0.2, faulty_connections=0) as proxy:
        kicker.start()
        report = run(archive, imap_user, via(proxy, imap_user), batch_bytes=16 << 10)
        kicker.join(60)

    assert kicked.is_set()
    inbox = report.folders[0]
    assert inbox.stopped is None
    assert inbox.reconnects >= 1
    assert_each_exactly_once(archive, messages)


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
                batch_bytes=16 << 10, ingest_batch=5, workers=2)
"""


@pytest.mark.slow
def test_kill_9_then_rerun_keeps_every_message_exactly_once(
    archive_path: Path, imap_user: ImapUser
) -> None:
    messages = load(imap_user, 120, big_every=10)
    env = {**os.environ, "EVIDENCE_IMAP_PASSWORD": imap_user.password}
    # The proxy slows the transfer down so that the kill lands in the middle of the import.
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
            kill_with_helpers(child)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(10)
    assert child.returncode == -signal.SIGKILL
    kept = items_committed(archive_path)
    assert 10 <= kept < 120

    with Archive(archive_path) as archive:
        again = run(archive, imap_user, direct(imap_user), workers=2)
        assert again.folders[0].stopped is None
        assert_each_exactly_once(archive, messages)
        assert archive.status()["interrupted_imports"] >= 1
        assert archive.verify_custody() == []
        assert archive.integrity_check() == []
