"""`evidence case …`: cases group the items of one dispute, by rules and by hand."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..archive.cases import rule_from_counterparty
from ..i18n import N_, _, ngettext, pgettext
from .common import (
    ArchiveOption,
    JsonOption,
    console,
    escape,
    handle_errors,
    open_archive,
    print_json,
    show_time,
)

app = typer.Typer(help="Create and manage cases (one per dispute).", no_args_is_help=True)

CounterpartyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--counterparty",
        "-c",
        help="An e-mail address, a domain (lenderx.com), a phone number, a service number "
        "(95555, 400 820 8820), an SMS gateway (1069…: covers it with any suffix) or a WeChat "
        "contact (wechat:wxid_abc123 or wechat:乐贷客服, its remark) of the other side. Repeat "
        "for several.",
    ),
]
KeywordOption = Annotated[
    list[str] | None,
    typer.Option("--keyword", "-k", help="Words that put an item in this case. Repeatable."),
]


_RULE_KINDS = {
    "address": N_("address"),
    "domain": N_("domain"),
    "phone": N_("phone"),
    "keyword": N_("keyword"),
}


def rule_kind(kind: str) -> str:
    """A rule's kind as a person reads it (commands take the English word)."""
    return _(_RULE_KINDS[kind]) if kind in _RULE_KINDS else kind


def _rules(counterparties: list[str] | None, keywords: list[str] | None) -> list[tuple[str, str]]:
    return [rule_from_counterparty(c) for c in counterparties or []] + [
        ("keyword", k) for k in keywords or []
    ]


@app.command("new")
@handle_errors
def new(
    title: Annotated[str, typer.Argument(help="A name for the case, e.g. 'Lender X extension'.")],
    counterparty: CounterpartyOption = None,
    keyword: KeywordOption = None,
    slug: Annotated[str | None, typer.Option(help="A short name to use in commands.")] = None,
    description: Annotated[str, typer.Option(help="What the dispute is about.")] = "",
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Create a case; every archived item matching its rules is linked at once.

    Example: evidence case new "Lender X extension" -c service@lenderx.com -c lenderx.com

    Example: evidence case new "乐贷" -c 95555 -c 10690001234 -c "+86 138 0013 8000"
    """
    with open_archive(archive, create=True) as arch:
        made, linked = arch.create_case(
            title, slug=slug, rules=_rules(counterparty, keyword), description=description
        )
    if json_:
        print_json({"slug": made, "linked": linked})
        return
    console.print(
        ngettext(
            "[green]Created case[/] [bold]{case}[/]; linked {n} item.",
            "[green]Created case[/] [bold]{case}[/]; linked {n} items.",
            linked,
        ).format(case=escape(made), n=linked)
    )
    console.print(_("See it with: evidence timeline {case}").format(case=escape(made)))


@app.command("list")
@handle_errors
def list_cases(archive: ArchiveOption = None, json_: JsonOption = False) -> None:
    """List the cases with their item counts and periods.

    Example: evidence case list
    """
    with open_archive(archive) as arch:
        cases = arch.cases()
    if json_:
        print_json([c.as_json() for c in cases])
        return
    if not cases:
        console.print(_("No cases yet. Create one with 'evidence case new TITLE -c ADDRESS'."))
        return
    table = Table()
    for col in (_("case"), _("title"), _("items"), pgettext("period", "from"),
                pgettext("period", "to")):  # fmt: skip
        table.add_column(col, overflow="fold")
    for c in cases:
        table.add_row(
            escape(c.slug), escape(c.title), str(c.items), show_time(c.first), show_time(c.last)
        )
    console.print(table)


@app.command("show")
@handle_errors
def show_case(
    slug: Annotated[str, typer.Argument(help="The case's short name.")],
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Show a case's rules and what it holds.

    Example: evidence case show lender-x-extension
    """
    with open_archive(archive) as arch:
        case = arch.case(slug)
    if json_:
        print_json(case.as_json())
        return
    console.print(f"[bold]{escape(case.title)}[/] ({escape(case.slug)})")
    if case.description:
        console.print(escape(case.description))
    console.print(
        ngettext("{n} item, {first} to {last}", "{n} items, {first} to {last}", case.items).format(
            n=case.items, first=show_time(case.first), last=show_time(case.last)
        )
    )
    for kind, value in case.rules:
        console.print(_("  rule: {kind} {value}").format(kind=rule_kind(kind), value=escape(value)))


@app.command("add-rule")
@handle_errors
def add_rule(
    slug: Annotated[str, typer.Argument(help="The case's short name.")],
    counterparty: CounterpartyOption = None,
    keyword: KeywordOption = None,
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Add counterparties or keywords to a case and link what they match.

    Example: evidence case add-rule lender-x-extension -c +86 138 0013 8000 -k 展期
    """
    with open_archive(archive) as arch:
        linked = arch.add_case_rules(slug, _rules(counterparty, keyword))
    if json_:
        print_json({"slug": slug, "linked": linked})
        return
    console.print(
        ngettext(
            "Rules added; linked {n} more item to {case}.",
            "Rules added; linked {n} more items to {case}.",
            linked,
        ).format(n=linked, case=escape(slug))
    )


@app.command("link")
@handle_errors
def link(
    slug: Annotated[str, typer.Argument(help="The case's short name.")],
    item_ids: Annotated[list[int], typer.Argument(help="Item numbers.")],
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Put items in a case by hand.

    Example: evidence case link lender-x-extension 42 43
    """
    with open_archive(archive) as arch:
        changed = arch.link(slug, item_ids)
    if json_:
        print_json({"slug": slug, "linked": changed})
        return
    console.print(
        ngettext("Linked {n} item to {case}.", "Linked {n} items to {case}.", changed).format(
            n=changed, case=escape(slug)
        )
    )


@app.command("unlink")
@handle_errors
def unlink(
    slug: Annotated[str, typer.Argument(help="The case's short name.")],
    item_ids: Annotated[list[int], typer.Argument(help="Item numbers.")],
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Take items out of a case; rules will not put them back.

    Example: evidence case unlink lender-x-extension 42
    """
    with open_archive(archive) as arch:
        changed = arch.unlink(slug, item_ids)
    if json_:
        print_json({"slug": slug, "unlinked": changed})
        return
    console.print(
        ngettext("Took {n} item out of {case}.", "Took {n} items out of {case}.", changed).format(
            n=changed, case=escape(slug)
        )
    )


@app.command("remove-rule")
@handle_errors
def remove_rule(
    slug: Annotated[str, typer.Argument(help="The case's short name.")],
    kind: Annotated[str, typer.Argument(help="address, domain, phone or keyword.")],
    value: Annotated[str, typer.Argument(help="The rule's value, as 'case show' lists it.")],
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Stop a rule from linking new items (items it linked stay in the case; unlink them by
    hand if they do not belong).

    Example: evidence case remove-rule lender-x-extension keyword 展期
    """
    with open_archive(archive) as arch:
        removed = arch.remove_case_rule(slug, kind, value)
    if json_:
        print_json({"slug": slug, "removed": removed})
        return
    console.print(
        _("Removed the rule {kind} {value}.").format(kind=rule_kind(kind), value=escape(value))
        if removed
        else _("No such rule in this case.")
    )
