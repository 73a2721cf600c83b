"""Import speed for mbox files: `evidence import mbox` against two baselines, in one run.

Generates a mixed mbox (plain text, HTML-only, multipart/alternative, PDF and image attachments;
25% Chinese, half of it UTF-8 and half GBK labelled gb2312) and prints messages/s for:

1. ``evidence import mbox`` into a fresh archive (originals, attachments, search index, custody
   log all stored; parsing in worker processes), as a subprocess, like a user runs it;
2. a bare loop that only parses each message with the standard library's default (compat32)
   parser, via ``mailbox.mbox`` (nothing stored);
3. ``mbox-to-sqlite`` (simonw) on the same file, installed in its own virtual environment under
   ``benchmarks/out/`` (it is not a dependency of ours).

Our modules are compiled to bytecode first, as pip compiles an installed copy's and did
mbox-to-sqlite's (``bytecode.py``): without that, a development tree on a machine that sets
``PYTHONDONTWRITEBYTECODE`` compiles every module again at each start.

The machine's speed can drift by half within minutes (a shared host), which would skew ratios
between runs made minutes apart. So ``--rounds N`` runs the three N times, in a rotating order,
and reports each round's ratios and their median; ``hostspeed`` prints a reference loop's time
before and after, to read the absolute figures against.

Usage: python benchmarks/import_mbox.py [--messages 20000] [--rounds 3] [--out benchmarks/out]
"""

from __future__ import annotations

import argparse
import base64
import mailbox
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import bytecode
import hostspeed

HERE = Path(__file__).resolve().parent
LOREM = [
    "Please",
    "find",
    "the",
    "statement",
    "for",
    "your",
    "account",
    "below.",
    "The",
    "instalment",
    "due",
    "this",
    "month",
    "has",
    "not",
    "been",
    "received.",
    "If",
    "you",
    "have",
    "already",
    "paid,",
    "please",
    "ignore",
    "this",
    "message.",
]
HANZI = "您的贷款已逾期请尽快还款我司同意延期申请展期三个月不收取逾期费用上报征信还款计划见附件客服"


def _text(rng: random.Random, chinese: bool, words: int) -> str:
    if chinese:
        return "".join(rng.choice(HANZI) for _ in range(words * 2)) + "。"
    return " ".join(rng.choice(LOREM) for _ in range(words)) + "."


def _message(n: int, rng: random.Random) -> bytes:
    chinese = n % 4 == 0
    gbk = chinese and n % 8 == 0
    charset = "gb2312" if gbk else "utf-8"
    body = "\n".join(_text(rng, chinese, 30) for _ in range(6))
    subject = f"Statement {n} " + (_text(rng, True, 3) if chinese else "for your loan")
    subject_header = "=?utf-8?b?" + base64.b64encode(subject.encode()).decode() + "?="
    head = (
        f"From: LenderX <service{n % 7}@lenderx.com>\nTo: me@example.com\n"
        f"Subject: {subject_header}\nDate: Fri, 01 Mar 2024 09:{n % 60:02d}:00 +0800\n"
        f"Message-ID: <bench-{n}@lenderx>\nMIME-Version: 1.0\n"
    )
    encoded = body.encode("gb18030" if gbk else "utf-8")
    kind = n % 5
    if kind == 0:  # plain text
        return (
            (
                head + f"Content-Type: text/plain; charset={charset}\n"
                "Content-Transfer-Encoding: 8bit\n\n"
            ).encode()
            + encoded
            + b"\n"
        )
    if kind == 1:  # HTML only
        html = "<html><body>" + "".join(f"<p>{line}</p>" for line in body.split("\n"))
        return (
            (
                head + f"Content-Type: text/html; charset={charset}\n"
                "Content-Transfer-Encoding: 8bit\n\n"
            ).encode()
            + (html + "</body></html>").encode("gb18030" if gbk else "utf-8")
            + b"\n"
        )
    boundary = f"b{n}"
    parts = [
        f"--{boundary}\nContent-Type: text/plain; charset={charset}\n"
        "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(encoded).decode()
    ]
    if kind == 2:  # multipart/alternative
        html = ("<p>" + body.replace("\n", "</p><p>") + "</p>").encode()
        parts.append(
            f"--{boundary}\nContent-Type: text/html; charset=utf-8\n"
            "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(html).decode()
        )
        mime = "multipart/alternative"
    else:  # attachments: a PDF-like file, sometimes an image
        blob = rng.randbytes(6000 if kind == 3 else 20000)
        name, media = (
            ("statement.pdf", "application/pdf") if kind == 3 else ("photo.jpg", "image/jpeg")
        )
        parts.append(
            f'--{boundary}\nContent-Type: {media}; name="{name}"\n'
            f'Content-Disposition: attachment; filename="{name}"\n'
            "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(blob).decode()
        )
        mime = "multipart/mixed"
    text = head + f'Content-Type: {mime}; boundary="{boundary}"\n\n' + "".join(parts)
    return (text + f"--{boundary}--\n").encode()


