"""`evidence search`, `evidence timeline` and `evidence show`: finding and reading items."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from ..archive import ItemRecord
from ..archive.timeutil import parse_user_date
from ..headline import item_headline, one_line
from ..i18n import _, format_number, ngettext
from .common import (
    ArchiveOption,
    JsonOption,
    console,
    escape,
    fact_kind_name,
    handle_errors,
    highlight,
    kind_name,
    open_archive,
    print_json,
    show_time,
)

CaseOption = Annotated[str | None, typer.Option("--case", help="Only items of this case.")]
KindOption = Annotated[
    str | None, typer.Option("--kind", help="Only this kind: email, sms, call, chat, document…")
]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="From this date on (YYYY-MM-DD, your time zone).")
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="Up to and including this date (YYYY-MM-DD).")
]


def _item_json(item: ItemRecord) -> dict[str, object]:
    return {
        "id": item.id,
        "kind": item.kind,
        "occurred_at": item.occurred_at.isoformat() if item.occurred_at else None,
        "acquired_at": item.acquired_at.isoformat(),
        "direction": item.direction,
        "sender": item.sender,
        "sender_name": item.sender_name,
        "recipients": list(item.recipients),
        "title": item.title,
        "body": item.body,
        "thread_key": item.thread_key,
        "message_id": item.message_id,
        "flags": list(item.flags),
        "details": item.details,
        "original_sha256": item.original_sha256,
        "container_sha256": item.container_sha256,
        "source": {
            "connector": item.source.connector,
            "container": item.source.container,
            "locator": item.source.locator,
        },
        "parse_status": item.parse_status,
        "parse_error": item.parse_error,
        "attachments": [
            {
                "id": a.id,
                "filename": a.filename,
                "media_type": a.media_type,
                "size": a.size,
                "sha256": a.sha256,
                "inline": a.inline,
            }
            for a in item.attachments
        ],
        "tags": list(item.tags),
        "notes": [{"at": n.at.isoformat(), "text": n.text} for n in item.notes],
        "cases": list(item.cases),
        "seen_in": [
            {"connector": s.connector, "container": s.container, "locator": s.locator}
            for s in item.sightings
        ],
    }


def _tables(item: ItemRecord) -> list[Table]:
    """The tables a document's extractor found (a repayment schedule, a statement), as rich
    tables: the first row as the header, every cell as text."""
    found = item.details.get("tables")
    if not isinstance(found, list):
        return []
    tables = []
    for number, entry in enumerate(found, 1):
        rows = entry.get("rows") if isinstance(entry, dict) else None
        if not isinstance(rows, list) or not rows:
            continue
        page = entry.get("page")
        title = (
            _("Table {number} (page {page})").format(number=number, page=page)
            if page
            else _("Table {number}").format(number=number)
        )
        table = Table(title=title, show_lines=False)
        header, *body = [[escape(str(c or "")) for c in row] for row in rows]
        width = max(len(r) for r in (header, *body))
        for col in range(width):
            table.add_column(header[col] if col < len(header) else "", overflow="fold")
        for row in body:
            table.add_row(*(row + [""] * (width - len(row))))
        tables.append(table)
    return tables


@handle_errors
def search(
    query: Annotated[str, typer.Argument(help='Words, "a phrase", OR, NOT or -word, prefix*.')],
    case: CaseOption = None,
    kind: KindOption = None,
    sender: Annotated[
        str | None, typer.Option("--from", help="Only items from this sender (part of it).")
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only items with this tag.")] = None,
    limit: Annotated[int, typer.Option(help="How many results.", min=1)] = 20,
    offset: Annotated[int, typer.Option(help="Skip this many results (paging).", min=0)] = 0,
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Search everything: Chinese and English, mixed freely.

    Examples:
      evidence search "展期 OR extension" --case lender-x-extension --since 2024-01-01
      evidence search '"final notice" -spam' --kind email
    """
    with open_archive(archive) as arch:
        hits = arch.search(
            query,
            case=case,
            kind=kind,
            sender=sender,
            since=parse_user_date(since) if since else None,
            until=parse_user_date(until, end_of_day=True) if until else None,
            tag=tag,
            limit=limit,
            offset=offset,
        )
    if json_:
        print_json([h.as_json() for h in hits])
        return
    if not hits:
        console.print(_("Nothing found for {query}.").format(query=repr(escape(query))))
        return
    table = Table(show_lines=True)
    for col in ("#", _("when"), _("kind"), _("from"), _("title / snippet")):
        table.add_column(col, overflow="fold")
    for h in hits:
        table.add_row(
            str(h.id),
            show_time(h.occurred_at),
            kind_name(h.kind),
            escape(h.sender),
            f"[bold]{escape(one_line(h.title))}[/]\n{highlight(h.snippet)}",
        )
    console.print(table)
    console.print(
        ngettext(
            "{n} result. Read it with 'evidence show NUMBER'.",
            "{n} results. Read one with 'evidence show NUMBER'.",
            len(hits),
        ).format(n=len(hits))
    )


