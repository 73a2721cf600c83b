"""Facts: what the evidence shows, in a person's words, each citing the items that show it.

A fact belongs to one case and cites one or more items of that case ("on 3 July agent 1234
agreed to defer instalments 4-6 to 15 October": the SMS, the WhatsApp message and the e-mail
that say so). It has a kind (promise, demand, payment, breach, other), its text, and may name a
due date, an exact amount with its currency (a ``Decimal`` kept as text, never a float), who
said it (an agent's identifier) and a reference number. Adding, editing and removing a fact are
custody events (``fact_added``, ``fact_edited``, ``fact_removed``, subject ``case:<slug>``), in
the same transaction as the change, so the bundle of that case carries them.

Rules:

* An item cited by a fact must be linked to the fact's case when the fact is recorded: a fact
  citing an item of another case is refused.
* An item unlinked from the case later does not take the fact with it (the fact was a person's
  reading of the evidence, and the custody log says when it was made). The fact is kept and
  listed with ``outside`` naming the items no longer in the case; an export shows such a
  citation as "not in this bundle" and warns; a fact none of whose items is in a bundle is
  left out of that bundle, with a warning.

Suggestions (:func:`suggestions`) are candidates found in the case's text by
:mod:`..extract.facts`; each has a stable id (``s<item>-<hash>``, the same on every run for
the same item, kind and text). Nothing is recorded until a person accepts one (it then becomes
a fact citing its item) or rejects it (remembered, with a custody event, and not proposed
again).

Possible breaches (:func:`conflicts`): a promise with a due date is compared with the case's
later items from the other side (received, or sent by an address, domain or phone number of
the case's counterparties, or a document or file with no sender) dated before the due date: an
item demanding payment, charging a late fee (逾期费, 滞纳金, 罚息, late fee) or from collections
(催收, 逾期) is flagged, citing the promise's exhibits and the item's. Computed when asked,
never stored: it is a pointer for a person, not a finding.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ..errors import NotFound, UsageError
from ..i18n import _, pgettext
from ..model import FACT_KINDS as KINDS
from ..people import normalize_phone
from .custody import CustodyLog
from .timeutil import as_sent, format_utc, parse_utc

# The suggestion rules (..extract.facts, many patterns to compile) are loaded by the functions
# that read text, not by every command that opens an archive.


@dataclass(frozen=True)
class FactRecord:
    """One recorded fact. ``at`` is when it happened: its ``on`` date when one was given, else
    the time of the earliest item it cites. ``outside`` lists cited items no longer in the
    case."""

    id: int
    case: str
    kind: str
    text: str
    items: tuple[int, ...]
    at: datetime | None
    on: date | None = None
    due: date | None = None
    amount: Decimal | None = None
    currency: str | None = None
    by: str | None = None
    reference: str | None = None
    suggestion: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    outside: tuple[int, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case": self.case,
            "kind": self.kind,
            "text": self.text,
            "items": list(self.items),
            "at": self.at.isoformat() if self.at else None,
            "on": self.on.isoformat() if self.on else None,
            "due": self.due.isoformat() if self.due else None,
            "amount": str(self.amount) if self.amount is not None else None,
            "currency": self.currency,
            "by": self.by,
            "reference": self.reference,
            "suggestion": self.suggestion,
            "created_at": format_utc(self.created_at) if self.created_at else None,
            "updated_at": format_utc(self.updated_at) if self.updated_at else None,
            "outside": list(self.outside),
        }


@dataclass(frozen=True)
class Suggestion:
    """A candidate fact found in one item's text, not recorded until accepted."""

    id: str
    case: str
    item: int
    item_at: datetime | None
    kind: str
    text: str
    due: date | None
    amount: Decimal | None
    currency: str | None
    by: str | None
    reference: str | None
    dates: tuple[date, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case": self.case,
            "item": self.item,
            "item_at": self.item_at.isoformat() if self.item_at else None,
            "kind": self.kind,
            "text": self.text,
            "due": self.due.isoformat() if self.due else None,
            "amount": str(self.amount) if self.amount is not None else None,
            "currency": self.currency,
            "by": self.by,
            "reference": self.reference,
            "dates": [d.isoformat() for d in self.dates],
        }


