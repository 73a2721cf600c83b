"""Precision and recall of ``evidence fact suggest`` on a labelled set and on the demo case.

    .venv/bin/python benchmarks/fact_suggest.py [--labelled fixtures/facts/labelled.jsonl] [-v]

The labelled set (``fixtures/facts/labelled.jsonl``, 64 messages, half Chinese, half English)
was written together with the first rules of ``extract/facts.py`` and overstates how well they
do. The second set (``fixtures/facts/heldout.jsonl``, 40 messages, half Chinese) was written
after those rules were frozen (recall 23.5% on it then), and its misses were then used to widen
the vocabulary: it is no longer held out either. The fresh set (``fixtures/facts/fresh.jsonl``)
was written after that, and the rules were not changed after it: its figures are the honest
ones. Each gives for each message the time it was written, its text,
the facts a careful reader would record (kind, and the due date and amount when the fact names
them) and the agent identifier and reference number it names. The demo case is imported into
a throwaway archive and its items are labelled below by a phrase of their text.

Figures printed, for each set:

* detection: a suggestion is right when the message has a labelled fact of the same kind
  (precision = right suggestions / suggestions; recall = labelled facts found / labelled facts);
* exact: the same, and the suggestion's due date and amount equal the label's where the label
  names them;
* agent ids and reference numbers: the first one found in each message against the label.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from evidence_archiver.extract.facts import Candidate, agents, references, suggest

ROOT = Path(__file__).resolve().parents[1]

# The demo case's items, by a phrase of their text (item numbers depend on import order):
# what a borrower would record from each. Items not listed should give no suggestion.
DEMO_LABELS: list[tuple[str, list[dict[str, Any]], str | None, str | None]] = [
    # (phrase, facts, agent id, reference number)
    # The most specific phrases first: the screenshot and the extension agreement quote others.
    ("您的第4、5期还款已逾期", [{"kind": "demand"}], None, None),
    (
        "Repayment Extension Agreement",
        [{"kind": "promise", "due": "2024-10-15"}],
        None,
        "LX-2024-0315-001-E1",
    ),  # fmt: skip
    ("借款合同", [{"kind": "other"}], None, "LX-2024-0315-001"),
    (
        "第3期应还",
        [{"kind": "demand", "due": "2024-06-15", "amount": "5265.76"}],
        None,
        "LX-2024-0315-001",
    ),  # fmt: skip
    ("我于6月底失业", [], None, "LX-2024-0315-001"),
    ("已收到您的延期申请", [{"kind": "promise", "due": "2024-10-15"}], None, None),
    ("这里是乐贷客服", [{"kind": "promise", "due": "2024-10-15"}], None, None),
    (
        "我司同意您的展期申请",
        [{"kind": "promise", "due": "2024-10-15"}],
        "1234",
        "LX-2024-0315-001",
    ),  # fmt: skip
    ("我会从10月15日开始", [{"kind": "promise", "due": "2024-10-15"}], None, None),
    (
        "第4期应还",
        [{"kind": "demand", "due": "2024-07-15", "amount": "5265.76"}],
        None,
        "LX-2024-0315-001",
    ),  # fmt: skip
    ("如果今天不还款", [{"kind": "demand", "due": "2024-08-02"}], None, None),
    ("今天必须还款", [{"kind": "demand", "due": "2024-08-02"}], None, None),
    ("最后通知", [{"kind": "demand"}], None, None),
    ("逾期费用 50.02", [{"kind": "demand", "amount": "50.02"}], None, "LX-2024-0315-001"),
    ("逾期费 CNY 52.66", [{"kind": "demand", "amount": "52.66"}], None, "LX-2024-0315-001"),
    ("贵司客服于7月4日", [], "1234", None),
    (
        "您已逾期35天",
        [{"kind": "demand", "due": "2024-08-26", "amount": "10634.20"}],
        None,
        None,
    ),  # fmt: skip
]


def _empty_fields() -> dict[str, list[int]]:
    return {"by": [0, 0, 0], "reference": [0, 0, 0]}  # true, false positives; false negatives


@dataclass
class Score:
    suggested: int = 0
    right: int = 0
    exact: int = 0
    labelled: int = 0
    found: int = 0
    found_exact: int = 0
    fields: dict[str, list[int]] = field(default_factory=lambda: _empty_fields())
    misses: list[str] = field(default_factory=list)

    def add(self, name: str, text: str, said: datetime | None, labels: list[dict[str, Any]],
            by: str | None, reference: str | None) -> None:  # fmt: skip
        got = suggest(text, said)
        self.suggested += len(got)
        self.labelled += len(labels)
        for c in got:
            same = [label for label in labels if label["kind"] == c.kind]
            if same:
                self.right += 1
                if any(_fields_match(c, label) for label in same):
                    self.exact += 1
                else:
                    self.misses.append(f"{name}: {c.kind} fields {c.due} {c.amount} vs {same}")
            else:
                self.misses.append(f"{name}: suggested {c.kind} not labelled: {c.text[:60]}")
        for label in labels:
            same = [c for c in got if c.kind == label["kind"]]
            if same:
                self.found += 1
                if any(_fields_match(c, label) for c in same):
                    self.found_exact += 1
            else:
                self.misses.append(f"{name}: missed {label}")
        for key, want, have in (
            ("by", by, next(iter(agents(text)), None)),
            ("reference", reference, next(iter(references(text)), None)),
        ):
            tp_fp_fn = self.fields[key]
            if have is not None and have == (want or "").upper():
                tp_fp_fn[0] += 1
                continue
            if have is not None:
                tp_fp_fn[1] += 1
                self.misses.append(f"{name}: {key} {have!r} vs {want!r}")
            if want is not None:
                tp_fp_fn[2] += 1
                if have is None:
                    self.misses.append(f"{name}: {key} {want!r} not found")

    def report(self, title: str) -> None:
        print(f"\n{title}")
        print(f"  suggestions {self.suggested}, labelled facts {self.labelled}")
        print(f"  detection  precision {_pct(self.right, self.suggested)}  "
              f"recall {_pct(self.found, self.labelled)}")  # fmt: skip
        print(f"  exact      precision {_pct(self.exact, self.suggested)}  "
              f"recall {_pct(self.found_exact, self.labelled)}")  # fmt: skip
        for key, (tp, fp, fn) in self.fields.items():
            print(f"  {key:<10} precision {_pct(tp, tp + fp)}  recall {_pct(tp, tp + fn)}")


def _fields_match(c: Candidate, label: dict[str, Any]) -> bool:
    if "due" in label and (c.due is None or c.due.isoformat() != label["due"]):
        return False
    if "amount" in label:
        if c.amount is None or c.amount.value != Decimal(label["amount"]):
            return False
        if "currency" in label and c.amount.currency != label["currency"]:
            return False
    return True


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} = {100 * a / b:5.1f}%" if b else "n/a"


def score_labelled(path: Path) -> tuple[Score, Score, Score]:
    every, zh, en = Score(), Score(), Score()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        said = datetime.fromisoformat(row["said"])
        for score in (every, zh if row["lang"] == "zh" else en):
            score.add(row["id"], row["text"], said, row["facts"], row.get("by"),
                      row.get("reference"))  # fmt: skip
    return every, zh, en


def score_demo() -> Score:
    from evidence_archiver.archive import Archive
    from evidence_archiver.demo import DEMO_SLUG, run_demo

    score = Score()
    with tempfile.TemporaryDirectory() as tmp, Archive(Path(tmp) / "archive.db") as archive:
        # The demo records its own facts when it creates its case; suggestions are
        # computed from the text alone, so they are scored the same either way.
        run_demo(archive)
        for record in archive.timeline(DEMO_SLUG):
            text = "\n".join([record.body, *(a.text for a in record.attachments if a.text)])
            label = next((lab for lab in DEMO_LABELS if lab[0] in text), None)
            facts, by, ref = (label[1], label[2], label[3]) if label else ([], None, None)
            score.add(f"demo item {record.id}", text, record.occurred_at, facts, by, ref)
    return score


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labelled", type=Path, default=ROOT / "fixtures/facts/labelled.jsonl")
    parser.add_argument("--heldout", type=Path, default=ROOT / "fixtures/facts/heldout.jsonl")
    parser.add_argument("--fresh", type=Path, default=ROOT / "fixtures/facts/fresh.jsonl")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = parser.parse_args(list(argv) if argv is not None else None)
    every, zh, en = score_labelled(args.labelled)
    held, held_zh, held_en = score_labelled(args.heldout)
    demo = score_demo()
    every.report(f"labelled set ({args.labelled.name}), all messages")
    zh.report("labelled set, Chinese messages")
    en.report("labelled set, English messages")
    held.report(f"second set ({args.heldout.name}; used to widen the rules), all messages")
    held_zh.report("second set, Chinese messages")
    held_en.report("second set, English messages")
    if args.fresh.exists():
        fresh, fresh_zh, fresh_en = score_labelled(args.fresh)
        fresh.report(f"fresh set ({args.fresh.name}, written after the rules), all messages")
        fresh_zh.report("fresh set, Chinese messages")
        fresh_en.report("fresh set, English messages")
        every.misses += fresh.misses
    demo.report("demo case")
    if args.verbose:
        print("\nmisses:")
        for miss in [*every.misses, *held.misses, *demo.misses]:
            print("  " + miss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