def generate(path: Path, count: int) -> None:
    rng = random.Random(20240301)
    with path.open("wb") as f:
        for n in range(count):
            f.write(b"From service@lenderx.com Fri Mar  1 09:30:00 2024\n")
            for line in _message(n, rng).splitlines(keepends=True):
                f.write(b">" + line if line.lstrip(b">").startswith(b"From ") else line)
            f.write(b"\n")


def timed(label: str, count: int, func: object) -> float:
    start = time.perf_counter()
    func()  # type: ignore[operator]
    seconds = time.perf_counter() - start
    rate = count / seconds
    print(f"{label:<42} {seconds:8.2f} s  {rate:10.0f} messages/s", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    mbox = out / f"mixed-{args.messages}.mbox"
    if not mbox.exists():
        generate(mbox, args.messages)
    print(
        f"{mbox.name}: {args.messages} messages, {mbox.stat().st_size / 1e6:.1f} MB, "
        f"{os.cpu_count()} cores"
    )

    archive = out / "bench-archive.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{archive}{suffix}").unlink(missing_ok=True)
    evidence = shutil.which("evidence", path=str(Path(sys.executable).parent)) or "evidence"
    bytecode.compile_sources()  # as pip compiled mbox-to-sqlite's (see bytecode.py)

    def ours() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{archive}{suffix}").unlink(missing_ok=True)
        subprocess.run(
            [evidence, "import", "mbox", str(mbox), "--json"],
            env={**os.environ, "EVIDENCE_ARCHIVE": str(archive)},
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def bare() -> None:
        for message in mailbox.mbox(mbox):
            assert message is not None

    venv = out / "venv-mbox-to-sqlite"
    tool = venv / "bin" / "mbox-to-sqlite"
    if not tool.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "mbox-to-sqlite"], check=True)
    other_db = out / "mbox-to-sqlite.db"

    def theirs() -> None:
        other_db.unlink(missing_ok=True)
        subprocess.run(
            [str(tool), "mbox", str(other_db), str(mbox)], check=True, stdout=subprocess.DEVNULL
        )

    runs = [
        ("ours", "evidence import mbox (everything stored)", ours),
        ("bare", "bare compat32 parse loop (nothing stored)", bare),
        ("theirs", "mbox-to-sqlite (headers + body text)", theirs),
    ]
    to_bare: list[float] = []
    to_theirs: list[float] = []
    hostspeed.report("before")
    for round_number in range(args.rounds):
        print(f"round {round_number + 1}:")
        shift = round_number % len(runs)
        rates = {
            key: timed(label, args.messages, func)
            for key, label, func in runs[shift:] + runs[:shift]
        }
        to_bare.append(rates["ours"] / rates["bare"])
        to_theirs.append(rates["ours"] / rates["theirs"])
        print(f"  ours / bare {to_bare[-1]:.2f}x, ours / mbox-to-sqlite {to_theirs[-1]:.2f}x")
    print(
        f"ratio ours / bare parse loop:  {statistics.median(to_bare):.2f}x median "
        f"({min(to_bare):.2f}-{max(to_bare):.2f}) (target >= 0.6)"
    )
    print(
        f"ratio ours / mbox-to-sqlite:   {statistics.median(to_theirs):.2f}x median "
        f"({min(to_theirs):.2f}-{max(to_theirs):.2f}) (target ~1)"
    )
    print(f"archive size {archive.stat().st_size / 1e6:.1f} MB")
    hostspeed.report("after")


if __name__ == "__main__":
    main()