@dataclass(frozen=True)
class Conflict:
    """A possible breach: a later item that contradicts a promise before its due date."""

    fact: int
    promise_items: tuple[int, ...]
    item: int
    item_at: datetime | None
    due: date
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "fact": self.fact,
            "promise_items": list(self.promise_items),
            "item": self.item,
            "item_at": self.item_at.isoformat() if self.item_at else None,
            "due": self.due.isoformat(),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class FactFields:
    """What a person gives for a fact; ``None`` leaves a field as it is when editing."""

    kind: str | None = None
    text: str | None = None
    on: date | None = None
    due: date | None = None
    amount: Decimal | None = None
    currency: str | None = None
    by: str | None = None
    reference: str | None = None


# -- values ------------------------------------------------------------------------------------


def fact_kind_name(kind: str) -> str:
    """A fact's kind as a person reads it (``promise``: "承诺" in Chinese); the archive, the
    bundle's data files and --json keep the stored word."""
    names = {
        "promise": pgettext("fact kind", "promise"),
        "demand": pgettext("fact kind", "demand"),
        "payment": pgettext("fact kind", "payment"),
        "breach": pgettext("fact kind", "breach"),
        "other": pgettext("fact kind", "other"),
    }
    return names.get(kind, kind)


def check_kind(kind: str) -> str:
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise UsageError(
            _("unknown kind of fact {kind}: use one of {kinds}").format(
                kind=repr(kind), kinds=", ".join(KINDS)
            )
        )
    return kind


def amount_value(text: str | Decimal) -> Decimal:
    """An amount typed by a person (``5265.76``, ``5,265.76``) as an exact decimal."""
    from ..extract import facts as extract

    if isinstance(text, Decimal):
        if not text.is_finite() or text < 0:
            raise UsageError(
                _("{text} is not an amount: give a number such as 5265.76").format(text=text)
            )
        return text
    try:
        return extract.parse_amount(text)
    except ValueError:
        raise UsageError(
            _(
                "cannot read the amount {text}: write it as digits with a decimal point, "
                "e.g. 5265.76"
            ).format(text=repr(text))
        ) from None


