"""`evidence fact …`: the facts of a case (promises, demands, payments, breaches), each citing
the items that show it; suggestions found in the case's text, accepted or rejected one by one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import typer
from rich.table import Table

from ..archive import Archive, Conflict, FactFields, FactRecord, Suggestion
from ..archive.facts import amount_value, fact_date
from ..errors import UsageError
from ..extract.facts import KINDS, dates
from ..i18n import _, format_day, ngettext, pgettext
from .common import (
    ArchiveOption,
    JsonOption,
    console,
    escape,
    fact_kind_name,
    handle_errors,
    open_archive,
    print_json,
)

app = typer.Typer(
    help="Record the facts of a case (promises, demands, payments, breaches) and review the "
    "ones suggested from its text.",
    no_args_is_help=True,
)

KindOption = Annotated[
    str | None,
    typer.Option("--kind", "-k", help=f"What kind of fact: {', '.join(KINDS)}."),
]
TextOption = Annotated[
    str | None, typer.Option("--text", "-t", help="The fact in your own words, in quotes.")
]
DueOption = Annotated[
    str | None,
    typer.Option("--due", help="A due date the fact names, e.g. 2024-10-15 or 2024年10月15日."),
]
OnOption = Annotated[
    str | None,
    typer.Option("--on", help="The day it happened, if not the day of the first cited item."),
]
AmountOption = Annotated[
    str | None, typer.Option("--amount", help="An exact amount, e.g. 5265.76 (no rounding).")
]
CurrencyOption = Annotated[
    str | None, typer.Option("--currency", help="The amount's currency: CNY, 元, ¥, RMB, USD…")
]
ByOption = Annotated[
    str | None, typer.Option("--by", help='Who said or did it, e.g. "工号 KF1234" or "Agent 1234".')
]
RefOption = Annotated[
    str | None, typer.Option("--reference", help="A contract, loan or order number it names.")
]
CitesOption = Annotated[
    list[int] | None,
    typer.Option("--cites", help="Another item this fact cites. Repeatable."),
]
CaseOption = Annotated[
    str | None,
    typer.Option("--case", help="The case (needed only when the items are in several cases)."),
]


def _day(text: str | None, what: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        found = dates(text, None)
        if len(found) == 1:
            return found[0]
    raise UsageError(
        _("cannot read the {option} date {text}: use YYYY-MM-DD, e.g. 2024-10-15").format(
            option=what, text=repr(text)
        )
    )


def _amount(text: str | None) -> Decimal | None:
    return amount_value(text) if text is not None else None


def _fields(
    kind: str | None,
    text: str | None,
    due: str | None,
    on: str | None,
    amount: str | None,
    currency: str | None,
    by: str | None,
    reference: str | None,
) -> FactFields:
    return FactFields(
        kind=kind,
        text=text,
        on=_day(on, "--on"),
        due=_day(due, "--due"),
        amount=_amount(amount),
        currency=currency,
        by=by,
        reference=reference,
    )


def _money(value: Decimal | None, currency: str | None) -> str:
    if value is None:
        return ""
    return f"{value:,} {currency or ''}".strip()


def _print_fact(fact: FactRecord, *, changed: bool = False) -> None:
    n = len(fact.items)
    if changed:
        message = ngettext(
            "[green]Changed fact {id}[/] ({kind}) in {case}, citing item {items}.",
            "[green]Changed fact {id}[/] ({kind}) in {case}, citing items {items}.",
            n,
        )
    else:
        message = ngettext(
            "[green]Recorded fact {id}[/] ({kind}) in {case}, citing item {items}.",
            "[green]Recorded fact {id}[/] ({kind}) in {case}, citing items {items}.",
            n,
        )
    console.print(
        message.format(
            id=fact.id,
            kind=fact_kind_name(fact.kind),
            case=escape(fact.case),
            items=_(", ").join(str(i) for i in fact.items),
        )
    )


def _breach_line(c: Conflict) -> str:
    return ngettext(
        "Possible breach of fact {fact} (promise in item {promised}, due {due}): item {item} "
        "on {date} says {reason}",
        "Possible breach of fact {fact} (promise in items {promised}, due {due}): item {item} "
        "on {date} says {reason}",
        len(c.promise_items),
    ).format(
        fact=c.fact,
        promised=_(", ").join(str(i) for i in c.promise_items),
        due=format_day(c.due),
        item=c.item,
        date=format_day(c.item_at.date()) if c.item_at else _("no date"),
        reason=c.reason,
    )


@app.command("add")
@handle_errors
def add(
    items: Annotated[list[int], typer.Argument(help="The item(s) that show the fact.")],
    kind: KindOption = None,
    text: TextOption = None,
    due: DueOption = None,
    on: OnOption = None,
    amount: AmountOption = None,
    currency: CurrencyOption = None,
    by: ByOption = None,
    reference: RefOption = None,
    cites: CitesOption = None,
    case: CaseOption = None,
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Record a fact drawn from one or more items of a case (kept in the custody log).

    Example: evidence fact add 11 23 --kind promise --text "Agent 1234 agreed to defer
    instalments 4-6 by three months" --due 2024-10-15 --by "Agent 1234"

    Example: evidence fact add 17 --kind breach --text "Late fee charged during the deferral"
    --amount 50.02 --currency CNY
    """
    if kind is None:
        raise UsageError(
            _("say what kind of fact it is with --kind ({kinds})").format(kinds=", ".join(KINDS))
        )
    fields = _fields(kind, text, due, on, amount, currency, by, reference)
    with open_archive(archive) as arch:
        fact = arch.add_fact([*items, *(cites or [])], fields, case=case)
    if json_:
        print_json(fact.as_json())
        return
    _print_fact(fact)


