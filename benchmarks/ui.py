"""Render times of the review app's main pages on a large archive, through the real server.

    .venv/bin/python benchmarks/ui.py --items 50000                       # develop on this
    .venv/bin/python benchmarks/ui.py --archive benchmarks/out/ui-1m.db   # the issue's target

Builds (or reuses, with ``--archive``) the generated archive of ``benchmarks/search.py`` (N
items through ``Archive.ingest``, one case "Lender X" with ~5% of them, 10% Chinese), starts
``evidence ui``'s server on 127.0.0.1 in this process (uvicorn on its own thread, exactly as
``serve`` runs it), and fetches each main page over HTTP with the session cookie, timing from
the request to the last byte: the overview, the case page, pages of the case's timeline
spread over the whole case, searches for English and Chinese terms (with highlighted
snippets), and item pages of random items. Each page class is fetched ``--rounds`` times
after a warm-up; its median and 95th percentile are printed.

Then the first render of the overview, case and timeline pages right after a change to the
case (an item unlinked, or linked again, through the app), when the app's cache of what is
costly to read on a large archive is empty; and, beside all this, the CLI's own search time
for the same terms on the same archive (``evidence search`` as a subprocess, Python start-up
included, and ``Archive.search`` in process). The exit status is 0 when every median of the
main pages is under 200 ms. The items it unlinks it links again: the case ends as it began
(plus a few custody events).
"""

from __future__ import annotations

import argparse
import http.client
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import search as search_bench  # noqa: E402 - the generator of benchmarks/search.py

from evidence_archiver import Archive  # noqa: E402
from evidence_archiver.ui import UiConfig  # noqa: E402
from evidence_archiver.ui.security import cookie_name, csrf_token  # noqa: E402
from evidence_archiver.ui.server import prepare  # noqa: E402

TARGET_MS = 200.0
EN_TERMS = ["payment", "overdue", "extension", "statement", "harassment", "settlement"]
ZH_TERMS = ["展期", "逾期", "还款计划", "催收", "减免罚息", "协商"]


def fetch(conn: http.client.HTTPConnection, path: str, cookie: str) -> float:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie})
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise SystemExit(f"{path}: HTTP {response.status}: {body[:300]!r}")
    return elapsed


def summary(label: str, values: list[float]) -> float:
    med = statistics.median(values)
    p95 = sorted(values)[max(0, round(len(values) * 0.95) - 1)]
    print(f"{label:<34} n={len(values):>3}  median {med:7.1f} ms  p95 {p95:7.1f} ms")
    return med


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--archive", type=Path, help="archive to build or reuse")
    parser.add_argument("--rounds", type=int, default=20, help="fetches per page class")
    args = parser.parse_args(argv)
    path = args.archive or Path(tempfile.mkdtemp(prefix="evidence-ui-bench-")) / "archive.db"
    with Archive(path) as archive:
        if not args.archive or not path.exists() or archive.status()["total"] < args.items:
            search_bench.build(archive, args.items)
        total = archive.status()["total"]
        case = archive.cases()[0]
        cli_inproc = []
        for term in EN_TERMS + ZH_TERMS:
            archive.search(term)
            started = time.perf_counter()
            archive.search(term)
            cli_inproc.append((time.perf_counter() - started) * 1000)
    print(f"archive: {path} ({path.stat().st_size / 2**20:,.0f} MiB, {total:,} items)")
    print(f"case {case.slug!r}: {case.items:,} items")

    prepared = prepare(UiConfig(archive=path, port=0))
    thread = threading.Thread(target=prepared.run, name="bench-ui", daemon=True)
    thread.start()
    while not prepared.server.started:
        time.sleep(0.05)
    port = prepared.config.port
    cookie = f"{cookie_name(port)}={prepared.config.secret}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    rng = random.Random(20240401)
    last_page = max(1, case.items // 50)
    pages: dict[str, list[str]] = {
        "overview": ["/"],
        "case": [f"/cases/{case.slug}"],
        "timeline page (50 items)": [
            f"/cases/{case.slug}/timeline?page={rng.randint(1, last_page)}" for _ in range(40)
        ],
        "search, English": [f"/search?q={quote(t)}" for t in EN_TERMS],
        "search, Chinese": [f"/search?q={quote(t)}" for t in ZH_TERMS],
        "item": [f"/items/{rng.randint(1, total)}" for _ in range(40)],
    }
    medians: dict[str, float] = {}
    all_times: list[float] = []
    print(f"\nrender time through the real server (request to last byte), {total:,} items:")
    try:
        for label, paths in pages.items():
            for p in paths[: min(len(paths), 3)]:
                fetch(conn, p, cookie)  # warm-up
            times = [fetch(conn, paths[i % len(paths)], cookie) for i in range(args.rounds)]
            medians[label] = summary(label, times)
            all_times += times
        summary("all main pages", all_times)
        # Right after a change to the case (an item taken out, then put back, through the
        # app) nothing is cached: the overview's counts, the case's summary and its timeline
        # order are read again.
        print("\nthe first render after a change to the case (nothing cached):")
        csrf = csrf_token(prepared.config.secret)
        cold: dict[str, list[float]] = {"overview": [], "case": [], "timeline page (50 items)": []}
        with Archive(path) as archive:
            members = archive.timeline_ids(case.slug, limit=1000)
        changes = 0
        for label in cold:
            # An even number of changes per page: every item taken out is put back.
            for i in range(2 * max(2, args.rounds // 8)):
                action = "unlink" if changes % 2 == 0 else "link"
                conn.request(
                    "POST",
                    f"/cases/{case.slug}/{action}",
                    body=f"csrf={csrf}&item={members[changes // 2]}",
                    headers={
                        "Cookie": cookie,
                        "Content-Type": "application/x-www-form-urlencoded",
                        "Origin": f"http://127.0.0.1:{port}",
                    },
                )
                conn.getresponse().read()
                changes += 1
                cold[label].append(fetch(conn, pages[label][i % len(pages[label])], cookie))
        for label, times in cold.items():
            summary(label + ", after a change", times)
    finally:
        conn.close()
        prepared.stop()
        thread.join()

    print("\nthe CLI's own search on the same archive and terms:")
    summary("Archive.search (in process)", cli_inproc)
    cli_runs = []
    evidence = Path(sys.executable).with_name("evidence")
    for term in (EN_TERMS + ZH_TERMS)[:6]:
        started = time.perf_counter()
        subprocess.run(
            [str(evidence), "search", term, "--archive", str(path), "--json"],
            check=True,
            capture_output=True,
        )
        cli_runs.append((time.perf_counter() - started) * 1000)
    summary("evidence search (subprocess)", cli_runs)
    worst = max(medians.values())
    print(
        f"\nslowest page median {worst:.1f} ms; target < {TARGET_MS:.0f} ms: "
        + ("met" if worst < TARGET_MS else "MISSED")
    )
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
