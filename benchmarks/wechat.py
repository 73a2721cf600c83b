"""Import speed and peak memory for a MemoTrace (留痕) WeChat CSV, beside a bare csv.reader loop.

Generates a 12-column MemoTrace CSV of N messages of one chat (the issue's 200,000 by default):
mostly Chinese and mixed text, some multi-line and quoted, with images, voice messages,
transfers and quoted replies as XML in StrContent the way the exporter writes them. Then, each
in a child process of its own so that the peak is that run's alone:

* ``csv.reader``: a bare loop over the file with the standard library (``for row in
  csv.reader(f)``), the floor any CSV importer stands on;
* ``parse``: our reader only (every capture made, XML read, nothing stored);
* ``import``: :func:`import_phone_export` into a fresh archive (items, the file as an original,
  the search index, the custody log), as ``evidence import wechat`` does: the reader runs in a
  child process while this one writes.

It prints messages/s, the peak resident memory (``ru_maxrss``) of the run's process and of its
reader process where there is one, and the import's time as a multiple of the bare loop's.
The target is 10,000 messages/s or more and a peak under 200 MB.

Run:  .venv/bin/python benchmarks/wechat.py --scale 0.05   (quick: 10,000 messages)
      .venv/bin/python benchmarks/wechat.py                (full: 200,000 messages)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import hostspeed

HERE = Path(__file__).resolve().parent
START = 1704067200  # 2024-01-01T00:00:00Z
WXID = "wxid_lenderx_kf01"
HEADER = [
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


def content(n: int) -> tuple[int, int, str]:
    """``(Type, SubType, StrContent)`` of message ``n``: the mix of a real service chat."""
    pick = n % 40
    if pick == 0:
        return 3, 0, f'<?xml version="1.0"?><msg><img md5="{n:032x}" length="20480" /></msg>'
    if pick == 1:
        return 34, 0, f'<msg><voicemsg voicelength="{3000 + n % 9000}" clientmsgid="v{n}" /></msg>'
    if pick == 2:
        return (
            49,
            2000,
            "<msg><appmsg><title>微信转账</title><type>2000</type><wcpayinfo><paysubtype>1"
            f"</paysubtype><feedesc>￥{n % 5000}.00</feedesc><pay_memo>第{n % 6 + 1}期还款"
            "</pay_memo></wcpayinfo></appmsg></msg>",
        )
    if pick == 3:
        return (
            49,
            57,
            f"<msg><appmsg><title>好的，收到 {n}</title><type>57</type><refermsg><type>1</type>"
            f"<displayname>乐贷客服</displayname><content>您的第{n % 6 + 1}期还款日已调整"
            "</content></refermsg></appmsg></msg>",
        )
    if pick % 4 == 0:
        return 1, 0, f"您好，您的借款本期应还 {n % 5000}.00 元，请按时还款。\n第{n}条消息"
    if pick % 4 == 1:
        return 1, 0, f'Reminder {n}: "your instalment" of {n % 5000}.00 CNY is due, 谢谢'
    return 1, 0, f"好的，我知道了，会在{n % 28 + 1}号之前还款。Message {n}."


def write_csv(path: Path, messages: int) -> int:
    """Stream the CSV to ``path``; return its size in bytes."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for n in range(messages):
            created = START + n * 17
            type_, sub, text = content(n)
            send = n % 3 == 0
            local = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(created + 8 * 3600))
            names = ["王小明", "王小明", "wxid_me"] if send else ["乐贷客服", "乐贷LenderX", WXID]
            writer.writerow([n + 1, WXID, type_, sub, int(send), created, 2, text, local, *names])
    return path.stat().st_size


def child(mode: str, export: Path, db: Path) -> dict[str, Any]:
    started = time.perf_counter()
    if mode == "csv.reader":
        count = 0
        with export.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            for _row in reader:
                count += 1
        done = count
    elif mode == "parse":
        from evidence_archiver.connectors.sms import PhoneExport
        from evidence_archiver.model import Capture

        count = 0
        with PhoneExport(export) as opened:
            for capture in opened.captures():
                if isinstance(capture, Capture) and capture.item is not None:
                    count += 1
        done = count
    else:
        from evidence_archiver import Archive
        from evidence_archiver.connectors.sms import import_phone_export

        with Archive(db) as archive:
            report, _ = import_phone_export(archive, export)
        done = report.added
    seconds = time.perf_counter() - started
    return {
        "mode": mode,
        "messages": done,
        "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "reader_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def run(mode: str, export: Path, db: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(export), str(db)],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"the {mode} run failed:\n{out.stderr}")
    return dict(json.loads(out.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 200,000 messages")
    parser.add_argument("--work", type=Path, default=HERE / "out" / "wechat")
    parser.add_argument(
        "--child", nargs=3, metavar=("MODE", "EXPORT", "DB"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        mode, export, db = args.child
        print(json.dumps(child(mode, Path(export), Path(db))))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    messages = int(200_000 * args.scale)
    export = args.work / f"乐贷客服-{messages}_utf8.csv"
    size_mb = write_csv(export, messages) / 1e6
    hostspeed.report("before")
    print(f"{messages} messages, {size_mb:.0f} MB")
    header = ("mode", "messages", "s", "msg/s", "peak MB", "reader MB", "x csv.reader")
    print("{:>11} {:>9} {:>7} {:>9} {:>8} {:>10} {:>13}".format(*header))
    bare = 0.0
    for mode in ("csv.reader", "parse", "import"):
        db = args.work / "archive.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        result = run(mode, export, db)
        seconds = result["seconds"]
        bare = bare or seconds
        print(
            f"{mode:>11} {result['messages']:9d} {seconds:7.2f} "
            f"{result['messages'] / seconds:9.0f} {result['peak_mb']:8.0f} "
            f"{result['reader_mb']:10.0f} {seconds / bare:13.1f}",
            flush=True,
        )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    hostspeed.report("after")
    if os.environ.get("KEEP_BENCH_FILES") != "1":
        export.unlink()


if __name__ == "__main__":
    main()
