"""Cases and the rules that link items to them.

A rule is an address (``service@lenderx.com``, or a WeChat contact ``wechat:wxid_…`` /
``wechat:REMARK``, matched against the item's people and a contact's aliases), a domain
(``lenderx.com``, which also covers its sub-domains), a phone number (compared in E.164, so
every written form matches; a Chinese service number such as 95555 matches ``95555`` and the
``+8695555`` that older archives hold, and an SMS gateway ``106…`` also matches the same
gateway with any suffix) or a keyword
(matched through the search index, so it finds exactly what ``evidence search`` would). Rules
link items when a case is created, when rules are added, and when new items are imported.
A person can also link and unlink by hand; an unlinked item is remembered as *excluded* and no
rule links it again.

These functions run inside the caller's transaction and append custody events for every link.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..errors import NotFound, UsageError
from ..i18n import _
from ..people import is_sms_gateway, normalize_address, normalize_phone, phone_variants
from .custody import CustodyLog
from .records import CaseSummary
from .schema import FILTER_INDEX
from .text_index import compile_query
from .timeutil import format_utc, parse_utc

RULE_KINDS = ("address", "domain", "phone", "keyword")
_DOMAIN = re.compile(r"^(?=.{3,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9-]+)+$")


def slugify(title: str) -> str:
    """A short, URL- and file-safe name for a case ("Lender X extension" -> lender-x-extension).

    Chinese titles keep their characters: 网贷逾期 stays 网贷逾期.
    """
    text = unicodedata.normalize("NFKC", title).lower()
    text = re.sub(r"[^\w]+", "-", text).strip("-_")
    return text[:60].strip("-") or "case"


def wechat_address(value: str) -> str:
    """A WeChat contact as items record it: ``wechat:`` and the wxid, remark or nickname.

    >>> wechat_address("WeChat: 乐贷客服 ")
    'wechat:乐贷客服'
    """
    name = value.strip()[len("wechat:") :].strip()
    if not name:
        raise UsageError(
            _(
                "write a WeChat contact as wechat:WXID or wechat:REMARK, e.g. "
                "wechat:wxid_abc123 or wechat:乐贷客服"
            )
        )
    return normalize_address(f"wechat:{name}")[0]


def rule_from_counterparty(value: str) -> tuple[str, str]:
    """Guess a rule's kind from how a counterparty is written.

    >>> rule_from_counterparty("service@lenderx.com")
    ('address', 'service@lenderx.com')
    >>> rule_from_counterparty("@lenderx.com")
    ('domain', 'lenderx.com')
    >>> rule_from_counterparty("+86 138 1234 5678")
    ('phone', '+8613812345678')
    >>> rule_from_counterparty("wechat:wxid_LenderX01")
    ('address', 'wechat:wxid_lenderx01')
    """
    value = value.strip()
    if value.lower().startswith("wechat:"):
        return "address", wechat_address(value)
    if "@" in value and not value.startswith("@"):
        return "address", normalize_address(value)[0]
    bare = value.lstrip("@").lower()
    if _DOMAIN.match(bare):
        return "domain", bare
    phone = normalize_phone(value)
    if phone:
        return "phone", phone
    raise UsageError(
        _(
            "cannot tell what {value} is: give an e-mail address, a domain such as lenderx.com, "
            "a phone number or a WeChat contact (wechat:wxid_…); use --keyword for words to "
            "look for"
        ).format(value=repr(value))
    )


def normalize_rule(kind: str, value: str) -> tuple[str, str]:
    if kind not in RULE_KINDS:
        raise UsageError(
            _("unknown rule kind {kind}: use one of {value}").format(
                kind=repr(kind), value=", ".join(RULE_KINDS)
            )
        )
    value = value.strip()
    if not value:
        raise UsageError(_("an empty {kind} rule matches nothing").format(kind=kind))
    if kind == "address":
        if value.lower().startswith("wechat:"):
            return kind, wechat_address(value)
        return kind, normalize_address(value)[0]
    if kind == "domain":
        return kind, value.lstrip("@").lower()
    if kind == "phone":
        phone = normalize_phone(value)
        if not phone:
            raise UsageError(_("{value} is not a phone number").format(value=repr(value)))
        return kind, phone
    compile_query(value)  # a keyword must be searchable; this raises a clear error if not
    return kind, value


@dataclass
class RuleSet:
    """All rules of all cases, loaded once per import."""

    by_case: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.by_case)


def load_rules(conn: sqlite3.Connection) -> RuleSet:
    rules = RuleSet()
    for case_id, kind, value in conn.execute(
        "SELECT case_id, kind, value FROM case_rules ORDER BY case_id, id"
    ):
        rules.by_case.setdefault(case_id, []).append((kind, value))
    return rules


def case_id(conn: sqlite3.Connection, slug: str) -> int:
    row = conn.execute("SELECT id FROM cases WHERE slug = ?", (slug,)).fetchone()
    if row is None:
        known = [s for (s,) in conn.execute("SELECT slug FROM cases ORDER BY slug")]
        message = (
            _("no case {slug}; known cases: {known}")
            if known
            else _("no case {slug}; create one with 'evidence case new'")
        )
        raise NotFound(message.format(slug=repr(slug), known=", ".join(known)))
    return int(row[0])


def _matching_items(
    conn: sqlite3.Connection,
    kind: str,
    value: str,
    within: Sequence[int] | None = None,
) -> set[int]:
    """Item ids a rule matches, among ``within`` (all items when None)."""
    limit = ""
    args: list[object] = []
    if within is not None:
        if not within:
            return set()
        limit = f" AND {{col}} BETWEEN {min(within)} AND {max(within)}"
    if kind == "address":
        sql = "SELECT item_id FROM item_people WHERE address = ?" + limit.format(col="item_id")
        args = [value]
    elif kind == "phone":
        forms = phone_variants(value)
        wheres = ["address IN (" + ", ".join("?" * len(forms)) + ")"]
        args = list(forms)
        if is_sms_gateway(forms[0]):
            # The gateway with whatever suffix the sender added: every address that starts
            # with its digits (':' sorts right after '9', so this is an index range scan).
            for form in forms:
                wheres.append("(address > ? AND address < ?)")
                args += [form, form + ":"]
        sql = (
            "SELECT item_id FROM item_people WHERE ("
            + " OR ".join(wheres)
            + ")"
            + limit.format(col="item_id")
        )
    elif kind == "domain":
        sql = (
            "SELECT item_id FROM item_people WHERE (domain = ? OR domain LIKE ? ESCAPE '\\')"
            + limit.format(col="item_id")
        )
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args = [value, "%." + escaped]
    else:
        compiled = compile_query(value)
        if not compiled.match:
            return set()
        sql = "SELECT rowid FROM items_fts WHERE items_fts MATCH ?" + limit.format(col="rowid")
        args = [compiled.match]
    found = {int(r[0]) for r in conn.execute(sql, args)}
    return found & set(within) if within is not None else found


def set_links(
    conn: sqlite3.Connection,
    custody: CustodyLog,
    case: int,
    item_ids: Sequence[int],
    state: str,
    how: str,
    now: datetime,
    *,
    respect_exclusions: bool = False,
) -> int:
    """Link (``state='linked'``) or exclude items; return how many changed."""
    changed = 0
    slug = conn.execute("SELECT slug FROM cases WHERE id = ?", (case,)).fetchone()[0]
    for item_id in item_ids:
        row = conn.execute(
            "SELECT state FROM case_items WHERE case_id = ? AND item_id = ?", (case, item_id)
        ).fetchone()
        if row is not None and (row[0] == state or (respect_exclusions and row[0] == "excluded")):
            continue
        if row is None and state == "excluded":
            # Unlinking an item that was never linked still records the decision, so that a
            # rule does not link it later; it is not a change a person would count.
            conn.execute(
                "INSERT INTO case_items (case_id, item_id, state, how, at) VALUES (?, ?, ?, ?, ?)",
                (case, item_id, state, how, format_utc(now)),
            )
            continue
        conn.execute(
            "INSERT INTO case_items (case_id, item_id, state, how, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (case_id, item_id) DO UPDATE SET state = excluded.state, "
            "how = excluded.how, at = excluded.at",
            (case, item_id, state, how, format_utc(now)),
        )
        custody.append(
            now,
            "linked" if state == "linked" else "unlinked",
            f"item:{item_id}",
            {"case": slug, "how": how},
        )
        changed += 1
    return changed


def _link_by_rules(
    conn: sqlite3.Connection,
    custody: CustodyLog,
    case: int,
    rules: Sequence[tuple[str, str]],
    now: datetime,
    within: Sequence[int] | None = None,
) -> int:
    matched: dict[int, str] = {}
    for kind, value in rules:
        for item_id in _matching_items(conn, kind, value, within):
            matched.setdefault(item_id, f"rule {kind}:{value}")
    linked = 0
    for item_id in sorted(matched):
        linked += set_links(
            conn,
            custody,
            case,
            [item_id],
            "linked",
            matched[item_id],
            now,
            respect_exclusions=True,
        )
    return linked


def link_new_items(
    conn: sqlite3.Connection,
    custody: CustodyLog,
    rules: RuleSet,
    item_ids: Sequence[int],
    now: datetime,
) -> int:
    """Link freshly imported items to every case whose rules match them."""
    return sum(
        _link_by_rules(conn, custody, case, case_rules, now, within=item_ids)
        for case, case_rules in rules.by_case.items()
    )


def create_case(
    conn: sqlite3.Connection,
    custody: CustodyLog,
    title: str,
    slug: str | None,
    description: str,
    rules: list[tuple[str, str]],
    now: datetime,
) -> tuple[str, int]:
    title = title.strip()
    if not title:
        raise UsageError(_("a case needs a title, e.g. 'Lender X extension'"))
    slug = slugify(slug or title)
    if conn.execute("SELECT 1 FROM cases WHERE slug = ?", (slug,)).fetchone():
        raise UsageError(
            _("a case named {slug} already exists: pick another title or pass --slug").format(
                slug=repr(slug)
            )
        )
    normalized = [normalize_rule(k, v) for k, v in rules]
    cur = conn.execute(
        "INSERT INTO cases (slug, title, description, created_at) VALUES (?, ?, ?, ?)",
        (slug, title, description, format_utc(now)),
    )
    case = int(cur.lastrowid or 0)
    custody.append(
        now,
        "case_created",
        f"case:{slug}",
        {"title": title, "description": description, "rules": [list(r) for r in normalized]},
    )
    return slug, add_rules(conn, custody, case, normalized, now, log=False)


def add_rules(
    conn: sqlite3.Connection,
    custody: CustodyLog,
    case: int,
    rules: list[tuple[str, str]],
    now: datetime,
    *,
    log: bool = True,
) -> int:
    normalized = [normalize_rule(k, v) for k, v in rules]
    slug = conn.execute("SELECT slug FROM cases WHERE id = ?", (case,)).fetchone()[0]
    for kind, value in normalized:
        cur = conn.execute(
            "INSERT OR IGNORE INTO case_rules (case_id, kind, value) VALUES (?, ?, ?)",
            (case, kind, value),
        )
        if log and cur.rowcount == 1:
            custody.append(now, "rule_added", f"case:{slug}", {"kind": kind, "value": value})
    return _link_by_rules(conn, custody, case, normalized, now)


def remove_rule(
    conn: sqlite3.Connection,
    custody: CustodyLog,
    case: int,
    kind: str,
    value: str,
    now: datetime,
) -> bool:
    kind, value = normalize_rule(kind, value)
    # An archive made before service numbers kept their digits holds 95555 as +8695555.
    forms = phone_variants(value) if kind == "phone" else (value,)
    cur = conn.execute(
        "DELETE FROM case_rules WHERE case_id = ? AND kind = ? AND value IN ("
        + ", ".join("?" * len(forms))
        + ")",
        (case, kind, *forms),
    )
    if cur.rowcount:
        slug = conn.execute("SELECT slug FROM cases WHERE id = ?", (case,)).fetchone()[0]
        custody.append(now, "rule_removed", f"case:{slug}", {"kind": kind, "value": value})
    return bool(cur.rowcount)


def summary(conn: sqlite3.Connection, case: int) -> CaseSummary:
    slug, title, description, created = conn.execute(
        "SELECT slug, title, description, created_at FROM cases WHERE id = ?", (case,)
    ).fetchone()
    rules = tuple(
        (k, v)
        for k, v in conn.execute(
            "SELECT kind, value FROM case_rules WHERE case_id = ? ORDER BY id", (case,)
        )
    )
    # The compact filter index holds each item's date: the item rows (with their bodies) of
    # a case of 50,000 items are never read for its first and last date.
    count, first, last = conn.execute(
        "SELECT COUNT(*), MIN(i.occurred_at), MAX(i.occurred_at) FROM case_items ci "
        f"JOIN items i INDEXED BY {FILTER_INDEX} ON i.id = ci.item_id "
        "WHERE ci.case_id = ? AND ci.state = 'linked'",
        (case,),
    ).fetchone()
    return CaseSummary(
        slug=slug,
        title=title,
        description=description or "",
        created_at=parse_utc(created),
        rules=rules,
        items=count,
        first=parse_utc(first) if first else None,
        last=parse_utc(last) if last else None,
    )


def names(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """``[(slug, title), …]`` of every case, by slug: what a menu of cases needs, no counts."""
    return [(s, t) for s, t in conn.execute("SELECT slug, title FROM cases ORDER BY slug")]


def summaries(conn: sqlite3.Connection) -> list[CaseSummary]:
    return [summary(conn, c) for (c,) in conn.execute("SELECT id FROM cases ORDER BY slug")]
