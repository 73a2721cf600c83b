"""`evidence demo`: the whole tool at work on sample data, in a throwaway archive."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ..archive import Archive, Conflict, FactRecord, ItemRecord, SearchHit
from ..headline import item_headline, one_line, shorten
from ..i18n import _, format_day, ngettext
from .common import (
    EXIT_SOME_FAILED,
    JsonOption,
    console,
    err_console,
    escape,
    fact_kind_name,
    handle_errors,
    highlight,
    kind_name,
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
        err_console.print(_("Importing the sample dispute and exporting its bundle…"))
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
    console.print(_("\n[bold]Key facts[/] (recorded with 'evidence fact add'):"))
    for f in facts:
        day = format_day(f.at.date()) if f.at else _("no date")
        amount = (
            _(" · {amount} {currency}").format(amount=f"{f.amount:,}", currency=f.currency)
            if f.amount is not None
            else ""
        )
        due = _(" · due {date}").format(date=format_day(f.due)) if f.due else ""
        console.print(
            _("  {date} [cyan]{kind}[/]{amount}{due}: {text} (items {items})").format(
                date=day,
                kind=fact_kind_name(f.kind),
                amount=amount,
                due=due,
                text=escape(shorten(f.text, 100)),
                items=_(", ").join(map(str, f.items)),
            )
        )
    if breaches:
        console.print(
            ngettext(
                "[bold red]{n} possible breach[/] of the promise before its due date: item "
                "{items}. See: evidence fact list {case}",
                "[bold red]{n} possible breaches[/] of the promise before its due date: items "
                "{items}. See: evidence fact list {case}",
                len(breaches),
            ).format(
                n=len(breaches),
                items=_(", ").join(str(c.item) for c in breaches),
                case=escape(case),
            )
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
    console.rule(_("[bold]evidence demo[/]: Wang Xiaoming v. LenderX (乐贷)"))
    for name, report in result.imports.items():
        console.print(
            _("Imported {name}: {added} new, {duplicates} already there, {failed} failed.").format(
                name=escape(_(name)),  # the sample's own names (file names) stay as they are
                added=report.added,
                duplicates=report.duplicates,
                failed=report.failed,
            )
        )
    console.print(
        "\n"
        + ngettext(
            "Case [bold]{case}[/]: {n} item linked by its rules.",
            "Case [bold]{case}[/]: {n} items linked by its rules.",
            len(items),
        ).format(case=result.case, n=len(items))
    )
    for recording, call in result.recordings.items():
        if call is None:
            console.print(
                _("Call recording #{recording} matches no call in the call log.").format(
                    recording=recording
                )
            )
        else:
            console.print(
                _("Call recording #{recording} is the recording of call #{call}.").format(
                    recording=recording, call=call
                )
            )
    console.print()
    table = Table(title=_("Timeline (your time zone; set EVIDENCE_TZ to change)"))
    for col in ("#", _("when"), _("kind"), _("from"), _("title / text")):
        table.add_column(col, overflow="fold")
    for i in items:
        table.add_row(
            str(i.id),
            show_time(i.occurred_at),
            kind_name(i.kind),
            escape(one_line(i.sender_name or i.sender)),
            escape(item_headline(i)),
        )
    console.print(table)
    for query, hits in searches.items():
        console.print(
            "\n"
            + ngettext(
                "[bold]evidence search {query}[/] → {n} result",
                "[bold]evidence search {query}[/] → {n} results",
                len(hits),
            ).format(query=repr(escape(query)), n=len(hits))
        )
        for h in hits[:3]:
            console.print(
                f"  #{h.id} {kind_name(h.kind)} {show_time(h.occurred_at)} "
                f"{highlight(shorten(h.snippet, 100))}"
            )
    _print_facts(result.case, facts, breaches)
    custody = (
        _("\nCustody log: [green]intact[/] ({n} events). Archive: {archive}")
        if intact
        else _("\nCustody log: [red]BROKEN[/] ({n} events). Archive: {archive}")
    )
    console.print(custody.format(n=status["custody_events"], archive=escape(str(result.archive))))
    if result.export is not None:
        console.print(
            _(
                "[bold]Evidence bundle:[/] {path} ({items} items, {originals} originals), "
                "{timestamp}."
            ).format(
                path=escape(str(result.export.path)),
                items=result.export.items,
                originals=result.export.originals,
                timestamp=escape(result.timestamp_note),
            )
        )
    for note in result.notes:
        console.print(_("[yellow]Note:[/] {note}").format(note=escape(note)))
    if result.verify is not None:
        if result.verify.ok:
            console.print(
                _(
                    "[green]Verified:[/] {n} files re-hashed, custody chain and timestamp checked."
                ).format(n=result.verify.files_checked)
            )
        else:
            console.print(_("[bold red]Verification found problems:[/]"))
            for problem in result.verify.problems:
                console.print(f"  • {escape(str(problem))}")
    first = items[0].id if items else 1
    console.print(
        _(
            "Explore: open the bundle's data/index.html in a browser, or try "
            "EVIDENCE_ARCHIVE={archive} evidence show {first}"
        ).format(archive=escape(str(result.archive)), first=first)
    )