def currency_code(text: str) -> str:
    from ..extract import facts as extract

    try:
        return extract.normalize_currency(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


# -- reading -----------------------------------------------------------------------------------

_FACT_COLUMNS = (
    "f.id, c.slug, f.kind, f.text, f.on_date, f.due, f.amount, f.currency, f.by, f.reference, "
    "f.suggestion, f.created_at, f.updated_at, f.case_id"
)


def _cited(conn: sqlite3.Connection, fact_id: int) -> list[tuple[int, str | None, int | None]]:
    return [
        (int(i), at, off)
        for i, at, off in conn.execute(
            "SELECT fi.item_id, i.occurred_at, i.occurred_offset FROM fact_items fi "
            "JOIN items i ON i.id = fi.item_id WHERE fi.fact_id = ? ORDER BY fi.position",
            (fact_id,),
        )
    ]


def _record(conn: sqlite3.Connection, row: Sequence[Any]) -> FactRecord:
    fact_id, slug, kind, text, on, due, amount, currency, by, ref, sugg, made, changed, case = row
    cited = _cited(conn, fact_id)
    linked = {
        int(i)
        for (i,) in conn.execute(
            "SELECT item_id FROM case_items WHERE case_id = ? AND state = 'linked' AND item_id IN "
            "(SELECT item_id FROM fact_items WHERE fact_id = ?)",
            (case, fact_id),
        )
    }
    on_date = _date(on)
    times = sorted((at, off) for _, at, off in cited if at)
    at: datetime | None = as_sent(*times[0]) if times else None
    return FactRecord(
        id=fact_id,
        case=slug,
        kind=kind,
        text=text,
        items=tuple(i for i, _, _ in cited),
        at=at,
        on=on_date,
        due=_date(due),
        amount=Decimal(amount) if amount is not None else None,
        currency=currency,
        by=by,
        reference=ref,
        suggestion=sugg,
        created_at=parse_utc(made) if made else None,
        updated_at=parse_utc(changed) if changed else None,
        outside=tuple(i for i, _, _ in cited if i not in linked),
    )


def fact_date(fact: FactRecord) -> date | None:
    """The day a fact happened, as the chronology shows it."""
    if fact.on is not None:
        return fact.on
    return fact.at.date() if fact.at else None


def _sort_key(fact: FactRecord) -> tuple[int, str, int]:
    day = fact_date(fact)
    moment = fact.at.isoformat() if fact.at and fact.on is None else ""
    return (day is None, (day.isoformat() if day else "") + moment, fact.id)


def get(conn: sqlite3.Connection, fact_id: int) -> FactRecord:
    row = conn.execute(
        f"SELECT {_FACT_COLUMNS} FROM facts f JOIN cases c ON c.id = f.case_id WHERE f.id = ?",
        (fact_id,),
    ).fetchone()
    if row is None:
        raise NotFound(
            _("no fact {fact_id} in this archive (see 'evidence fact list CASE')").format(
                fact_id=fact_id
            )
        )
    return _record(conn, row)


def list_facts(conn: sqlite3.Connection, case: int) -> list[FactRecord]:
    """The facts of a case in time order (facts with no date last)."""
    rows = conn.execute(
        f"SELECT {_FACT_COLUMNS} FROM facts f JOIN cases c ON c.id = f.case_id "
        "WHERE f.case_id = ? ORDER BY f.id",
        (case,),
    ).fetchall()
    return sorted((_record(conn, r) for r in rows), key=_sort_key)


def citing(conn: sqlite3.Connection, item_id: int) -> list[FactRecord]:
    """The facts, of any case, that cite an item."""
    rows = conn.execute(
        f"SELECT {_FACT_COLUMNS} FROM facts f JOIN cases c ON c.id = f.case_id "
        "WHERE f.id IN (SELECT fact_id FROM fact_items WHERE item_id = ?) ORDER BY f.id",
        (item_id,),
    ).fetchall()
    return [_record(conn, r) for r in rows]


# -- writing -----------------------------------------------------------------------------------


def _slug(conn: sqlite3.Connection, case: int) -> str:
    return str(conn.execute("SELECT slug FROM cases WHERE id = ?", (case,)).fetchone()[0])


def _check_items(conn: sqlite3.Connection, case: int, items: Sequence[int]) -> list[int]:
    ids = list(dict.fromkeys(items))
    if not ids:
        raise UsageError(_("a fact must cite at least one item, e.g. 'evidence fact add 42 …'"))
    slug = _slug(conn, case)
    for item_id in ids:
        if conn.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone() is None:
            raise NotFound(
                _("no item {item_id} in this archive (see 'evidence search')").format(
                    item_id=item_id
                )
            )
        linked = conn.execute(
            "SELECT 1 FROM case_items WHERE case_id = ? AND item_id = ? AND state = 'linked'",
            (case, item_id),
        ).fetchone()
        if linked is None:
            raise UsageError(
                _(
                    "item {item_id} is not in the case {case}: a fact can only cite items of its "
                    "own case (link it first with 'evidence case link {slug} {item_id}')"
                ).format(item_id=item_id, case=repr(slug), slug=slug)
            )
    return ids


def case_of_items(conn: sqlite3.Connection, items: Sequence[int]) -> int:
    """The one case all ``items`` are linked to, when no case was named."""
    common: set[int] | None = None
    if not items:
        raise UsageError(_("a fact must cite at least one item, e.g. 'evidence fact add 42 …'"))
    for item_id in items:
        if conn.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone() is None:
            raise NotFound(
                _("no item {item_id} in this archive (see 'evidence search')").format(
                    item_id=item_id
                )
            )
        cases = {
            int(c)
            for (c,) in conn.execute(
                "SELECT case_id FROM case_items WHERE item_id = ? AND state = 'linked'",
                (item_id,),
            )
        }
        common = cases if common is None else common & cases
    if not common:
        raise UsageError(
            _(
                "these items are not all in one case: link them to a case first, or name the "
                "case with --case"
            )
        )
    if len(common) > 1:
        names = sorted(_slug(conn, c) for c in common)
        raise UsageError(
            _("these items are in several cases ({cases}): pick one with --case").format(
                cases=_(", ").join(names)
            )
        )
    return next(iter(common))


def _details(fact: FactRecord) -> dict[str, Any]:
    data = fact.as_json()
    for key in ("case", "created_at", "updated_at", "outside", "at"):
        data.pop(key)
    return data


def add(
    conn: sqlite3.Connection,
    custody: CustodyLog,
    case: int,
    items: Sequence[int],
    fields: FactFields,
    now: datetime,
    *,
    suggestion: str | None = None,
) -> FactRecord:
    ids = _check_items(conn, case, items)
    kind = check_kind(fields.kind or "")
    text = (fields.text or "").strip()
    if not text:
        raise UsageError(_('a fact needs its text, e.g. --text "Agent 1234 agreed to defer …"'))
    if fields.currency is not None and fields.amount is None:
        raise UsageError(_("--currency needs an --amount"))
    cur = conn.execute(
        "INSERT INTO facts (case_id, kind, text, on_date, due, amount, currency, by, reference, "
        "suggestion, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            case,
            kind,
            text,
            fields.on.isoformat() if fields.on else None,
            fields.due.isoformat() if fields.due else None,
            _decimal_text(amount_value(fields.amount)) if fields.amount is not None else None,
            currency_code(fields.currency) if fields.currency else None,
            (fields.by or "").strip() or None,
            (fields.reference or "").strip() or None,
            suggestion,
            format_utc(now),
            format_utc(now),
        ),
    )
    fact_id = int(cur.lastrowid or 0)
    conn.executemany(
        "INSERT INTO fact_items (fact_id, item_id, position) VALUES (?, ?, ?)",
        [(fact_id, item_id, n) for n, item_id in enumerate(ids)],
    )
    fact = get(conn, fact_id)
    custody.append(now, "fact_added", f"case:{fact.case}", _details(fact))
    return fact


