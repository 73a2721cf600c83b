"""`evidence search`, `evidence timeline` and `evidence show`: finding and reading items."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..archive import ItemRecord
from ..archive.timeutil import parse_user_date
from ..headline import item_headline, one_line
from .common import (
    ArchiveOption,
    JsonOption,
    console,
    handle_errors,
    highlight,
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
        title = f"Table {number}" + (f" (page {page})" if page else "")
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
        console.print(f"Nothing found for {escape(query)!r}.")
        return
    table = Table(show_lines=True)
    for col in ("#", "when", "kind", "from", "title / snippet"):
        table.add_column(col, overflow="fold")
    for h in hits:
        table.add_row(
            str(h.id),
            show_time(h.occurred_at),
            h.kind,
            escape(h.sender),
            f"[bold]{escape(one_line(h.title))}[/]\n{highlight(h.snippet)}",
        )
    console.print(table)
    console.print(f"{len(hits)} result(s). Read one with 'evidence show NUMBER'.")


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
    table = Table(title=f"Timeline of {case}" if case else "Timeline")
    for col in ("#", "when", "kind", "from", "to", "title", "tags"):
        table.add_column(col, overflow="fold")
    for i in items:
        table.add_row(
            str(i.id),
            show_time(i.occurred_at),
            i.kind,
            escape(i.sender),
            escape(", ".join(i.recipients[:2]) + (" …" if len(i.recipients) > 2 else "")),
            escape(item_headline(i)),
            escape(", ".join(i.tags)),
        )
    console.print(table)
    console.print(f"{len(items)} item(s).")


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
                raise typer.BadParameter("this item has no original of its own")
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
    console.rule(f"#{item.id} {item.kind}")
    console.print(
        f"[bold]When:[/] {show_time(item.occurred_at)}"
        + (f"  (as sent: {item.occurred_at.isoformat()})" if item.occurred_at else "")
    )
    console.print(f"[bold]From:[/] {escape(item.sender_name)} {escape(item.sender)}")
    if item.recipients:
        console.print(f"[bold]To:[/] {escape(', '.join(item.recipients))}")
    console.print(f"[bold]Title:[/] {escape(item.title)}")
    if item.parse_status != "ok":
        console.print(f"[yellow]Could not be parsed:[/] {escape(item.parse_error or '')}")
    if item.flags:
        console.print(f"[bold]Flags:[/] {', '.join(item.flags)}")
    call = (item.details.get("recording") or {}).get("call_item_id")
    if call is not None:
        console.print(f"[bold]Recording of:[/] call #{call} (evidence show {call})")
    console.print()
    console.print(escape(item.body) if item.body else "[dim](no text)[/]")
    console.print()
    for table in _tables(item):
        console.print(table)
    for a in item.attachments:
        console.print(
            f"[bold]Attachment:[/] {escape(a.filename)} ({a.media_type}, "
            f"{a.size} bytes) sha256 {a.sha256}"
        )
    console.print(f"[bold]Original:[/] sha256 {item.original_sha256 or item.container_sha256}")
    console.print(
        f"[bold]Source:[/] {escape(item.source.connector)} "
        f"{escape(item.source.container)} {escape(item.source.locator)}"
    )
    for s in item.sightings[1:]:
        console.print(f"  also seen in {escape(s.container)} {escape(s.locator)}")
    console.print(f"[bold]Acquired:[/] {show_time(item.acquired_at)}")
    if item.cases:
        console.print(f"[bold]Cases:[/] {', '.join(item.cases)}")
    if item.tags:
        console.print(f"[bold]Tags:[/] {escape(', '.join(item.tags))}")
    for n in item.notes:
        console.print(f"[bold]Note[/] ({show_time(n.at)}): {escape(n.text)}")
    for f in facts:
        console.print(f"[bold]Fact {f.id}[/] ({f.kind}, {escape(f.case)}): {escape(f.text)}")
    for e in custody:
        console.print(f"[dim]custody #{e.seq} {show_time(e.at)} {e.action} {e.hash[:16]}…[/]")
