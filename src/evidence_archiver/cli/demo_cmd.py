"""`evidence demo`: the whole tool at work on sample data, in a throwaway archive."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..archive import Archive
from ..demo import run_demo
from .common import JsonOption, console, handle_errors, highlight, print_json, show_time

DEMO_SEARCHES = ["展期 OR extension", "逾期", '"late fee"']


@handle_errors
def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to put the demo archive (default: a new temp folder)."),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Show the tool end to end on a sample dispute (never touches your own archive).

    Example: evidence demo
    """
    folder = directory or Path(tempfile.mkdtemp(prefix="evidence-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    with Archive(folder / "archive.db") as arch:
        result = run_demo(arch)
        items = arch.timeline(result.case)
        searches = {q: arch.search(q, case=result.case) for q in DEMO_SEARCHES}
        status = arch.status()
        intact = not arch.verify_custody()
    if json_:
        print_json(
            {
                "archive": str(result.archive),
                "case": result.case,
                "imports": {k: r.as_json() for k, r in result.imports.items()},
                "timeline": [i.id for i in items],
                "searches": {q: [h.as_json() for h in hits] for q, hits in searches.items()},
                "status": status,
                "custody_intact": intact,
            }
        )
        return
    console.rule("[bold]evidence demo[/]: Wang Xiaoming v. LenderX (乐贷)")
    for name, report in result.imports.items():
        console.print(
            f"Imported {name}: {report.added} new, {report.duplicates} already there, "
            f"{report.failed} failed."
        )
    console.print(f"Case [bold]{result.case}[/]: {len(items)} items linked by its rules.\n")
    table = Table(title="Timeline (your time zone)")
    for col in ("#", "when", "from", "title", "attachments"):
        table.add_column(col, overflow="fold")
    for i in items:
        table.add_row(
            str(i.id),
            show_time(i.occurred_at),
            escape(i.sender),
            escape(i.title),
            escape(", ".join(a.filename for a in i.attachments)),
        )
    console.print(table)
    for query, hits in searches.items():
        console.print(f"\n[bold]evidence search {escape(query)!r}[/] → {len(hits)} result(s)")
        for h in hits[:3]:
            console.print(f"  #{h.id} {show_time(h.occurred_at)} {highlight(h.snippet[:100])}")
    console.print(
        f"\nCustody log: {'[green]intact[/]' if intact else '[red]BROKEN[/]'} "
        f"({status['custody_events']} events). Archive: {escape(str(result.archive))}"
    )
    first = items[0].id if items else 1
    console.print(
        "Explore it: evidence --help, or e.g. "
        f"EVIDENCE_ARCHIVE={escape(str(result.archive))} evidence show {first}"
    )