def edit(
    conn: sqlite3.Connection,
    custody: CustodyLog,
    fact_id: int,
    fields: FactFields,
    now: datetime,
    *,
    items: Sequence[int] | None = None,
    clear: Iterable[str] = (),
) -> FactRecord:
    """Change the given fields (and the cited items when ``items`` is given); ``clear`` names
    optional fields to empty (``due``, ``on``, ``amount``, ``by``, ``reference``)."""
    before = get(conn, fact_id)
    case = int(conn.execute("SELECT case_id FROM facts WHERE id = ?", (fact_id,)).fetchone()[0])
    values: dict[str, Any] = {}
    if fields.kind is not None:
        values["kind"] = check_kind(fields.kind)
    if fields.text is not None:
        if not fields.text.strip():
            raise UsageError(_("a fact's text cannot be empty"))
        values["text"] = fields.text.strip()
    if fields.on is not None:
        values["on_date"] = fields.on.isoformat()
    if fields.due is not None:
        values["due"] = fields.due.isoformat()
    if fields.amount is not None:
        values["amount"] = _decimal_text(amount_value(fields.amount))
    if fields.currency is not None:
        values["currency"] = currency_code(fields.currency)
    if fields.by is not None:
        values["by"] = fields.by.strip() or None
    if fields.reference is not None:
        values["reference"] = fields.reference.strip() or None
    columns = {"due": "due", "on": "on_date", "amount": "amount", "by": "by",
               "reference": "reference", "currency": "currency"}  # fmt: skip
    for name in clear:
        if name not in columns:
            raise UsageError(
                _("cannot clear {name}: use one of {fields}").format(
                    name=repr(name), fields=", ".join(columns)
                )
            )
        values[columns[name]] = None
        if name == "amount":
            values["currency"] = None
    if values.get("currency") and not (values.get("amount") or before.amount is not None):
        raise UsageError(_("--currency needs an --amount"))
    new_items = _check_items(conn, case, items) if items is not None else None
    if not values and new_items is None:
        raise UsageError(_("nothing to change: give --text, --kind, --due, --amount … or --cites"))
    if values:
        values["updated_at"] = format_utc(now)
        assignments = ", ".join(f"{column} = ?" for column in values)
        conn.execute(f"UPDATE facts SET {assignments} WHERE id = ?", (*values.values(), fact_id))
    if new_items is not None:
        conn.execute("DELETE FROM fact_items WHERE fact_id = ?", (fact_id,))
        conn.executemany(
            "INSERT INTO fact_items (fact_id, item_id, position) VALUES (?, ?, ?)",
            [(fact_id, item_id, n) for n, item_id in enumerate(new_items)],
        )
        conn.execute("UPDATE facts SET updated_at = ? WHERE id = ?", (format_utc(now), fact_id))
    after = get(conn, fact_id)
    old, new = _details(before), _details(after)
    changed = {k: {"from": old[k], "to": new[k]} for k in new if old[k] != new[k]}
    custody.append(now, "fact_edited", f"case:{after.case}", {"fact": fact_id, "changed": changed})
    return after


