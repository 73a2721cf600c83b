"""Full-text search over items, with filters and highlighted snippets.

The FTS5 table is contentless (it indexes the bigram form of the text, see ``text_index``), so
snippets are cut in Python from the item's own text, for the page of results only: from the
body when the match is there, else from an attachment's text, else from the title. The text is
shown as it was written (full-width punctuation and all); matching for the highlight is done on
a normalised copy whose positions map back to the original.

Results are ranked by BM25 with the title weighted above the body. A page is found in two
steps: first its ids, reading only the index (and, with filters, one primary-key or compact
index probe per match), then the full rows of those ids alone, so that a term found in 50,000
items never drags 50,000 bodies through a sort. BM25 costs about a microsecond per match, so
the matches are walked newest first (the index's own order) and only the ``RANK_WINDOW``
(10,000) most recently archived are scored: an archive with fewer matches than that (any
personal archive) is ranked exactly; a larger one shows the best of its newest 10,000
matches. Filters narrow that window, which grows until the page is full or every match is
covered; paging past the window widens it too. A query made only of exclusions
(``-escrow``) lists the newest items without the excluded words.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import UsageError
from ..headline import one_line, wordlike
from ..i18n import _
from .records import SearchHit
from .schema import FILTER_INDEX
from .text_index import CompiledQuery, clean, compile_query, normalize, strip_accents
from .timeutil import as_sent, format_utc

SNIPPET_WIDTH = 160
_BM25 = "bm25(items_fts, 4.0, 1.0, 2.0, 1.0)"
# BM25 costs about a microsecond per matching row; ranking is bounded to this many matches.
RANK_WINDOW = 10_000
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


@dataclass
class _Filters:
    """Filters as SQL pieces: ``{id}`` stands for the item id of the driving table."""

    joins: list[str] = field(default_factory=list)
    join_args: list[Any] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    where_args: list[Any] = field(default_factory=list)
    needs_items: bool = False

    def __bool__(self) -> bool:
        return bool(self.joins or self.where)


def _filters(
    case_id: int | None,
    kind: str | None,
    sender: str | None,
    since: datetime | None,
    until: datetime | None,
    tag: str | None,
    exclude: str,
) -> _Filters:
    f = _Filters()
    # Case and tag are joins on their primary keys, not correlated subqueries: one probe per
    # match, and no item row read for them.
    if case_id is not None:
        f.joins.append(
            "JOIN case_items ci ON ci.case_id = ? AND ci.item_id = {id} AND ci.state = 'linked'"
        )
        f.join_args.append(case_id)
    if tag:
        f.joins.append("JOIN tags t ON t.item_id = {id} AND t.tag = ?")
        f.join_args.append(tag)
    if kind:
        f.where.append("i.kind = ?")
        f.where_args.append(kind)
    if sender:
        f.where.append("(i.sender LIKE ? ESCAPE '\\' OR i.sender_name LIKE ? ESCAPE '\\')")
        pattern = "%" + sender.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        f.where_args.extend([pattern, pattern])
    if since:
        f.where.append("i.occurred_at >= ?")
        f.where_args.append(format_utc(since))
    if until:
        f.where.append("i.occurred_at <= ?")
        f.where_args.append(format_utc(until))
    f.needs_items = bool(f.where)
    if exclude:
        f.where.append("{id} NOT IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)")
        f.where_args.append(exclude)
    return f


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
    rank_window: int = RANK_WINDOW,
) -> list[SearchHit]:
    """A page of items matching ``query`` (see :func:`text_index.compile_query`), best first.

    "Best" is BM25 over the ``rank_window`` most recently archived matches (all of them
    when there are fewer, as in any personal archive); a query made only of exclusions lists
    the newest items first. Raises :class:`UsageError` for a query with nothing to search for.
    """
    if limit < 1 or offset < 0:
        raise UsageError(_("a page needs at least one result and cannot start before the first"))
    compiled = compile_query(query)
    kind, sender, tag = (clean(v) if v else v for v in (kind, sender, tag))
    if since and until and since > until:
        raise UsageError(_("--since is after --until: nothing can match; swap the two dates"))
    filters = _filters(case_id, kind, sender, since, until, tag, compiled.exclude)
    if compiled.match:
        ids = _ranked_page(conn, compiled.match, filters, limit, offset, rank_window, query)
    else:
        # Only exclusions: the newest items without them, walking the date index backwards.
        joins = " ".join(j.format(id="i.id") for j in filters.joins)
        where = " AND ".join(w.format(id="i.id") for w in filters.where)
        sql = (
            f"SELECT i.id FROM items i {joins} WHERE {where} "
            "ORDER BY i.occurred_at DESC, i.id DESC LIMIT ? OFFSET ?"
        )
        params = [*filters.join_args, *filters.where_args, limit, offset]
        ids = [int(r[0]) for r in _run(conn, sql, params, query)]
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    by_id = {
        r[0]: r
        for r in conn.execute(
            "SELECT id, kind, occurred_at, occurred_offset, title, sender, body FROM items "
            f"WHERE id IN ({marks})",
            ids,
        )
    }
    rows = [by_id[i] for i in ids if i in by_id]
    matcher = _matcher(compiled)
    attachments = _attachment_texts(conn, rows, matcher)
    return [
        SearchHit(
            id=item_id,
            kind=kind_,
            occurred_at=as_sent(occurred, offset_min) if occurred else None,
            title=title or "",
            sender=sender_ or "",
            snippet=_best_snippet(matcher, body or "", attachments.get(item_id, []), title or ""),
        )
        for item_id, kind_, occurred, offset_min, title, sender_, body in rows
    ]


def _ranked_page(
    conn: sqlite3.Connection,
    match: str,
    filters: _Filters,
    limit: int,
    offset: int,
    window: int,
    query: str,
) -> list[int]:
    """Ids of one page of matches, best first, touching as little as possible.

    The matches are walked newest first (the index's own order: no sorting, no scoring) and
    only the newest ``window`` of them are scored; the page is cut from those by score (lower
    BM25 is better; among equals the newer item first). Filters then narrow that window, each
    match probed once (the case or tag primary key, or the compact filter index on items;
    CROSS JOIN keeps the index as the outer loop, so that --kind sms never makes SQLite walk
    a quarter of the items). When the filtered window does not fill the page it grows
    eightfold, until it does or covers every match. Bodies are read for the page only, by the
    caller.
    """
    rowid = "items_fts.rowid"
    window = max(window, offset + limit)
    if not filters:
        # The inner query stops after the window; the outer one keeps only the page while
        # sorting by score (a top-k sort, never the whole window).
        sql = (
            f"SELECT id FROM (SELECT {rowid} AS id, {_BM25} AS score FROM items_fts "
            f"WHERE items_fts MATCH ? ORDER BY {rowid} DESC LIMIT ?) "
            "ORDER BY score, id DESC LIMIT ? OFFSET ?"
        )
        return [int(r[0]) for r in _run(conn, sql, [match, window, limit, offset], query)]
    joins = []
    if filters.needs_items:
        joins.append(f"CROSS JOIN items i INDEXED BY {FILTER_INDEX} ON i.id = {rowid}")
    joins += ["CROSS " + j.format(id=rowid) for j in filters.joins]
    where = "".join(" AND " + w.format(id=rowid) for w in filters.where)
    while True:
        edge = _run(
            conn,
            f"SELECT {rowid} FROM items_fts WHERE items_fts MATCH ? "
            f"ORDER BY {rowid} DESC LIMIT 1 OFFSET ?",
            [match, window - 1],
            query,
        )
        bound = f" AND {rowid} >= ?" if edge else ""
        sql = (
            f"SELECT {rowid} FROM items_fts {' '.join(joins)} "
            f"WHERE items_fts MATCH ?{bound}{where} "
            f"ORDER BY {_BM25}, {rowid} DESC LIMIT ? OFFSET ?"
        )
        params = [
            *filters.join_args,
            match,
            *([edge[0][0]] if edge else []),
            *filters.where_args,
            limit,
            offset,
        ]
        ids = [int(r[0]) for r in _run(conn, sql, params, query)]
        if not edge or len(ids) == limit:
            return ids
        window *= 8


def matching_ids(conn: sqlite3.Connection, query: str) -> list[int]:
    """Every item id the query matches, in id order, unranked (recall checks, bulk work)."""
    compiled = compile_query(query)
    where: list[str] = []
    args: list[Any] = []
    if compiled.match:
        where.append("id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)")
        args.append(compiled.match)
    if compiled.exclude:
        where.append("id NOT IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)")
        args.append(compiled.exclude)
    sql = f"SELECT id FROM items WHERE {' AND '.join(where)} ORDER BY id"
    return [int(r[0]) for r in _run(conn, sql, args, query)]


def _run(conn: sqlite3.Connection, sql: str, params: list[Any], query: str) -> list[Any]:
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        # compile_query only emits quoted phrases and operators; this is a last line of defence
        # so that a query can never surface as a database error.
        if "fts5" not in str(exc):
            raise
        raise UsageError(
            _('cannot search for {value}; try plain words or a "quoted phrase"').format(
                value=repr(query.strip()[:80])
            )
        ) from exc


def _matcher(compiled: CompiledQuery) -> re.Pattern[str] | None:
    if not compiled.patterns:
        return None
    # Longest first, so that a phrase wins over a word inside it.
    ordered = sorted(compiled.patterns, key=len, reverse=True)
    return re.compile("|".join(f"(?:{p})" for p in ordered), re.IGNORECASE)


def _attachment_texts(
    conn: sqlite3.Connection,
    rows: list[Any],
    matcher: re.Pattern[str] | None,
) -> dict[int, list[tuple[str, str]]]:
    """Attachment ``(filename, text)`` of the hits whose body has no match, to cut from."""
    if matcher is None:
        return {}
    wanted = [r[0] for r in rows if not _find(matcher, r[6] or "")]
    if not wanted:
        return {}
    out: dict[int, list[tuple[str, str]]] = {}
    marks = ",".join("?" * len(wanted))
    for item_id, filename, text in conn.execute(
        f"SELECT item_id, filename, text FROM attachments WHERE item_id IN ({marks}) "
        "ORDER BY item_id, position",
        wanted,
    ):
        out.setdefault(item_id, []).append((filename or "", text or ""))
    return out


def _best_snippet(
    matcher: re.Pattern[str] | None,
    body: str,
    attachments: list[tuple[str, str]],
    title: str,
) -> str:
    if matcher is not None:
        if _find(matcher, body):
            return _cut(body, matcher)
        for filename, text in attachments:
            if _find(matcher, f"{filename} {text}"):
                return f"[{one_line(filename)}] " + _cut(text or filename, matcher)
        if _find(matcher, title):
            return _cut(title, matcher)
    return _cut(body or title, None)


def snippet(text: str, words: tuple[str, ...], width: int = SNIPPET_WIDTH) -> str:
    """A window of ``text`` around the first match of the query ``words``, matches in ``**``.

    >>> snippet("Your loan is overdue. Please pay.", ("overdue",))
    'Your loan is **overdue**. Please pay.'
    """
    return _cut(text, _matcher(compile_query(" ".join(f'"{w}"' for w in words))), width)


def _find(matcher: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    """Spans of the matches in ``text``, as positions in ``text`` itself.

    The pattern is written for normalised, accent-free text; most text already is, so it is
    tried as it stands first, and only when that finds nothing is a normalised copy made with
    a map from each of its characters back to the original.
    """
    if not text:
        return []
    spans = [m.span() for m in matcher.finditer(text) if m.end() > m.start()]
    if spans or text.isascii():
        return spans
    if unicodedata.is_normalized("NFKD", text) and not _COMBINING.search(text):
        return spans  # nothing to fold: the text already is what the pattern was made for
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii():
            chars.append(ch)
            origin.append(i)
            continue
        for c in strip_accents(normalize(ch)):
            chars.append(c)
            origin.append(i)
    flat = "".join(chars)
    return [
        (origin[m.start()], origin[m.end() - 1] + 1)
        for m in matcher.finditer(flat)
        if m.end() > m.start()
    ]


def _cut(text: str, matcher: re.Pattern[str] | None, width: int = SNIPPET_WIDTH) -> str:
    spans = _find(matcher, text) if matcher is not None else []
    start = 0
    if spans and spans[0][0] > width // 3:
        start = spans[0][0] - width // 3
        # Start at a word boundary when one is near, not in the middle of a word.
        space = text.rfind(" ", max(0, start - 12), start)
        if space != -1:
            start = space + 1
    end = min(len(text), start + width)
    if end < len(text) and wordlike(text[end - 1]) and wordlike(text[end]):
        # End between words too, when a space is near.
        space = text.rfind(" ", max(start + 1, end - 12), end)
        if space != -1:
            end = space
    out: list[str] = []
    pos = start
    for s, e in spans:
        if s < pos or s >= end:
            continue
        e = min(e, end)
        out.append(text[pos:s])
        out.append(f"**{text[s:e]}**")
        pos = e
    out.append(text[pos:end])
    # One line: no line break, tab or control character from the text reaches a terminal.
    window = one_line("".join(out))
    return ("…" if start else "") + window + ("…" if end < len(text) else "")
