"""Readable HTML views of a bundle: one page per item, one per conversation, and ``index.html``.

Everything is plain HTML with inline CSS and (for the index) a little inline JavaScript: no
fonts, scripts or styles are fetched, so the pages open from the file system, offline, in any
browser, years from now. Every value from the archive is escaped. Links are relative paths
inside the bag.

``index.html`` holds one table row per item with ``data-`` attributes for kind, parties and
tags; the filters and the in-page search only hide rows. The filter state can also be given in
the address (``index.html#kind=sms&q=逾期``), so a link can point at a filtered view.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote

from ..headline import item_headline, one_line
from .exhibits import CONVERSATION_KINDS, Exhibit, Labels, relative
from .key_facts import Chronology, breach_text, kind_label, money

Write = Callable[[str], object]

CSS = """
.thumbs img{max-width:240px;max-height:240px;border:1px solid #ccc;margin:.3em}
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",
"PingFang SC",sans-serif;margin:1.5em auto;max-width:70em;padding:0 1em;color:#111}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3em;
text-align:left;vertical-align:top}th{background:#f3f3f3}
pre{white-space:pre-wrap;word-wrap:break-word;font-family:inherit;background:#fafafa;
padding:.8em;border:1px solid #eee}
.meta th{width:12em}.hash{font-family:monospace;font-size:.85em;word-break:break-all}
.msg{margin:.5em 0;padding:.5em .8em;border-radius:.6em;max-width:40em;background:#eef}
.msg.out{margin-left:auto;background:#dfd}.msg.current{outline:2px solid #c60}
.msg .when{color:#555;font-size:.85em}
.filters{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}
.warn{color:#a40}
#key-facts td.amount{white-space:nowrap;text-align:right}.breach{color:#a00}
#key-facts td:first-child,#key-facts td:nth-child(2),#key-facts td:nth-child(5),
#key-facts a{white-space:nowrap}
"""


def when(moment: datetime | None, labels: Labels) -> str:
    """A time as the source gave it, with its offset: ``2024-03-01 09:30 +08:00``."""
    if moment is None:
        return labels("no_date")
    text = moment.isoformat(sep=" ", timespec="minutes")
    return text[:-6] + " " + text[-6:] if moment.utcoffset() is not None else text


def snippet(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parties(exhibit: Exhibit) -> list[str]:
    r = exhibit.record
    return [p for p in dict.fromkeys([r.sender, *r.recipients]) if p]


def _page_head(title: str, lang: str) -> str:
    html_lang = "zh" if lang == "zh" else "en"
    return (
        f'<!DOCTYPE html>\n<html lang="{html_lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
    )


_PAGE_TAIL = "\n</body></html>\n"


def _page(title: str, body: str, lang: str) -> str:
    return _page_head(title, lang) + body + _PAGE_TAIL


def href(from_path: str, to_path: str) -> str:
    """A relative link, percent-encoded (names may hold spaces and Chinese characters)."""
    return escape(quote(relative(from_path, to_path), safe="/"))


def _link(from_path: str, to_path: str, text: str) -> str:
    return f'<a href="{href(from_path, to_path)}">{escape(text)}</a>'


def _meta_rows(rows: Iterable[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)


def _details(value: Any) -> str:
    """Connector details (PDF pages and tables, call durations…) shown as nested tables."""
    if isinstance(value, dict):
        if not value:
            return ""
        rows = "".join(
            f"<tr><th>{escape(str(k))}</th><td>{_details(v)}</td></tr>"
            for k, v in sorted(value.items())
        )
        return f"<table>{rows}</table>"
    if isinstance(value, list):
        if value and all(isinstance(row, list) for row in value):
            body = "".join(
                "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>"
                for row in value
            )
            return f"<table>{body}</table>"
        return "".join(f"<div>{_details(v)}</div>" for v in value)
    if isinstance(value, str) and "\n" in value:
        return f"<pre>{escape(value)}</pre>"
    return escape(str(value))


def _tables(tables: list[Any], labels: Labels) -> str:
    """Tables found in a PDF (``{"page": 2, "rows": [[…], …]}``), first row as the header."""
    out = []
    for table in tables:
        if not isinstance(table, dict) or not isinstance(table.get("rows"), list):
            out.append(_details(table))
            continue
        rows = [row for row in table["rows"] if isinstance(row, list)]
        head = rows[0] if rows else []
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(str(c or ''))}</td>" for c in row) + "</tr>"
            for row in rows[1:]
        )
        caption = f"{labels('page')} {table.get('page', '')}"
        out.append(
            f"<table><caption>{escape(caption)}</caption><thead><tr>"
            + "".join(f"<th>{escape(str(c or ''))}</th>" for c in head)
            + f"</tr></thead><tbody>{body}</tbody></table>"
        )
    return "".join(out)


def render_item(
    exhibit: Exhibit, labels: Labels, lang: str, thumbnails: Mapping[str, str] | None = None
) -> str:
    """The readable view of one item (``data/items/E-001.html``); ``thumbnails`` maps an image
    original's SHA-256 to its preview in the bundle."""
    r = exhibit.record
    here = exhibit.rendering
    title = r.title or labels.kind(r.kind)
    direction = labels(r.direction if r.direction in ("in", "out") else "unknown")
    sender = " ".join(x for x in (r.sender_name, f"<{r.sender}>" if r.sender else "") if x)
    rows: list[tuple[str, str]] = [
        (labels("exhibit"), escape(exhibit.number)),
        (labels("kind"), escape(labels.kind(r.kind))),
        (labels("date"), escape(when(r.occurred_at, labels))),
        (labels("direction"), escape(direction)),
        (labels("from"), escape(sender)),
        (labels("to"), escape(", ".join(r.recipients))),
    ]
    if r.kind == "email":
        rows.append((labels("subject"), escape(r.title)))
        if r.message_id:
            rows.append((labels("message_id"), escape(r.message_id)))
    if exhibit.original:
        rows.append(
            (
                labels("original"),
                _link(here, exhibit.original.path, exhibit.original.path.rsplit("/", 1)[-1])
                + f'<div class="hash">{labels("sha256")}: {exhibit.original.sha256}</div>',
            )
        )
    if exhibit.container:
        c = exhibit.container
        rows.append(
            (
                labels("container"),
                _link(here, c.path, c.path.rsplit("/", 1)[-1])
                + f" ({escape(r.source.locator)})"
                + f'<div class="hash">{labels("sha256")}: {c.sha256}</div>',
            )
        )
    src = " ".join(x for x in (r.source.connector, r.source.container, r.source.locator) if x)
    rows.append((labels("source"), escape(src)))
    rows.append((labels("acquired"), escape(r.acquired_at.isoformat(timespec="seconds"))))
    if r.tags:
        rows.append((labels("tags"), escape(", ".join(r.tags))))
    if exhibit.thread:
        rows.append(
            (
                labels("conversation"),
                f'<a href="{href(here, "data/" + exhibit.thread)}#{exhibit.number}">'
                f"{escape(labels('conversation'))}</a>",
            )
        )
    parts = [f"<h1>{escape(exhibit.number)} · {escape(title)}</h1>"]
    parts.append(f'<table class="meta">{_meta_rows(rows)}</table>')
    previews = [
        (f, (thumbnails or {}).get(f.sha256))
        for f in [exhibit.original, *(f for _, f in exhibit.attachments)]
        if f is not None
    ]
    pictures = "".join(
        f'<a href="{href(here, f.path)}"><img class="thumb" src="{href(here, thumb)}" '
        f'alt="{escape(f.path.rsplit("/", 1)[-1])}"></a>'
        for f, thumb in previews
        if thumb
    )
    if pictures:
        parts.append(f'<div class="thumbs">{pictures}</div>')
    if r.parse_status != "ok":
        parts.append(
            f'<p class="warn">{escape(labels("unparsed"))}: {escape(r.parse_error or "")}</p>'
        )
    if r.kind == "call":
        duration = r.details.get("duration") or r.details.get("duration_seconds") or ""
        who = r.sender if r.direction == "in" else ", ".join(r.recipients)
        parts.append(
            f"<p>{escape(labels('call'))} · {escape(direction)}"
            f" · {escape(who)} · {escape(when(r.occurred_at, labels))}"
            + (f" · {escape(labels('duration'))} {escape(str(duration))}" if duration else "")
            + "</p>"
        )
    elif r.kind in CONVERSATION_KINDS:
        cls = "msg out" if r.direction == "out" else "msg"
        parts.append(
            f'<div class="{cls}"><div class="when">{escape(r.sender_name or r.sender)} · '
            f"{escape(when(r.occurred_at, labels))}</div>{escape(r.body)}</div>"
        )
    if r.body and r.kind not in (*CONVERSATION_KINDS, "call"):
        parts.append(f"<h2>{escape(labels('body'))}</h2><pre>{escape(r.body)}</pre>")
    if r.attachments:
        items = []
        for a in r.attachments:
            f = exhibit.attachment_file(a.id)
            # Linked by its safe name in the bundle; the name it was sent under is only shown.
            target = _link(here, f.path, f.path.rsplit("/", 1)[-1]) if f else ""
            items.append(
                f"<li>{target} ({escape(a.media_type)}, {a.size} bytes; "
                f"{escape(labels('sent_as'))}: “{escape(a.filename)}”)"
                f'<div class="hash">{labels("sha256")}: {a.sha256}</div>'
                + (f"<pre>{escape(a.text)}</pre>" if a.text else "")
                + "</li>"
            )
        parts.append(f"<h2>{escape(labels('attachments'))}</h2><ul>{''.join(items)}</ul>")
    tables = r.details.get("tables")
    if isinstance(tables, list) and tables:
        parts.append(f"<h2>{escape(labels('tables'))}</h2>{_tables(tables, labels)}")
    # The page texts are the body already, shown above; the rest is shown as it is.
    rest = {k: v for k, v in r.details.items() if k not in ("pages", "tables")}
    if rest and r.kind != "call":
        parts.append(f"<h2>{escape(labels('details'))}</h2>{_details(rest)}")
    if r.notes:
        notes = "".join(
            f"<li>{escape(n.at.isoformat(timespec='seconds'))}: {escape(n.text)}</li>"
            for n in r.notes
        )
        parts.append(f"<h2>{escape(labels('notes'))}</h2><ul>{notes}</ul>")
    parts.append(f"<p>{_link(here, 'data/index.html', labels('timeline'))}</p>")
    return _page(f"{exhibit.number} {title}", "\n".join(parts), lang)


def write_thread(
    write: Write, path: str, title: str, exhibits: Iterable[Exhibit], labels: Labels, lang: str
) -> None:
    """Stream a conversation (SMS, chat) as a sequence of bubbles, each anchored by its
    exhibit: a thread can hold most of a case, so its page is never built whole."""
    write(_page_head(title, lang))
    write(f"<h1>{escape(labels('conversation'))}: {escape(title)}</h1>")
    for e in exhibits:
        r = e.record
        cls = "msg out" if r.direction == "out" else "msg"
        write(
            f'\n<div class="{cls}" id="{e.number}"><div class="when">'
            f"{_link(path, e.rendering, e.number)} · {escape(r.sender_name or r.sender)} · "
            f"{escape(when(r.occurred_at, labels))}</div>{escape(r.body)}</div>"
        )
    write(f"\n<p>{_link(path, 'data/index.html', labels('timeline'))}</p>")
    write(_PAGE_TAIL)


def render_thread(
    path: str, title: str, exhibits: Iterable[Exhibit], labels: Labels, lang: str
) -> str:
    """:func:`write_thread` into a string."""
    parts: list[str] = []
    write_thread(parts.append, path, title, exhibits, labels, lang)
    return "".join(parts)


_SCRIPT = """
(function(){
var rows=[].slice.call(document.querySelectorAll('#timeline tbody tr'));
var kind=document.getElementById('f-kind'),party=document.getElementById('f-party'),
tag=document.getElementById('f-tag'),q=document.getElementById('f-q'),
count=document.getElementById('shown');
function apply(){
var k=kind.value,p=party.value,t=tag.value,s=q.value.trim().toLowerCase(),n=0;
rows.forEach(function(r){
var ok=(!k||r.dataset.kind===k)&&(!p||r.dataset.parties.split('\\n').indexOf(p)>=0)&&
(!t||r.dataset.tags.split('\\n').indexOf(t)>=0)&&(!s||r.textContent.toLowerCase().indexOf(s)>=0);
r.hidden=!ok;if(ok){n++;}});
count.textContent=String(n);
var h=[];if(k){h.push('kind='+encodeURIComponent(k));}if(p){h.push('party='+encodeURIComponent(p));}
if(t){h.push('tag='+encodeURIComponent(t));}if(s){h.push('q='+encodeURIComponent(q.value.trim()));}
if(history.replaceState){history.replaceState(null,'',h.length?'#'+h.join('&'):location.pathname);}
}
function fromHash(){
location.hash.replace(/^#/,'').split('&').forEach(function(kv){
var i=kv.indexOf('=');if(i<0){return;}
var key=kv.slice(0,i),v=decodeURIComponent(kv.slice(i+1));
if(key==='kind'){kind.value=v;}else if(key==='party'){party.value=v;}
else if(key==='tag'){tag.value=v;}else if(key==='q'){q.value=v;}});
}
[kind,party,tag].forEach(function(el){el.addEventListener('change',apply);});
q.addEventListener('input',apply);
fromHash();apply();
})();
"""


def _options(values: Iterable[str], labeler: Callable[[str], str] | None = None) -> str:
    return "".join(
        f'<option value="{escape(v)}">{escape(labeler(v) if labeler else v)}</option>'
        for v in values
    )


def key_facts_html(chron: Chronology, labels: Labels, here: str = "data/index.html") -> str:
    """The "Key facts" chronology: one row per fact with links to its exhibits, then the
    possible breaches of promises, each naming both exhibits."""
    if not chron:
        return ""

    def exhibit_links(numbers: Sequence[str]) -> str:
        return " ".join(_link(here, f"data/items/{n}.html", n) for n in numbers)

    head = "".join(
        f"<th>{escape(labels(k))}</th>"
        for k in ("date", "kind", "fact", "amount", "due", "said_by", "exhibits")
    )
    rows = []
    for f in chron.facts:
        extra = (
            f' <span class="warn">({f.outside} {escape(labels("not_in_bundle"))})</span>'
            if f.outside
            else ""
        )
        rows.append(
            f'<tr id="fact-{f.fact}"><td>{escape(f.date)}</td>'
            f"<td>{escape(kind_label(f.kind, labels))}</td><td>{escape(f.text)}"
            + (f"<br><small>{escape(f.reference)}</small>" if f.reference else "")
            + f'</td><td class="amount">{escape(money(f))}</td><td>{escape(f.due)}</td>'
            f"<td>{escape(f.by)}</td><td>{exhibit_links(f.exhibits)}{extra}</td></tr>\n"
        )
    parts = [
        f'<section id="key-facts"><h2>{escape(labels("key_facts"))}</h2>',
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{''.join(rows)}</tbody></table>",
    ]
    if chron.breaches:
        items = "".join(
            f'<li class="breach">{escape(breach_text(b, labels))} · '
            f"{exhibit_links((*b.promise_exhibits, b.exhibit))}</li>"
            for b in chron.breaches
        )
        parts.append(f"<h3>{escape(labels('possible_breaches'))}</h3><ul>{items}</ul>")
    parts.append("</section>\n")
    return "".join(parts)


def write_index(
    write: Write,
    *,
    summary_rows: Sequence[tuple[str, str]],
    exhibits: Sequence[Exhibit],
    labels: Labels,
    lang: str,
    timestamp_note: str,
    chronology: Chronology | None = None,
) -> None:
    """Stream ``data/index.html``: the case summary and one timeline row per item."""
    here = "data/index.html"
    kinds = sorted({e.record.kind for e in exhibits})
    party_count: dict[str, int] = {}
    tags: set[str] = set()
    for e in exhibits:
        for p in parties(e):
            party_count[p] = party_count.get(p, 0) + 1
        tags.update(e.record.tags)
    party_list = sorted(party_count, key=lambda p: (-party_count[p], p))
    html_lang = "zh" if lang == "zh" else "en"
    title = dict(summary_rows).get(labels("case"), "")
    write(
        f'<!DOCTYPE html>\n<html lang="{html_lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(labels('bundle'))}: {escape(title)}</title><style>{CSS}</style>"
        "</head>\n<body>\n"
        f"<h1>{escape(labels('bundle'))}: {escape(title)}</h1>\n"
        f'<table class="meta">{_meta_rows((k, escape(v)) for k, v in summary_rows)}</table>\n'
        f'<p class="timestamp">{escape(timestamp_note)}</p>\n'
        + (key_facts_html(chronology, labels, here) if chronology is not None else "")
        + f"<h2>{escape(labels('timeline'))}</h2>\n"
        '<div class="filters">'
        f'<label>{escape(labels("kind"))} <select id="f-kind"><option value="">'
        f"{escape(labels('all'))}</option>{_options(kinds, labels.kind)}</select></label>"
        f'<label>{escape(labels("parties"))} <select id="f-party"><option value="">'
        f"{escape(labels('all'))}</option>{_options(party_list)}</select></label>"
        f'<label>{escape(labels("tags"))} <select id="f-tag"><option value="">'
        f"{escape(labels('all'))}</option>{_options(sorted(tags))}</select></label>"
        f'<label>{escape(labels("search"))} <input id="f-q" type="search"></label>'
        f'<span><span id="shown">{len(exhibits)}</span> / {len(exhibits)} '
        f"{escape(labels('shown'))}</span></div>\n"
        '<table id="timeline"><thead><tr>'
        + "".join(
            f"<th>{escape(labels(k))}</th>"
            for k in ("exhibit", "date", "kind", "parties", "title", "snippet", "original")
        )
        + "</tr></thead>\n<tbody>\n"
    )
    for e in exhibits:
        r = e.record
        title = item_headline(r, labels.lang)
        # A short message is its own title: the snippet would only say it again.
        said = snippet(r.body) if title != one_line(r.body) else ""
        original = e.original or e.container
        links = [_link(here, f.path, labels("original")) for f in [original] if f]
        links += [_link(here, f.path, f"#{n}") for n, (_, f) in enumerate(e.attachments, 1)]
        write(
            f'<tr id="{e.number}" data-kind="{escape(r.kind)}" '
            f'data-parties="{escape(chr(10).join(parties(e)))}" '
            f'data-tags="{escape(chr(10).join(r.tags))}">'
            f"<td>{_link(here, e.rendering, e.number)}</td>"
            f"<td>{escape(when(r.occurred_at, labels))}</td>"
            f"<td>{escape(labels.kind(r.kind))}</td>"
            f"<td>{escape(', '.join(parties(e)))}</td>"
            f"<td>{escape(title)}</td>"
            f"<td>{escape(said)}</td>"
            f"<td>{' '.join(links)}</td></tr>\n"
        )
    write(f"</tbody></table>\n<script>{_SCRIPT}</script>\n</body></html>\n")


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