def remove(conn: sqlite3.Connection, custody: CustodyLog, fact_id: int, now: datetime) -> None:
    fact = get(conn, fact_id)
    conn.execute("DELETE FROM fact_items WHERE fact_id = ?", (fact_id,))
    conn.execute("UPDATE fact_suggestions SET fact_id = NULL WHERE fact_id = ?", (fact_id,))
    conn.execute("DELETE FROM facts WHERE id = ?", (fact_id,))
    custody.append(
        now, "fact_removed", f"case:{fact.case}", {"fact": fact_id, "was": _details(fact)}
    )


# -- suggestions -------------------------------------------------------------------------------


def _suggestion_id(slug: str, item_id: int, kind: str, text: str) -> str:
    digest = hashlib.sha256(f"{slug}\n{item_id}\n{kind}\n{text}".encode()).hexdigest()
    return f"s{item_id}-{digest[:8]}"


def _item_text(conn: sqlite3.Connection, item_id: int) -> str:
    row = conn.execute("SELECT title, body FROM items WHERE id = ?", (item_id,)).fetchone()
    parts = [row[1] or ""]
    # Attachment text (a PDF schedule, a saved confirmation) says as much as the body.
    parts += [
        t
        for (t,) in conn.execute(
            "SELECT text FROM attachments WHERE item_id = ? AND COALESCE(text, '') != '' "
            "ORDER BY position",
            (item_id,),
        )
    ]
    return "\n".join(p for p in parts if p)


