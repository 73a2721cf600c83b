"""IMAP import speed: `evidence import imap` against mbsync and a bare imapclient loop, in one run.

Starts a private Dovecot on 127.0.0.1 (the test suite's fixture code, ``tests/dovecot.py``),
puts N mixed messages (the generator of ``benchmarks/import_mbox.py``: plain, HTML-only,
alternative, PDF and image attachments, a quarter Chinese, some GBK) straight into the
account's maildir, lets Dovecot index them once (a warm-up fetch that is not timed), then times
three ways of reading the whole INBOX over implicit TLS:

1. ``evidence import imap`` into a fresh archive, as a subprocess, like a user runs it (fetch,
   parse, store originals and attachments, index, custody log);
2. ``mbsync`` (Debian's isync) pulling the folder into an empty local maildir (copy only);
3. a bare imapclient loop: ``UID FETCH`` of ``BODY.PEEK[]`` in batches of 500, bytes discarded.

Targets: (1) no slower than (2), and (1) at least 70% of the speed of (3).

Then, as a figure the host's load does not move, the CPU seconds per message of the writer's
process (``getrusage`` of the importing process itself, all its threads) against those of the
processes it started (the fetching process and the parsing workers), with the fetcher in a
process of its own (the default for this size) and in a thread (``fetch_process=False``).

A shared host's speed drifts within minutes, so ``--rounds N`` (3 by default) runs the three N
times in a rotating order and reports each round's ratios and their median, with a reference
loop's time before and after (``hostspeed``).

Usage: python benchmarks/imap.py [--messages 20000] [--rounds 3] [--out benchmarks/out]
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import random
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import bytecode  # noqa: E402
import hostspeed  # noqa: E402
from import_mbox import _message as mixed_message  # noqa: E402

from dovecot import HOST, DovecotServer  # noqa: E402


def fill_maildir(server: DovecotServer, user: str, password: str, count: int) -> int:
    """Write ``count`` messages into the user's INBOX maildir; return their total size."""
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with IMAPClient(HOST, port=server.imaps_port, ssl_context=context) as client:
        client.login(user, password)
        client.select_folder("INBOX")  # makes Dovecot create the maildir
    cur = server.root / "mail" / user / "cur"
    owner = pwd.getpwnam("dovecot" if os.geteuid() == 0 else pwd.getpwuid(os.getuid()).pw_name)
    rng = random.Random(20240301)
    total = 0
    stamp = int(time.time())
    for n in range(count):
        raw = mixed_message(n, rng)
        path = cur / f"{stamp}.M{n}P1.bench,S={len(raw)}:2,S"
        path.write_bytes(raw)
        os.chown(path, owner.pw_uid, owner.pw_gid)
        total += len(raw)
    return total


def bare_loop(server: DovecotServer, user: str, password: str) -> int:
    """Fetch every message body in batches of 500 and discard it; return the bytes read."""
    context = ssl.create_default_context(cafile=str(server.ca_file))
    read = 0
    with IMAPClient(HOST, port=server.imaps_port, ssl_context=context, timeout=60) as client:
        client.login(user, password)
        client.select_folder("INBOX", readonly=True)
        uids = client.search()
        for i in range(0, len(uids), 500):
            response = client.fetch(uids[i : i + 500], ["BODY.PEEK[]"])
            read += sum(len(data[b"BODY[]"]) for data in response.values())
    return read


# One import in a fresh interpreter; prints the CPU seconds of this process and its children.
CPU_SCRIPT = """
import json, resource, sys
from pathlib import Path
from evidence_archiver import Archive
from evidence_archiver.connectors.imap import ImapAccount, import_imap
from evidence_archiver.connectors.imap_auth import Password
db, user, password, port, ca, in_child = sys.argv[1:7]
account = ImapAccount("127.0.0.1", user, port=int(port), ca_file=Path(ca))
with Archive(db) as archive:
    report = import_imap(archive, account, Password(password, "prompt"), folders=["INBOX"],
                         fetch_process=in_child == "yes")
own = resource.getrusage(resource.RUSAGE_SELF)
others = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"added": report.added, "own": own.ru_utime + own.ru_stime,
                  "others": others.ru_utime + others.ru_stime, "rss": own.ru_maxrss}))
"""


