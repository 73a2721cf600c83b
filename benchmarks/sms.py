"""Import speed and peak memory for SMS Backup & Restore files, at two sizes.

Generates a backup of N text messages (a quarter in Chinese, a few with surrogate-pair emoji) plus
M MMS each carrying a random picture (the full size is the issue's 200,000 SMS + 5,000 MMS with
~66 KB of media each, about 500 MB), then, each in a child process of its own so that the peak
is that run's alone:

* ``parse``: the reader only, in this one process (every capture made, media decoded, nothing
  stored);
* ``import``: :func:`import_phone_export` into a fresh archive (originals, items, attachments,
  search index, custody log), as ``evidence import sms`` does: the reader runs in a child
  process while this one writes.

It prints messages/s and the peak resident memory (``ru_maxrss``) of each run: of the writing
process, of the reader's own process where there is one, and their sum (an upper bound of what
both held at once). The target is 10,000 messages/s or more and a peak under 200 MB whatever
the file size: compare the two sizes.

Run:  .venv/bin/python benchmarks/sms.py --scale 0.05   (quick: 1,000 + 25 and 10,000 + 250)
      .venv/bin/python benchmarks/sms.py                (full: 20,000 + 500 and 200,000 + 5,000)
      .venv/bin/python benchmarks/sms.py --rounds 3     (each size three times, and the median:
                                                         a shared host's speed drifts)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from base64 import b64encode
from pathlib import Path
from typing import Any

import hostspeed

HERE = Path(__file__).resolve().parent
START_MS = 1704067200000  # 2024-01-01T00:00:00Z
MEDIA_BYTES = 66_000


def write_backup(path: Path, sms: int, mms: int, media_bytes: int = MEDIA_BYTES) -> int:
    """Stream a backup file to ``path``; return its size in bytes."""
    rng = __import__("random").Random(7)
    every = max(1, sms // max(1, mms)) if mms else 0
    with path.open("w", encoding="utf-8") as f:
        f.write("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n")
        f.write(f'<smses count="{sms + mms}" backup_set="bench" type="full">\n')
        made_mms = 0
        for n in range(sms):
            stamp = START_MS + n * 37_000
            number = f"+86 138 {n % 97:04d} {8000 + n % 13}"
            if n % 4 == 0:
                body = f"【乐贷】您的借款本期应还 {n % 5000}.00 元，请按时还款。第{n}条"
            elif n % 50 == 1:
                body = f"OK &#55357;&#56397; message {n}"
            else:
                body = f"Reminder {n}: your instalment of {n % 5000}.00 CNY is due on the 10th."
            f.write(
                f'  <sms protocol="0" address="{number}" date="{stamp}" type="{1 + n % 2}" '
                f'subject="null" body="{body}" toa="null" sc_toa="null" service_center="null" '
                f'read="1" status="-1" locked="0" date_sent="{stamp}" sub_id="1" '
                f'readable_date="Jan 1, 2024 8:00:00 AM" contact_name="LenderX" />\n'
            )
            if every and n % every == 0 and made_mms < mms:
                made_mms += 1
                picture = b64encode(rng.randbytes(media_bytes)).decode("ascii")
                f.write(
                    f'  <mms date="{stamp + 1}" msg_box="1" address="{number}" sub="null" '
                    f'contact_name="LenderX" readable_date="Jan 1, 2024 8:00:00 AM">\n'
                    "    <parts>\n"
                    f'      <part seq="0" ct="image/jpeg" name="photo{made_mms}.jpg" '
                    f'data="{picture}" />\n'
                    f'      <part seq="0" ct="text/plain" name="text.txt" text="picture {n}" />\n'
                    "    </parts>\n"
                    f'    <addrs><addr address="{number}" type="137" /></addrs>\n'
                    "  </mms>\n"
                )
        f.write("</smses>\n")
    return path.stat().st_size


def child(mode: str, backup: Path, db: Path) -> dict[str, Any]:
    from evidence_archiver import Archive
    from evidence_archiver.connectors.sms import PhoneExport, import_phone_export
    from evidence_archiver.model import Capture

    started = time.perf_counter()
    if mode == "parse":
        count = 0
        with PhoneExport(backup, region="CN") as export:
            for capture in export.captures():
                if isinstance(capture, Capture) and capture.item is not None:
                    count += 1
        added = count
    else:
        with Archive(db) as archive:
            report, _ = import_phone_export(archive, backup, region="CN")
        added = report.added
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # The largest child that ended: the reader process, when the import started one.
    reader_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "mode": mode,
        "messages": added,
        "seconds": seconds,
        "peak_mb": peak_kb / 1024,
        "reader_mb": reader_kb / 1024,
    }


def run(mode: str, backup: Path, db: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(backup), str(db)],
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
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = the issue's sizes")
    parser.add_argument("--work", type=Path, default=HERE / "out" / "sms")
    parser.add_argument(
        "--rounds", type=int, default=1, help="run each size N times (the host's speed drifts)"
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("MODE", "BACKUP", "DB"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        mode, backup, db = args.child
        print(json.dumps(child(mode, Path(backup), Path(db))))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    sizes = [
        (int(20_000 * args.scale), int(500 * args.scale)),
        (int(200_000 * args.scale), int(5_000 * args.scale)),
    ]
    header = ("size", "file MB", "mode", "messages", "s", "msg/s", "peak MB", "reader", "sum")
    hostspeed.report("before")
    print("{:>22} {:>8} {:>7} {:>9} {:>7} {:>8} {:>8} {:>7} {:>6}".format(*header))
    import_rates: dict[str, list[float]] = {}
    for round_number in range(args.rounds):
        for sms, mms in sizes:
            backup = args.work / f"sms-{sms}-{mms}.xml"
            if not backup.exists():
                write_backup(backup, sms, mms)
            size_mb = backup.stat().st_size / 1e6
            label = f"{sms} SMS + {mms} MMS"
            for mode in ("parse", "import"):
                db = args.work / f"archive-{sms}-{round_number}.db"
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
                result = run(mode, backup, db)
                rate = result["messages"] / result["seconds"]
                if mode == "import":
                    import_rates.setdefault(label, []).append(rate)
                print(
                    f"{label:>22} {size_mb:8.0f} {mode:>7} {result['messages']:9d} "
                    f"{result['seconds']:7.1f} {rate:8.0f} {result['peak_mb']:8.0f} "
                    f"{result['reader_mb']:7.0f} {result['peak_mb'] + result['reader_mb']:6.0f}",
                    flush=True,
                )
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
    if args.rounds > 1:
        for label, rates in import_rates.items():
            print(
                f"{label}: import {statistics.median(rates):.0f} msg/s median over "
                f"{len(rates)} rounds ({min(rates):.0f}-{max(rates):.0f}; target 10,000)"
            )
    hostspeed.report("after")
    if os.environ.get("KEEP_BENCH_FILES") != "1":
        for file in args.work.glob("sms-*.xml"):
            file.unlink()


if __name__ == "__main__":
    main()