def item_suggestions(
    conn: sqlite3.Connection, case: int, item_id: int, *, include_decided: bool = False
) -> list[Suggestion]:
    from ..extract import facts as extract

    slug = _slug(conn, case)
    row = conn.execute(
        "SELECT occurred_at, occurred_offset FROM items WHERE id = ?", (item_id,)
    ).fetchone()
    said = as_sent(row[0], row[1]) if row and row[0] else None
    decided = {
        s
        for (s,) in conn.execute(
            "SELECT id FROM fact_suggestions WHERE case_id = ? AND item_id = ?", (case, item_id)
        )
    }
    out = []
    for c in extract.suggest(_item_text(conn, item_id), said):
        sid = _suggestion_id(slug, item_id, c.kind, c.text)
        if sid in decided and not include_decided:
            continue
        out.append(
            Suggestion(
                id=sid,
                case=slug,
                item=item_id,
                item_at=said,
                kind=c.kind,
                text=c.text,
                due=c.due,
                amount=c.amount.value if c.amount else None,
                currency=c.amount.currency if c.amount else None,
                by=c.by,
                reference=c.reference,
                dates=c.dates,
            )
        )
    return out


def _case_item_ids(conn: sqlite3.Connection, case: int) -> list[int]:
    return [
        int(i)
        for (i,) in conn.execute(
            "SELECT i.id FROM items i JOIN case_items ci ON ci.item_id = i.id "
            "WHERE ci.case_id = ? AND ci.state = 'linked' "
            "ORDER BY i.occurred_at IS NULL, i.occurred_at, i.id",
            (case,),
        )
    ]


def suggestions(
    conn: sqlite3.Connection, case: int, *, limit: int | None = None
) -> list[Suggestion]:
    """Candidates of every item of the case not yet accepted or rejected, in time order;
    with ``limit``, the first ones only, reading no more items than it takes to find them
    (finding them reads each item's text: a page need not read a case of 50,000 items)."""
    found: list[Suggestion] = []
    for item_id in _case_item_ids(conn, case):
        if limit is not None and len(found) >= limit:
            return found[:limit]
        found.extend(item_suggestions(conn, case, item_id))
    return found if limit is None else found[:limit]


_SUGGESTION_ID = re.compile(r"^s(\d+)-[0-9a-f]{8}$")


def find_suggestion(conn: sqlite3.Connection, sid: str) -> tuple[int, Suggestion]:
    """``(case id, suggestion)`` for an id ``fact suggest`` printed; NotFound otherwise."""
    m = _SUGGESTION_ID.match(sid.strip())
    if m is None:
        raise UsageError(
            _("{sid} is not a suggestion id such as s42-1a2b3c4d (see 'fact suggest')").format(
                sid=repr(sid)
            )
        )
    item_id = int(m.group(1))
    for (case,) in conn.execute(
        "SELECT case_id FROM case_items WHERE item_id = ? AND state = 'linked' ORDER BY case_id",
        (item_id,),
    ):
        for s in item_suggestions(conn, int(case), item_id, include_decided=True):
            if s.id == sid.strip():
                return int(case), s
    raise NotFound(
        _(
            "no suggestion {sid}: its item changed or left the case; run 'evidence fact suggest' "
            "again"
        ).format(sid=sid)
    )


def decide(
    conn: sqlite3.Connection,
    custody: CustodyLog,
    sid: str,
    accept: bool,
    now: datetime,
    overrides: FactFields | None = None,
) -> FactRecord | None:
    """Accept a suggestion (it becomes a fact citing its item; ``overrides`` replace what was
    found) or reject it (remembered, never proposed again). Deciding twice is refused."""
    case, s = find_suggestion(conn, sid)
    known = conn.execute("SELECT state FROM fact_suggestions WHERE id = ?", (s.id,)).fetchone()
    if known is not None:
        already = (
            _("the suggestion {sid} was already accepted")
            if known[0] == "accepted"
            else _("the suggestion {sid} was already rejected")
        )
        raise UsageError(already.format(sid=s.id))
    fact: FactRecord | None = None
    if accept:
        o = overrides or FactFields()
        fields = FactFields(
            kind=o.kind or s.kind,
            text=o.text or s.text,
            on=o.on,
            due=o.due or s.due,
            amount=o.amount if o.amount is not None else s.amount,
            currency=o.currency or (s.currency if o.amount is None else None),
            by=o.by or s.by,
            reference=o.reference or s.reference,
        )
        fact = add(conn, custody, case, [s.item], fields, now, suggestion=s.id)
    else:
        custody.append(
            now,
            "suggestion_rejected",
            f"case:{s.case}",
            {"suggestion": s.id, "item": s.item, "kind": s.kind, "text": s.text},
        )
    fact_id = fact.id if fact else None
    conn.execute(
        "INSERT INTO fact_suggestions (id, case_id, item_id, state, fact_id, at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (s.id, case, s.item, "accepted" if accept else "rejected", fact_id, format_utc(now)),
    )
    return fact