def cpu_per_message(
    server: DovecotServer, user: str, password: str, archive: Path, in_child: bool, count: int
) -> dict[str, float]:
    """CPU µs per message of the writer's process and of the processes it started."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{archive}{suffix}").unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", CPU_SCRIPT, str(archive), user, password,
         str(server.imaps_port), str(server.ca_file), "yes" if in_child else "no"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    figures = json.loads(done.stdout)
    assert figures["added"] == count, figures
    return {
        "own": figures["own"] / count * 1e6,
        "others": figures["others"] / count * 1e6,
        "rss_mb": figures["rss"] / 1024,
    }


def mbsync_config(server: DovecotServer, user: str, password: str, local: Path) -> Path:
    config = local.parent / "mbsyncrc"
    config.write_text(
        # mbsync 1.4 matches only DNS names in the certificate, not IP addresses.
        f"IMAPAccount bench\nHost localhost\nPort {server.imaps_port}\nUser {user}\n"
        f"Pass {password}\nSSLType IMAPS\nCertificateFile {server.ca_file}\n\n"
        "IMAPStore remote\nAccount bench\n\n"
        f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\n\n"
        "Channel bench\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\n"
        "Sync Pull\nSyncState *\n"
    )
    config.chmod(0o600)
    return config


def timed(label: str, count: int, size: int, func: object) -> float:
    start = time.perf_counter()
    func()  # type: ignore[operator]
    seconds = time.perf_counter() - start
    print(
        f"{label:<46} {seconds:8.2f} s  {count / seconds:8.0f} messages/s  "
        f"{size / seconds / 1e6:6.1f} MB/s",
        flush=True,
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    mbsync = shutil.which("mbsync")
    if mbsync is None:
        sys.exit("mbsync is not installed: apt-get install isync")

    root = Path(tempfile.mkdtemp(prefix="evidence-bench-dovecot-"))
    root.chmod(0o755)
    server = DovecotServer(root)
    try:
        server.start()
        account = server.add_user()
        size = fill_maildir(server, account.name, account.password, args.messages)
        print(
            f"{args.messages} mixed messages, {size / 1e6:.1f} MB, in Dovecot's maildir; "
            f"{os.cpu_count()} cores"
        )
        warm = bare_loop(server, account.name, account.password)  # Dovecot indexes once
        assert warm >= size, "Dovecot served fewer bytes than were written"

        archive = out / "bench-imap-archive.db"
        evidence = shutil.which("evidence", path=str(Path(sys.executable).parent)) or "evidence"
        bytecode.compile_sources()  # as an installed copy's are (see bytecode.py)

        def ours() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{archive}{suffix}").unlink(missing_ok=True)
            done = subprocess.run(
                [evidence, "import", "imap", "--host", HOST, "--user", account.name,
                 "--port", str(server.imaps_port), "--ca-file", str(server.ca_file),
                 "--folder", "INBOX", "--json"],
                env={**os.environ, "EVIDENCE_ARCHIVE": str(archive),
                     "EVIDENCE_IMAP_PASSWORD": account.password},
                check=True, capture_output=True,
            )  # fmt: skip
            report = json.loads(done.stdout)
            assert report["added"] == args.messages, report

        local = out / "mbsync-maildir"

        def theirs() -> None:
            shutil.rmtree(local, ignore_errors=True)
            local.mkdir(parents=True)
            config = mbsync_config(server, account.name, account.password, local)
            subprocess.run([mbsync, "-q", "-c", str(config), "bench"], check=True)

        def bare() -> None:
            bare_loop(server, account.name, account.password)

        runs = [
            ("ours", "evidence import imap (parse, store, index)", ours),
            ("mbsync", "mbsync to a local maildir (copy only)", theirs),
            ("bare", "bare imapclient fetch loop (bytes dropped)", bare),
        ]
        to_mbsync: list[float] = []
        to_bare: list[float] = []
        hostspeed.report("before")
        for round_number in range(args.rounds):
            print(f"round {round_number + 1}:")
            shift = round_number % len(runs)
            seconds = {
                key: timed(label, args.messages, size, func)
                for key, label, func in runs[shift:] + runs[:shift]
            }
            to_mbsync.append(seconds["ours"] / seconds["mbsync"])
            to_bare.append(seconds["bare"] / seconds["ours"])
            print(f"  ours / mbsync {to_mbsync[-1]:.2f}, ours / bare speed {to_bare[-1]:.2f}")
        print(
            f"ours / mbsync wall time:        {statistics.median(to_mbsync):.2f} median "
            f"({min(to_mbsync):.2f}-{max(to_mbsync):.2f}) (target <= 1.00)"
        )
        print(
            f"ours speed / bare loop speed:   {statistics.median(to_bare):.2f} median "
            f"({min(to_bare):.2f}-{max(to_bare):.2f}) (target >= 0.70)"
        )
        hostspeed.report("after")
        print("CPU per message (getrusage; the host's load does not change these much):")
        for round_number in range(2):
            for in_child in (True, False) if round_number == 0 else (False, True):
                cpu = cpu_per_message(
                    server, account.name, account.password, archive, in_child, args.messages
                )
                where = "fetcher in a process of its own:" if in_child else "fetcher in a thread:"
                print(
                    f"  {where:<33} writer's process {cpu['own']:5.0f} µs, "
                    f"the processes it started {cpu['others']:5.0f} µs, "
                    f"writer's peak memory {cpu['rss_mb']:.0f} MB",
                    flush=True,
                )
        print(f"archive size {archive.stat().st_size / 1e6:.1f} MB")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