@app.command("list")
@handle_errors
def list_facts(
    case: Annotated[str, typer.Argument(help="The case's short name.")],
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """List a case's facts in time order, and the possible breaches of its promises.

    Example: evidence fact list lender-x-extension
    """
    with open_archive(archive) as arch:
        facts = arch.facts(case)
        breaches = arch.fact_conflicts(case)
    if json_:
        print_json(
            {
                "facts": [f.as_json() for f in facts],
                "possible_breaches": [c.as_json() for c in breaches],
            }
        )
        return
    if not facts:
        console.print(
            _(
                "No facts yet. Record one with 'evidence fact add ITEM --kind promise --text …', "
                "or review suggestions with 'evidence fact suggest {case} --review'."
            ).format(case=escape(case))
        )
        return
    # Four columns, so that the text keeps its room at 80 columns: what else a fact says
    # (amount, due date, who, reference, the items it cites) goes on a line under its text.
    table = Table(expand=True)
    table.add_column(pgettext("fact number", "fact"), no_wrap=True)
    table.add_column(_("date"), no_wrap=True)
    table.add_column(_("kind"), no_wrap=True)
    table.add_column(pgettext("fact text", "text"), ratio=1, overflow="fold")
    for f in facts:
        day = fact_date(f)
        cited = _(", ").join(
            _("{item} (not in the case)").format(item=i) if i in f.outside else str(i)
            for i in f.items
        )
        details = [
            _("amount {amount}").format(amount=_money(f.amount, f.currency))
            if f.amount is not None
            else "",
            _("due {date}").format(date=format_day(f.due)) if f.due else "",
            _("by {who}").format(who=f.by) if f.by else "",
            _("ref. {reference}").format(reference=f.reference) if f.reference else "",
            ngettext("item {items}", "items {items}", len(f.items)).format(items=cited),
        ]
        table.add_row(
            str(f.id),
            format_day(day) if day else "",
            fact_kind_name(f.kind),
            escape(f.text) + "\n[dim]" + escape(_("; ").join(d for d in details if d)) + "[/]",
        )
    console.print(table)
    for f in facts:
        if f.outside:
            console.print(
                ngettext(
                    "[yellow]Fact {id} cites item {items}, no longer in the case:[/] an export "
                    "shows it as not in the bundle.",
                    "[yellow]Fact {id} cites items {items}, no longer in the case:[/] an export "
                    "shows them as not in the bundle.",
                    len(f.outside),
                ).format(id=f.id, items=_(", ").join(map(str, f.outside)))
            )
    for c in breaches:
        console.print(f"[bold red]{escape(_breach_line(c))}[/]")


@app.command("edit")
@handle_errors
def edit(
    fact_id: Annotated[int, typer.Argument(help="The fact's number (see 'fact list').")],
    kind: KindOption = None,
    text: TextOption = None,
    due: DueOption = None,
    on: OnOption = None,
    amount: AmountOption = None,
    currency: CurrencyOption = None,
    by: ByOption = None,
    reference: RefOption = None,
    cites: Annotated[
        list[int] | None,
        typer.Option("--cites", help="Replace the cited items with these. Repeatable."),
    ] = None,
    clear: Annotated[
        list[str] | None,
        typer.Option("--clear", help="Empty a field: due, on, amount, by, reference. Repeatable."),
    ] = None,
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Change a fact; the custody log records what it said before and after.

    Example: evidence fact edit 3 --due 2024-11-15 --amount 5265.73 --currency CNY
    """
    fields = _fields(kind, text, due, on, amount, currency, by, reference)
    with open_archive(archive) as arch:
        fact = arch.edit_fact(fact_id, fields, items=cites, clear=clear or [])
    if json_:
        print_json(fact.as_json())
        return
    _print_fact(fact, changed=True)


@app.command("remove")
@handle_errors
def remove(
    fact_ids: Annotated[list[int], typer.Argument(help="The facts' numbers.")],
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Remove facts (the custody log keeps what they said).

    Example: evidence fact remove 3
    """
    with open_archive(archive) as arch:
        for fact_id in fact_ids:
            arch.remove_fact(fact_id)
    if json_:
        print_json({"removed": fact_ids})
        return
    console.print(
        ngettext("Removed {n} fact.", "Removed {n} facts.", len(fact_ids)).format(n=len(fact_ids))
    )


def _show_suggestion(s: Suggestion) -> None:
    when = format_day(s.item_at.date()) if s.item_at else _("no date")
    extras = [
        _("due {date}").format(date=format_day(s.due)) if s.due else "",
        _("amount {amount}").format(amount=_money(s.amount, s.currency))
        if s.amount is not None
        else "",
        _("by {who}").format(who=s.by) if s.by else "",
        _("ref. {reference}").format(reference=s.reference) if s.reference else "",
    ]
    line = _("[bold]{id}[/] item {item} ({date}) [cyan]{kind}[/]: {text}").format(
        id=s.id, item=s.item, date=when, kind=fact_kind_name(s.kind), text=escape(s.text)
    )
    if any(extras):
        line += "\n    " + escape(_("; ").join(x for x in extras if x))
    console.print(line)


def _review(arch: Archive, found: list[Suggestion]) -> dict[str, list[str]]:
    decided: dict[str, list[str]] = {"accepted": [], "rejected": [], "skipped": []}
    for n, s in enumerate(found, 1):
        console.print(f"\n[dim]{n} / {len(found)}[/]")
        _show_suggestion(s)
        answer = (
            typer.prompt(
                _("Accept (a), reject (r), skip (s) or quit (q)?"), default="s", show_default=True
            )
            .strip()
            .lower()
        )
        if answer.startswith("q"):
            break
        if answer.startswith("a"):
            fact = arch.accept_suggestion(s.id)
            decided["accepted"].append(s.id)
            console.print(_("[green]Recorded as fact {id}.[/]").format(id=fact.id))
        elif answer.startswith("r"):
            arch.reject_suggestion(s.id)
            decided["rejected"].append(s.id)
            console.print(_("Rejected; it will not be proposed again."))
        else:
            decided["skipped"].append(s.id)
    return decided


@app.command("suggest")
@handle_errors
def suggest(
    case: Annotated[str, typer.Argument(help="The case's short name.")],
    review: Annotated[
        bool, typer.Option("--review", help="Go through them one by one: accept, reject or skip.")
    ] = False,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only suggestions of this kind.")
    ] = None,
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Propose facts found in the case's text; nothing is recorded until you accept one.

    Finds commitments (同意, 顺延, 减免; agree, defer, waive), demands and late fees, payments,
    with their dates (10月15日, 下周一, 15 October), amounts (5,265.76 元, ¥, CNY, $), agent
    identifiers (工号, 客服编号, agent ID) and reference numbers (合同编号, 订单号).

    Example: evidence fact suggest lender-x-extension --review

    Example: evidence fact suggest lender-x-extension --json, then
    evidence fact accept s11-1a2b3c4d or evidence fact reject s14-5e6f7a8b
    """
    with open_archive(archive) as arch:
        found = [s for s in arch.suggest_facts(case) if kind is None or s.kind == kind]
        if review and not json_:
            if not found:
                console.print(_("Nothing new to review."))
                return
            decided = _review(arch, found)
            console.print(
                "\n"
                + _("Accepted {accepted}, rejected {rejected}, skipped {skipped}.").format(
                    accepted=len(decided["accepted"]),
                    rejected=len(decided["rejected"]),
                    skipped=len(decided["skipped"]),
                )
            )
            return
    if json_:
        print_json([s.as_json() for s in found])
        return
    if not found:
        console.print(_("No new suggestions: every candidate was accepted or rejected already."))
        return
    for s in found:
        _show_suggestion(s)
    console.print(
        "\n"
        + ngettext(
            "{n} suggestion. Record it with 'evidence fact accept ID', turn it down with "
            "'evidence fact reject ID', or go through it with "
            "'evidence fact suggest {case} --review'.",
            "{n} suggestions. Record one with 'evidence fact accept ID', turn one down with "
            "'evidence fact reject ID', or go through them with "
            "'evidence fact suggest {case} --review'.",
            len(found),
        ).format(n=len(found), case=escape(case))
    )


@app.command("accept")
@handle_errors
def accept(
    suggestion_ids: Annotated[list[str], typer.Argument(help="Ids printed by 'fact suggest'.")],
    kind: KindOption = None,
    text: TextOption = None,
    due: DueOption = None,
    amount: AmountOption = None,
    currency: CurrencyOption = None,
    by: ByOption = None,
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Record suggestions as facts, changing what was found if you say so.

    Example: evidence fact accept s11-1a2b3c4d --by "Agent 1234"
    """
    overrides = _fields(kind, text, due, None, amount, currency, by, None)
    with open_archive(archive) as arch:
        facts = [arch.accept_suggestion(sid, overrides) for sid in suggestion_ids]
    if json_:
        print_json([f.as_json() for f in facts])
        return
    for fact in facts:
        _print_fact(fact)


@app.command("reject")
@handle_errors
def reject(
    suggestion_ids: Annotated[list[str], typer.Argument(help="Ids printed by 'fact suggest'.")],
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Turn suggestions down; they are remembered and not proposed again.

    Example: evidence fact reject s14-5e6f7a8b s15-9c0d1e2f
    """
    with open_archive(archive) as arch:
        for sid in suggestion_ids:
            arch.reject_suggestion(sid)
    if json_:
        print_json({"rejected": suggestion_ids})
        return
    n = len(suggestion_ids)
    console.print(ngettext("Rejected {n} suggestion.", "Rejected {n} suggestions.", n).format(n=n))