# -- possible breaches -------------------------------------------------------------------------

# What a demand, a late fee or a collection notice says (a reminder that an instalment the
# promise deferred is due counts too: it demands payment before the promised date).
_BREACH_TERMS = re.compile(
    r"逾期费用?|滞纳金|罚息|违约金|催收|已逾期|逾期|最后通知|上报征信|应还|立即还款|必须还款|"
    r"\b(?:late fees?|overdue|collections?|final notice|arrears|penalty|due on|amount due|"
    r"pay (?:now|today|immediately))\b",
    re.IGNORECASE,
)


def _counterparty_rules(conn: sqlite3.Connection, case: int) -> list[tuple[str, str]]:
    return [
        (k, v)
        for k, v in conn.execute(
            "SELECT kind, value FROM case_rules WHERE case_id = ? AND kind != 'keyword'", (case,)
        )
    ]


def _from_other_side(
    conn: sqlite3.Connection, item_id: int, direction: str, rules: list[tuple[str, str]]
) -> bool:
    if direction == "in":
        return True
    if direction == "out":
        return False
    senders = [
        (a, d or "")
        for a, d in conn.execute(
            "SELECT address, domain FROM item_people WHERE item_id = ? AND role = 'from'",
            (item_id,),
        )
    ]
    if not senders:
        return True  # a document or a screenshot: what it says is the other side's
    for address, domain in senders:
        for kind, value in rules:
            if kind in ("address", "phone") and address == (
                normalize_phone(value) if kind == "phone" else value
            ):
                return True
            if kind == "domain" and (domain == value or domain.endswith("." + value)):
                return True
    return False


def conflicts(conn: sqlite3.Connection, case: int) -> list[Conflict]:
    """Possible breaches of the case's promises (see the module docstring), in time order."""
    from ..extract import facts as extract

    facts = [f for f in list_facts(conn, case) if f.kind == "promise" and f.due and f.at]
    if not facts:
        return []
    rules = _counterparty_rules(conn, case)
    rows = conn.execute(
        "SELECT i.id, i.occurred_at, i.occurred_offset, i.direction FROM items i "
        "JOIN case_items ci ON ci.item_id = i.id WHERE ci.case_id = ? AND ci.state = 'linked' "
        "AND i.occurred_at IS NOT NULL ORDER BY i.occurred_at, i.id",
        (case,),
    ).fetchall()
    found: list[Conflict] = []
    for fact in facts:
        assert fact.due is not None
        assert fact.at is not None
        cited = set(fact.items)
        for item_id, at_text, offset, direction in rows:
            at = as_sent(at_text, offset)
            if item_id in cited or at <= fact.at or at.date() >= fact.due:
                continue
            if not _from_other_side(conn, item_id, direction or "unknown", rules):
                continue
            text = _item_text(conn, item_id)
            terms = [
                m.group(0)
                for s in extract.sentences(text)
                if extract.sentence_kind(s) == "demand"
                for m in _BREACH_TERMS.finditer(extract.without_negated_fees(s))
            ]
            if not terms:
                continue
            reason = ", ".join(dict.fromkeys(t.lower() for t in terms))
            found.append(Conflict(fact.id, fact.items, item_id, at, fact.due, reason))
    return found
