"""PDF import throughput: ``evidence import pdf`` against a bare single-process pdfplumber loop.

    .venv/bin/python benchmarks/pdf.py --text 20 --tables 4      # develop on this
    .venv/bin/python benchmarks/pdf.py                           # the issue's size: 200 + 20

Generates (once, reused from ``benchmarks/out/pdf/``) N text PDFs of 10 pages and M table-heavy
PDFs (statements: a ruled table of 30 rows on each of 5 pages) with fpdf2, then in one run:

1. the **bare loop**: one process, for every file and page ``extract_text()`` and
   ``extract_tables()`` with pdfplumber (and ``page.close()``, as the importer does, so that
   the comparison measures parallelism, not cache housekeeping), nothing else;
2. **evidence import pdf** on the same folder, the real CLI as a subprocess into a fresh
   archive: hashing, sandboxed worker processes (one per core), metadata, archive writes
   (originals, items, search index, custody) included.

It prints pages/s for both and their ratio (the target is at least 1.7 on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pdfplumber
from fpdf import FPDF

OUT = Path(__file__).resolve().parent / "out" / "pdf"
TEXT_PAGES = 10
TABLE_PAGES = 5
CREATED = datetime(2024, 3, 15, 10, 0, tzinfo=UTC)
VOCABULARY = (
    "loan repayment instalment interest principal borrower lender agreement schedule overdue "
    "penalty extension notice statement balance transfer account contract clause party date "
    "amount due paid outstanding collection call message reminder fee rate annual monthly"
)
WORDS = VOCABULARY.split()


def text_pdf(path: Path, rng: random.Random) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    pdf.set_creation_date(CREATED)
    for page in range(TEXT_PAGES):
        pdf.add_page()
        pdf.cell(0, 8, f"Statement of account, page {page + 1}", new_x="LMARGIN", new_y="NEXT")
        for _ in range(45):
            line = " ".join(rng.choice(WORDS) for _ in range(14))
            pdf.cell(0, 5.5, line.capitalize() + ".", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def table_pdf(path: Path, rng: random.Random) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=9)
    pdf.set_creation_date(CREATED)
    for page in range(TABLE_PAGES):
        pdf.add_page()
        pdf.cell(0, 8, f"Repayment schedule, page {page + 1}", new_x="LMARGIN", new_y="NEXT")
        with pdf.table(line_height=6, first_row_as_headings=False) as table:
            header = table.row()
            for name in ("No.", "Due date", "Principal", "Interest", "Fee", "Total"):
                header.cell(name)
            for n in range(30):
                row = table.row()
                principal, interest = rng.randint(500, 5000), rng.randint(10, 500)
                for value in (
                    str(page * 30 + n + 1),
                    f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    f"{principal:,}.00",
                    f"{interest:,}.00",
                    "0.00",
                    f"{principal + interest:,}.00",
                ):
                    row.cell(value)
    pdf.output(str(path))


def generate(folder: Path, texts: int, tables: int) -> int:
    """Make the PDFs unless they are there already; return the page count."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20240315)
    for n in range(texts):
        path = folder / f"text-{n:04d}.pdf"
        if not path.exists():
            text_pdf(path, rng)
    for n in range(tables):
        path = folder / f"tables-{n:04d}.pdf"
        if not path.exists():
            table_pdf(path, rng)
    return texts * TEXT_PAGES + tables * TABLE_PAGES


def bare_loop(files: list[Path]) -> tuple[float, float, int, int]:
    """One process, pdfplumber only: text and tables of every page."""
    cpu = time.process_time()
    start = time.perf_counter()
    pages = tables = 0
    for path in files:
        with pdfplumber.open(path) as pdf:
            for page in pdf.pages:
                page.extract_text()
                tables += len(page.extract_tables())
                page.close()  # as the importer does: without it, cached layouts slow the loop
                pages += 1
    return time.perf_counter() - start, time.process_time() - cpu, pages, tables


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def evidence_import(folder: Path, workers: int) -> tuple[float, float, dict[str, object]]:
    """The real CLI; returns wall seconds, CPU seconds of it and its workers, its report."""
    evidence = Path(sys.executable).with_name("evidence")
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive.db"
        command = [str(evidence), "import", "pdf", str(folder), "--json"]
        if workers:
            command += ["--workers", str(workers)]
        cpu = children_cpu()
        start = time.perf_counter()
        done = subprocess.run(
            command,
            env={"EVIDENCE_ARCHIVE": str(archive), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - start
        cpu = children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"evidence import pdf failed ({done.returncode}):\n{done.stderr}")
    return elapsed, cpu, json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--text", type=int, default=200, help="text PDFs of 10 pages")
    parser.add_argument("--tables", type=int, default=20, help="table-heavy PDFs of 5 pages")
    parser.add_argument("--workers", type=int, default=0, help="0: one per core")
    parser.add_argument("--fresh", action="store_true", help="regenerate the PDFs")
    args = parser.parse_args()

    folder = OUT / f"{args.text}-{args.tables}"
    if args.fresh and folder.exists():
        shutil.rmtree(folder)
    start = time.perf_counter()
    pages = generate(folder, args.text, args.tables)
    files = sorted(folder.glob("*.pdf"))
    made = time.perf_counter() - start
    print(f"corpus: {len(files)} PDFs, {pages} pages in {folder} ({made:.1f} s)")

    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    bare_s, bare_cpu, bare_pages, bare_tables = bare_loop(files)
    print(
        f"bare pdfplumber loop (1 process): {bare_s:.1f} s, {bare_pages / bare_s:.1f} pages/s, "
        f"{1000 * bare_cpu / bare_pages:.0f} ms CPU/page ({bare_tables} tables)"
    )
    import_s, import_cpu, report = evidence_import(folder, args.workers)
    print(
        f"evidence import pdf:              {import_s:.1f} s, {pages / import_s:.1f} pages/s, "
        f"{1000 * import_cpu / pages:.0f} ms CPU/page (added {report['added']}, "
        f"failed {report['failed']})"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"ratio: {bare_s / import_s:.2f}x the bare loop (target >= 1.7x on 2 cores)")
    print(
        "(wall-clock figures depend on free cores: other processes on the machine slow both "
        "runs, and take cores the parallel import would use)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