@handle_errors
def timeline(
    case: Annotated[str | None, typer.Argument(help="The case (leave out for everything).")] = None,
    kind: KindOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """Everything in a case in time order (times shown in your zone; set EVIDENCE_TZ to change).

    Example: evidence timeline lender-x-extension --since 2024-03-01
    """
    with open_archive(archive) as arch:
        items = arch.timeline(
            case,
            kind=kind,
            since=parse_user_date(since) if since else None,
            until=parse_user_date(until, end_of_day=True) if until else None,
        )
    if json_:
        print_json(
            [
                {
                    "id": i.id,
                    "kind": i.kind,
                    "occurred_at": i.occurred_at.isoformat() if i.occurred_at else None,
                    "direction": i.direction,
                    "sender": i.sender,
                    "recipients": list(i.recipients),
                    "title": i.title,
                    "headline": item_headline(i),
                    "tags": list(i.tags),
                }
                for i in items
            ]
        )
        return
    table = Table(title=_("Timeline of {case}").format(case=case) if case else _("Timeline"))
    for col in ("#", _("when"), _("kind"), _("from"), _("to"), _("title"), _("tags")):
        table.add_column(col, overflow="fold")
    for i in items:
        table.add_row(
            str(i.id),
            show_time(i.occurred_at),
            kind_name(i.kind),
            escape(i.sender),
            escape(", ".join(i.recipients[:2]) + (" …" if len(i.recipients) > 2 else "")),
            escape(item_headline(i)),
            escape(", ".join(i.tags)),
        )
    console.print(table)
    console.print(ngettext("{n} item.", "{n} items.", len(items)).format(n=len(items)))


@handle_errors
def show(
    item_id: Annotated[int, typer.Argument(help="The item's number.")],
    original: Annotated[
        bool, typer.Option("--original", help="Write the original bytes to standard output.")
    ] = False,
    archive: ArchiveOption = None,
    json_: JsonOption = False,
) -> None:
    """One item in full: headers, text, attachments, SHA-256 and where it came from.

    Examples:
      evidence show 42
      evidence show 42 --original > message.eml
    """
    with open_archive(archive) as arch:
        item = arch.item(item_id)
        if original:
            sha = item.original_sha256 or item.container_sha256
            if sha is None:
                raise typer.BadParameter(_("this item has no original of its own"))
            arch.copy_original(sha, sys.stdout.buffer)
            return
        custody = list(arch.custody.events_about(f"item:{item_id}"))
        facts = arch.facts_citing(item_id)
    if json_:
        print_json(
            {
                **_item_json(item),
                "facts": [f.as_json() for f in facts],
                "custody": [
                    {
                        "seq": e.seq,
                        "at": e.at.isoformat(),
                        "action": e.action,
                        "details": e.details,
                        "hash": e.hash,
                    }
                    for e in custody
                ],
            }
        )
        return
    console.rule(f"#{item.id} {kind_name(item.kind)}")
    if item.occurred_at:
        console.print(
            _("[bold]When:[/] {time}  (as sent: {sent})").format(
                time=show_time(item.occurred_at), sent=item.occurred_at.isoformat()
            )
        )
    else:
        console.print(_("[bold]When:[/] {time}").format(time=show_time(item.occurred_at)))
    console.print(
        _("[bold]From:[/] {name} {address}").format(
            name=escape(item.sender_name), address=escape(item.sender)
        )
    )
    if item.recipients:
        console.print(_("[bold]To:[/] {people}").format(people=escape(", ".join(item.recipients))))
    console.print(_("[bold]Title:[/] {title}").format(title=escape(item.title)))
    if item.parse_status != "ok":
        console.print(
            _("[yellow]Could not be parsed:[/] {reason}").format(
                reason=escape(item.parse_error or "")
            )
        )
    if item.flags:
        console.print(_("[bold]Flags:[/] {flags}").format(flags=", ".join(item.flags)))
    call = (item.details.get("recording") or {}).get("call_item_id")
    if call is not None:
        console.print(
            _("[bold]Recording of:[/] call #{call} (evidence show {call})").format(call=call)
        )
    console.print()
    console.print(escape(item.body) if item.body else _("[dim](no text)[/]"))
    console.print()
    for table in _tables(item):
        console.print(table)
    for a in item.attachments:
        console.print(
            ngettext(
                "[bold]Attachment:[/] {name} ({type}, {size} byte) sha256 {sha256}",
                "[bold]Attachment:[/] {name} ({type}, {size} bytes) sha256 {sha256}",
                a.size,
            ).format(
                name=escape(a.filename), type=a.media_type, size=format_number(a.size),
                sha256=a.sha256,
            )
        )  # fmt: skip
    console.print(
        _("[bold]Original:[/] sha256 {sha256}").format(
            sha256=item.original_sha256 or item.container_sha256
        )
    )
    console.print(
        _("[bold]Source:[/] {connector} {container} {locator}").format(
            connector=escape(item.source.connector),
            container=escape(item.source.container),
            locator=escape(item.source.locator),
        )
    )
    for s in item.sightings[1:]:
        console.print(
            _("  also seen in {container} {locator}").format(
                container=escape(s.container), locator=escape(s.locator)
            )
        )
    console.print(_("[bold]Acquired:[/] {time}").format(time=show_time(item.acquired_at)))
    if item.cases:
        console.print(_("[bold]Cases:[/] {cases}").format(cases=", ".join(item.cases)))
    if item.tags:
        console.print(_("[bold]Tags:[/] {tags}").format(tags=escape(", ".join(item.tags))))
    for n in item.notes:
        console.print(
            _("[bold]Note[/] ({time}): {text}").format(time=show_time(n.at), text=escape(n.text))
        )
    for f in facts:
        console.print(
            _("[bold]Fact {id}[/] ({kind}, {case}): {text}").format(
                id=f.id, kind=fact_kind_name(f.kind), case=escape(f.case), text=escape(f.text)
            )
        )
    for e in custody:
        console.print(
            _("[dim]custody #{seq} {time} {action} {hash}…[/]").format(
                seq=e.seq, time=show_time(e.at), action=e.action, hash=e.hash[:16]
            )
        )
