"""Full-text search over items, with filters and highlighted snippets.

The FTS5 table is contentless (it indexes the bigram form of the text, see ``text_index``), so
snippets are cut from the item's own title and body in Python, for the page of results only.
Results are ranked by BM25 with the title weighted above the body; the filters narrow the FTS
match with plain SQL on indexed columns.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from datetime import datetime
from typing import Any

from .records import SearchHit
from .text_index import compile_query
from .timeutil import as_sent, format_utc

SNIPPET_WIDTH = 160
_BM25 = "bm25(items_fts, 4.0, 1.0, 2.0, 1.0)"


def _filters(
    case_id: int | None,
    kind: str | None,
    sender: str | None,
    since: datetime | None,
    until: datetime | None,
    tag: str | None,
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if case_id is not None:
        where.append(
            "i.id IN (SELECT item_id FROM case_items WHERE case_id = ? AND state = 'linked')"
        )
        args.append(case_id)
    if kind:
        where.append("i.kind = ?")
        args.append(kind)
    if sender:
        where.append("(i.sender LIKE ? ESCAPE '\\' OR i.sender_name LIKE ? ESCAPE '\\')")
        pattern = "%" + sender.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        args.extend([pattern, pattern])
    if since:
        where.append("i.occurred_at >= ?")
        args.append(format_utc(since))
    if until:
        where.append("i.occurred_at <= ?")
        args.append(format_utc(until))
    if tag:
        where.append("i.id IN (SELECT item_id FROM tags WHERE tag = ?)")
        args.append(tag)
    return where, args


def search(
    conn: sqlite3.Connection,
    query: str,
    *,
    case_id: int | None = None,
    kind: str | None = None,
    sender: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    tag: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[SearchHit]:
    compiled = compile_query(query)
    where, args = _filters(case_id, kind, sender, since, until, tag)
    if compiled.exclude:
        where.append("i.id NOT IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)")
        args.append(compiled.exclude)
    if compiled.match:
        sql = (
            "SELECT i.id, i.kind, i.occurred_at, i.occurred_offset, i.title, i.sender, i.body "
            f"FROM (SELECT rowid, {_BM25} AS rank FROM items_fts WHERE items_fts MATCH ?) m "
            "JOIN items i ON i.id = m.rowid"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY m.rank, i.occurred_at DESC LIMIT ? OFFSET ?"
        )
        params: list[Any] = [compiled.match, *args, limit, offset]
    else:
        sql = (
            "SELECT i.id, i.kind, i.occurred_at, i.occurred_offset, i.title, i.sender, i.body "
            "FROM items i WHERE "
            + " AND ".join(where)
            + " ORDER BY i.occurred_at DESC LIMIT ? OFFSET ?"
        )
        params = [*args, limit, offset]
    hits = []
    for item_id, kind_, occurred, offset_min, title, sender_, body in conn.execute(sql, params):
        hits.append(
            SearchHit(
                id=item_id,
                kind=kind_,
                occurred_at=as_sent(occurred, offset_min) if occurred else None,
                title=title or "",
                sender=sender_ or "",
                snippet=snippet(body or title or "", compiled.words),
            )
        )
    return hits


def snippet(text: str, words: tuple[str, ...], width: int = SNIPPET_WIDTH) -> str:
    """A window of ``text`` around the first matched word, matches wrapped in ``**``.

    >>> snippet("Your loan is overdue. Please pay.", ("overdue",))
    'Your loan is **overdue**. Please pay.'
    """
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    patterns = [re.escape(w).replace(r"\ ", r"\W+") for w in words if w]
    if not patterns:
        return text[:width]
    matcher = re.compile("|".join(sorted(patterns, key=len, reverse=True)), re.IGNORECASE)
    first = matcher.search(text)
    start = 0
    if first and first.start() > width // 3:
        start = first.start() - width // 3
    window = text[start : start + width]
    marked = matcher.sub(lambda m: f"**{m.group(0)}**", window)
    return ("…" if start else "") + marked + ("…" if start + width < len(text) else "")
