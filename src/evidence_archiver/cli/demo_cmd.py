"""`evidence demo`: the whole tool at work on sample data, in a throwaway archive."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..archive import Archive, Conflict, FactRecord, ItemRecord, SearchHit
from .common import (
    EXIT_SOME_FAILED,
    JsonOption,
    console,
    err_console,
    handle_errors,
    highlight,
    print_json,
    show_time,
)

if TYPE_CHECKING:
    from ..demo import DemoResult

# The last one is the instalment's new due date: the mail, texts, chat, agreement and screenshot
# all name it.
DEMO_SEARCHES = ["展期 OR extension", "逾期", '"late fee"', "延期还款", "10月15日"]


@handle_errors
def demo(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Where to put the demo archive and bundle (default: a new temp folder)."
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Show the tool end to end on a sample dispute (never touches your own archive).

    Imports mail, texts, calls, a call recording, a chat and agreements, builds the case,
    searches it, exports a timestamped bundle and verifies it.

    Example: evidence demo
    """
    # Imported here: the demo pulls in the PDF renderer and its fonts, which every other
    # command would otherwise pay for at start-up.
    from ..demo import run_demo

    folder = directory or Path(tempfile.mkdtemp(prefix="evidence-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    if not json_:
        err_console.print("Importing the sample dispute and exporting its bundle…")
    with Archive(folder / "archive.db") as arch:
        result = run_demo(arch, bundle_dir=folder / "bundle")
        items = arch.timeline(result.case)
        searches = {q: arch.search(q, case=result.case) for q in DEMO_SEARCHES}
        status = arch.status()
        intact = not arch.verify_custody()
        facts = arch.facts(result.case)
        breaches = arch.fact_conflicts(result.case)
    verified = result.verify is not None and result.verify.ok
    if json_:
        print_json(
            {
                "archive": str(result.archive),
                "case": result.case,
                "imports": {k: r.as_json() for k, r in result.imports.items()},
                "timeline": [i.id for i in items],
                "kinds": sorted({i.kind for i in items}),
                "searches": {q: [h.as_json() for h in hits] for q, hits in searches.items()},
                "status": status,
                "custody_intact": intact,
                "facts": [f.as_json() for f in facts],
                "possible_breaches": [c.as_json() for c in breaches],
                "bundle": result.export.as_json() if result.export else None,
                "verify": result.verify.as_json() if result.verify else None,
                "notes": result.notes,
                "recordings": [
                    {"item": rec, "call": call} for rec, call in result.recordings.items()
                ],
            }
        )
    else:
        _print(result, items, searches, status, intact, facts, breaches)
    if not (verified and intact):
        raise typer.Exit(EXIT_SOME_FAILED)


def _print_facts(case: str, facts: list[FactRecord], breaches: list[Conflict]) -> None:
    console.print("\n[bold]Key facts / 关键事实[/] (recorded with 'evidence fact add'):")
    for f in facts:
        day = f.at.date().isoformat() if f.at else "no date"
        amount = f" · {f.amount:,} {f.currency}" if f.amount is not None else ""
        due = f" · due {f.due.isoformat()}" if f.due else ""
        console.print(
            f"  {day} [cyan]{f.kind}[/]{amount}{due}: {escape(f.text[:90])} "
            f"(items {', '.join(map(str, f.items))})"
        )
    if breaches:
        items = ", ".join(str(c.item) for c in breaches)
        console.print(
            f"[bold red]{len(breaches)} possible breach(es)[/] of the promise before its due "
            f"date: items {items}. See: evidence fact list {escape(case)}"
        )


def _print(
    result: DemoResult,
    items: list[ItemRecord],
    searches: dict[str, list[SearchHit]],
    status: dict[str, Any],
    intact: bool,
    facts: list[FactRecord],
    breaches: list[Conflict],
) -> None:
    console.rule("[bold]evidence demo[/]: Wang Xiaoming v. LenderX (乐贷)")
    for name, report in result.imports.items():
        console.print(
            f"Imported {escape(name)}: {report.added} new, {report.duplicates} already "
            f"there, {report.failed} failed."
        )
    console.print(f"\nCase [bold]{result.case}[/]: {len(items)} items linked by its rules.")
    for recording, call in result.recordings.items():
        if call is None:
            console.print(f"Call recording #{recording} matches no call in the call log.")
        else:
            console.print(f"Call recording #{recording} is the recording of call #{call}.")
    console.print()
    table = Table(title="Timeline (your time zone; set EVIDENCE_TZ to change)")
    for col in ("#", "when", "kind", "from", "title / text"):
        table.add_column(col, overflow="fold")
    for i in items:
        text = i.title or i.body
        table.add_row(
            str(i.id),
            show_time(i.occurred_at),
            i.kind,
            escape(i.sender_name or i.sender),
            escape(text[:70]),
        )
    console.print(table)
    for query, hits in searches.items():
        console.print(f"\n[bold]evidence search {escape(query)!r}[/] → {len(hits)} result(s)")
        for h in hits[:3]:
            console.print(
                f"  #{h.id} {h.kind} {show_time(h.occurred_at)} {highlight(h.snippet[:100])}"
            )
    _print_facts(result.case, facts, breaches)
    console.print(
        f"\nCustody log: {'[green]intact[/]' if intact else '[red]BROKEN[/]'} "
        f"({status['custody_events']} events). Archive: {escape(str(result.archive))}"
    )
    if result.export is not None:
        console.print(
            f"[bold]Evidence bundle:[/] {escape(str(result.export.path))} "
            f"({result.export.items} items, {result.export.originals} originals), "
            f"{escape(result.timestamp_note)}."
        )
    for note in result.notes:
        console.print(f"[yellow]Note:[/] {escape(note)}")
    if result.verify is not None:
        if result.verify.ok:
            console.print(
                f"[green]Verified:[/] {result.verify.files_checked} files re-hashed, "
                "custody chain and timestamp checked."
            )
        else:
            console.print("[bold red]Verification found problems:[/]")
            for problem in result.verify.problems:
                console.print(f"  • {escape(str(problem))}")
    first = items[0].id if items else 1
    console.print(
        "Explore: open the bundle's data/index.html in a browser, or try "
        f"EVIDENCE_ARCHIVE={escape(str(result.archive))} evidence show {first}"
    )
