"""The "Key facts / 关键事实" chronology of a bundle: the case's facts with the exhibits that
show them, and the possible breaches of its promises, as ``data/facts.json`` and
``data/facts.csv`` and at the front of ``index.html`` and ``bundle.pdf``.

A bundle stands alone, so a fact is shown with the *exhibit numbers* of the items it cites.
A cited item that is not an exhibit of this bundle (unlinked from the case after the fact was
recorded, or left out by --since/--until/--tag) is shown as "not in this bundle" and the
export warns; a fact none of whose items is in the bundle is left out, with a warning. A
possible breach is shown only when the promise and the contradicting item are both exhibits.
Everything is ordered by date, then by the fact's number, so the same archive state gives the
same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..archive.facts import Conflict, FactRecord, fact_date, fact_kind_name
from ..i18n import _, ngettext
from .exhibits import LABELS, Labels


@dataclass(frozen=True)
class KeyFact:
    fact: int
    date: str
    kind: str
    text: str
    amount: str
    currency: str
    due: str
    by: str
    reference: str
    exhibits: tuple[str, ...]
    outside: int  # cited items that are not in this bundle

    def as_json(self) -> dict[str, Any]:
        return {
            "fact": self.fact,
            "date": self.date or None,
            "kind": self.kind,
            "text": self.text,
            "amount": self.amount or None,
            "currency": self.currency or None,
            "due": self.due or None,
            "by": self.by or None,
            "reference": self.reference or None,
            "exhibits": list(self.exhibits),
            "items_not_in_bundle": self.outside,
        }


@dataclass(frozen=True)
class Breach:
    fact: int
    promise_exhibits: tuple[str, ...]
    exhibit: str
    date: str
    due: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "fact": self.fact,
            "promise_exhibits": list(self.promise_exhibits),
            "exhibit": self.exhibit,
            "date": self.date,
            "due": self.due,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Chronology:
    facts: tuple[KeyFact, ...]
    breaches: tuple[Breach, ...]
    warnings: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.facts or self.breaches)

    def texts(self) -> list[str]:
        """Every string the PDF may draw (for the font subset)."""
        out: list[str] = []
        for f in self.facts:
            out += [f.text, f.by, f.reference, f.amount, f.currency, *f.exhibits]
        for b in self.breaches:
            out += [b.reason, b.exhibit, *b.promise_exhibits]
        return out


def chronology(
    facts: Sequence[FactRecord],
    conflicts: Sequence[Conflict],
    exhibit_of: Callable[[int], str | None],
) -> Chronology:
    rows: list[KeyFact] = []
    warnings: list[str] = []
    for f in facts:
        numbers = [n for i in f.items if (n := exhibit_of(i)) is not None]
        missing = len(f.items) - len(numbers)
        if not numbers:
            warnings.append(
                _(
                    "fact {id} ({kind}) is left out of the bundle: none of the items it cites is "
                    "in it"
                ).format(id=f.id, kind=fact_kind_name(f.kind))
            )
            continue
        if missing:
            warnings.append(
                ngettext(
                    "fact {id} ({kind}) cites {n} item that is not in the bundle; it is shown as "
                    "not in this bundle",
                    "fact {id} ({kind}) cites {n} items that are not in the bundle; they are "
                    "shown as not in this bundle",
                    missing,
                ).format(id=f.id, kind=fact_kind_name(f.kind), n=missing)
            )
        day = fact_date(f)
        rows.append(
            KeyFact(
                fact=f.id,
                date=day.isoformat() if day else "",
                kind=f.kind,
                text=f.text,
                amount=str(f.amount) if f.amount is not None else "",
                currency=f.currency or "",
                due=f.due.isoformat() if f.due else "",
                by=f.by or "",
                reference=f.reference or "",
                exhibits=tuple(numbers),
                outside=missing,
            )
        )
    breaches: list[Breach] = []
    for c in conflicts:
        exhibit = exhibit_of(c.item)
        promised = tuple(n for i in c.promise_items if (n := exhibit_of(i)) is not None)
        if exhibit is None or not promised:
            continue
        breaches.append(
            Breach(
                fact=c.fact,
                promise_exhibits=promised,
                exhibit=exhibit,
                date=c.item_at.date().isoformat() if c.item_at else "",
                due=c.due.isoformat(),
                reason=c.reason,
            )
        )
    return Chronology(tuple(rows), tuple(breaches), tuple(warnings))


def facts_json(chron: Chronology) -> str:
    data = {
        "facts": [f.as_json() for f in chron.facts],
        "possible_breaches": [b.as_json() for b in chron.breaches],
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1) + "\n"


CSV_COLUMNS = [
    "row",
    "date",
    "kind",
    "fact",
    "amount",
    "currency",
    "due",
    "by",
    "reference",
    "exhibits",
    "note",
]


def facts_csv(chron: Chronology, labels: Labels) -> str:
    """One row per fact, then one per possible breach; a byte-order mark for spreadsheets."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for f in chron.facts:
        note = f"{f.outside} {labels('not_in_bundle')}" if f.outside else ""
        writer.writerow(
            [
                f"fact {f.fact}",
                f.date,
                f.kind,
                f.text,
                f.amount,
                f.currency,
                f.due,
                f.by,
                f.reference,
                " ".join(f.exhibits),
                note,
            ]  # fmt: skip
        )
    for b in chron.breaches:
        writer.writerow(
            [
                f"breach of fact {b.fact}",
                b.date,
                "possible breach",
                breach_text(b, labels),
                "",
                "",
                b.due,
                "",
                "",
                " ".join((*b.promise_exhibits, b.exhibit)),
                b.reason,
            ]  # fmt: skip
        )
    return "\ufeff" + buf.getvalue()


def kind_label(kind: str, labels: Labels) -> str:
    key = f"fact_{kind}"
    return labels(key) if key in LABELS else kind


def breach_text(b: Breach, labels: Labels) -> str:
    """ "E-017 (2024-08-03) contradicts the promise in E-008, E-010 (due 2024-10-15): …"."""
    return labels("breach_line").format(
        exhibit=b.exhibit,
        date=b.date,
        promise=", ".join(b.promise_exhibits),
        due=b.due,
        reason=b.reason,
    )


def money(f: KeyFact) -> str:
    return f"{f.amount} {f.currency}".strip()
