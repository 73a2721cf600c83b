"""Facts in a real archive: recording, editing, removing (each a custody event), the case rules,
suggestions accepted and rejected, possible breaches, the v6 -> v7 migration, and the bundle's
Key facts chronology."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import sqlite_utils

from evidence_archiver import Archive, NotFound, UsageError
from evidence_archiver.archive import FactFields, schema
from evidence_archiver.export import ExportOptions, export_bundle, verify_bundle
from evidence_archiver.hashing import blob_from_bytes
from evidence_archiver.model import Capture, Item, SourceRef

CST = timezone(timedelta(hours=8))
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

MESSAGES = [
    # (when, sender, body)
    (datetime(2024, 7, 3, 14, 2, tzinfo=CST), "service@lenderx.com",
     "我们同意第4至6期还款各顺延三个月，第4期延至2024年10月15日，期间不收取逾期费用。"),
    (datetime(2024, 7, 4, 9, 30, tzinfo=CST), "wang@example.com", "谢谢！我会按新计划还款。"),
    (datetime(2024, 8, 3, 8, 30, tzinfo=CST), "collections@lenderx.com",
     "您的借款已逾期19天，逾期费用 50.02 元。"),
    (datetime(2024, 8, 4, 12, 0, tzinfo=CST), "wang@example.com",
     "你们同意延期，请撤销逾期费。"),
    (datetime(2024, 10, 20, 9, 0, tzinfo=CST), "collections@lenderx.com",
     "第4期已逾期5天，逾期费 13.16 元。"),
    (datetime(2024, 7, 10, 9, 0, tzinfo=CST), "other@bank.example", "Unrelated: late fee $5."),
]  # fmt: skip


def capture(n: int, when: datetime, sender: str, body: str) -> Capture:
    raw = f"From: {sender}\nSubject: m{n}\n\n{body}\n".encode()
    return Capture(
        source=SourceRef("eml", "facts-test", f"m{n}"),
        original=blob_from_bytes(raw, "message/rfc822"),
        item=Item(
            kind="email",
            occurred_at=when,
            sender=sender,
            recipients=("wang@example.com",),
            title=f"m{n}",
            body=body,
        ),
    )


@pytest.fixture
def case(archive: Archive) -> dict[str, int]:
    """The case ``lenderx`` (everything from lenderx.com) and ``bank`` (the other message);
    returns item ids by their index in MESSAGES."""
    archive.ingest([capture(n, *m) for n, m in enumerate(MESSAGES)], connector="eml", container="t")
    archive.create_case("LenderX", slug="lenderx", rules=[("domain", "lenderx.com")])
    archive.create_case("Bank", slug="bank", rules=[("domain", "bank.example")])
    ids = {}
    for item_id, title in archive.conn.execute("SELECT id, title FROM items"):
        ids[int(title[1:])] = int(item_id)
    archive.link("lenderx", [ids[1], ids[3]])  # the borrower's own replies, by hand
    return ids


PROMISE = FactFields(
    kind="promise",
    text="Agreed to defer instalments 4-6; instalment 4 due 15 October 2024",
    due=date(2024, 10, 15),
    by="工号 KF1234",
)


def actions(archive: Archive) -> list[str]:
    return [e.action for e in archive.custody.events()]


def test_a_fact_cites_several_items_and_each_change_is_a_custody_event(
    archive: Archive, case: dict[str, int]
) -> None:
    fact = archive.add_fact([case[0], case[1]], PROMISE)
    assert (fact.case, fact.kind, fact.items) == ("lenderx", "promise", (case[0], case[1]))
    assert fact.at == MESSAGES[0][0]
    assert fact.due == date(2024, 10, 15)
    second = archive.add_fact(
        [case[0]], FactFields(kind="other", text="Second fact on the same item")
    )
    assert [f.id for f in archive.facts("lenderx")] == [fact.id, second.id]
    edited = archive.edit_fact(
        fact.id, FactFields(amount=Decimal("5265.76"), currency="元"), items=[case[0]]
    )
    assert (edited.amount, edited.currency, edited.items) == (Decimal("5265.76"), "CNY", (case[0],))
    archive.remove_fact(second.id)
    assert [f.id for f in archive.facts("lenderx")] == [fact.id]
    assert actions(archive)[-4:] == ["fact_added", "fact_added", "fact_edited", "fact_removed"]
    events = list(archive.custody.events("case:lenderx"))
    changed = events[-2].details["changed"]
    assert changed["amount"] == {"from": None, "to": "5265.76"}
    assert changed["items"] == {"from": [case[0], case[1]], "to": [case[0]]}
    assert events[-1].details["was"]["text"] == "Second fact on the same item"
    assert archive.verify_custody() == []


def test_amounts_are_exact_decimals_never_floats(archive: Archive, case: dict[str, int]) -> None:
    fact = archive.add_fact(
        [case[2]],
        FactFields(kind="breach", text="fee", amount=Decimal("0.10"), currency="cny"),
    )
    stored = archive.conn.execute("SELECT amount FROM facts WHERE id = ?", (fact.id,)).fetchone()
    assert stored == ("0.10",)
    assert archive.fact(fact.id).amount == Decimal("0.10")
    assert fact.as_json()["amount"] == "0.10"
    total = sum((archive.fact(fact.id).amount or Decimal(0)) for _ in range(3))
    assert total == Decimal("0.30")  # 0.1 + 0.1 + 0.1 as floats is 0.30000000000000004
    with pytest.raises(UsageError, match="amount"):
        archive.add_fact([case[2]], FactFields(kind="breach", text="x", amount=Decimal("NaN")))
    with pytest.raises(UsageError, match="currency"):
        archive.add_fact([case[2]], FactFields(kind="breach", text="x", currency="CNY"))
    with pytest.raises(UsageError, match="unknown currency"):
        archive.add_fact(
            [case[2]], FactFields(kind="breach", text="x", amount=Decimal(1), currency="yuan!")
        )


def test_a_fact_citing_an_item_of_another_case_is_refused(
    archive: Archive, case: dict[str, int]
) -> None:
    before = actions(archive)
    with pytest.raises(UsageError, match="not in the case 'lenderx'"):
        archive.add_fact([case[0], case[5]], PROMISE, case="lenderx")
    with pytest.raises(UsageError, match="not all in one case"):
        archive.add_fact([case[0], case[5]], PROMISE)
    fact = archive.add_fact([case[0]], PROMISE)
    with pytest.raises(UsageError, match="not in the case"):
        archive.edit_fact(fact.id, FactFields(), items=[case[5]])
    with pytest.raises(NotFound):
        archive.add_fact([99999], PROMISE)
    with pytest.raises(UsageError, match="kind"):
        archive.add_fact([case[0]], FactFields(kind="rumour", text="x"))
    assert actions(archive) == [*before, "fact_added"]
    assert archive.facts("bank") == []


def test_a_fact_on_an_item_later_unlinked_is_kept_and_shown_as_outside(
    archive: Archive, case: dict[str, int], tmp_path: Path
) -> None:
    kept = archive.add_fact([case[0], case[1]], PROMISE)
    gone = archive.add_fact([case[1]], FactFields(kind="other", text="Borrower said thanks"))
    archive.unlink("lenderx", [case[1]])
    assert archive.fact(kept.id).outside == (case[1],)
    assert archive.fact(gone.id).outside == (case[1],)
    assert [f.id for f in archive.facts("lenderx")] == [kept.id, gone.id]
    result = export_bundle(
        archive, ExportOptions(case="lenderx", out=tmp_path / "b.zip", now=NOW, pdf=False)
    )
    assert any(f"fact {kept.id}" in w and "not in the bundle" in w for w in result.warnings)
    assert any(f"fact {gone.id}" in w and "left out" in w for w in result.warnings)
    with zipfile.ZipFile(result.path) as z:
        name = next(n for n in z.namelist() if n.endswith("data/facts.json"))
        facts = json.loads(z.read(name))["facts"]
    assert [f["fact"] for f in facts] == [kept.id]
    assert facts[0]["items_not_in_bundle"] == 1
    assert verify_bundle(result.path).ok


def test_a_promise_is_flagged_as_possibly_broken_by_a_later_late_fee_before_its_due_date(
    archive: Archive, case: dict[str, int]
) -> None:
    fact = archive.add_fact([case[0]], PROMISE)
    found = archive.fact_conflicts("lenderx")
    # The late fee of 3 August is before 15 October; the borrower's own objection (4 August)
    # is not from the other side; the fee of 20 October comes after the due date.
    assert [(c.fact, c.item) for c in found] == [(fact.id, case[2])]
    assert found[0].promise_items == (case[0],)
    assert "逾期费用" in found[0].reason
    archive.edit_fact(fact.id, FactFields(due=date(2024, 8, 1)))
    assert archive.fact_conflicts("lenderx") == []


def test_suggestions_need_a_decision_and_a_rejection_is_remembered(
    archive: Archive, case: dict[str, int]
) -> None:
    first = archive.suggest_facts("lenderx")
    assert archive.facts("lenderx") == []  # suggesting records nothing
    assert [s.id for s in archive.suggest_facts("lenderx")] == [s.id for s in first]
    promise = next(s for s in first if s.item == case[0])
    assert (promise.kind, promise.due) == ("promise", date(2024, 10, 15))
    fee = next(s for s in first if s.item == case[2])
    assert (fee.kind, fee.amount, fee.currency) == ("demand", Decimal("50.02"), "CNY")
    fact = archive.accept_suggestion(promise.id, FactFields(by="Agent 1234"))
    assert (fact.items, fact.kind, fact.by, fact.suggestion) == (
        (case[0],),
        "promise",
        "Agent 1234",
        promise.id,
    )
    archive.reject_suggestion(fee.id)
    left = {s.id for s in archive.suggest_facts("lenderx")}
    assert promise.id not in left
    assert fee.id not in left
    with pytest.raises(UsageError, match="already rejected"):
        archive.accept_suggestion(fee.id)
    with pytest.raises(UsageError, match="suggestion id"):
        archive.reject_suggestion("not-an-id")
    assert actions(archive)[-2:] == ["fact_added", "suggestion_rejected"]
    assert archive.verify_custody() == []


def test_an_archive_written_by_schema_v6_migrates_and_keeps_its_custody_chain(
    archive_path: Path,
) -> None:
    conn = sqlite3.connect(archive_path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for migration in schema.MIGRATIONS[:6]:
        migration(db)
    conn.execute("PRAGMA user_version = 6")
    conn.close()
    Archive(archive_path).close()  # opening migrates
    conn = sqlite3.connect(archive_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"facts", "fact_items", "fact_suggestions"} <= tables
    conn.close()


def test_a_v6_archive_with_items_and_custody_keeps_them_through_the_migration(
    archive_path: Path,
) -> None:
    with Archive(archive_path) as archive:
        archive.ingest(
            [capture(n, *m) for n, m in enumerate(MESSAGES)], connector="eml", container="t"
        )
        archive.create_case("LenderX", slug="lenderx", rules=[("domain", "lenderx.com")])
        events, head = archive.status()["custody_events"], archive.custody.head()
    # v7 only adds tables: without them, and marked 6, the file is what v6 wrote.
    conn = sqlite3.connect(archive_path, isolation_level=None)
    for table in ("fact_suggestions", "fact_items", "facts"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("PRAGMA user_version = 6")
    conn.close()
    with Archive(archive_path) as archive:
        assert archive.conn.execute("PRAGMA user_version").fetchone()[0] == 7
        assert archive.status()["custody_events"] == events
        assert archive.custody.head() == head
        assert archive.verify_custody() == []
        item = archive.timeline_ids("lenderx")[0]
        archive.add_fact([item], PROMISE)
        assert archive.verify_custody() == []
        assert len(archive.timeline_ids("lenderx")) == 3


def test_the_bundle_has_the_key_facts_chronology_in_every_view_and_stays_reproducible(
    archive: Archive, case: dict[str, int], tmp_path: Path
) -> None:
    archive.add_fact([case[0]], PROMISE)
    archive.add_fact(
        [case[2]],
        FactFields(kind="breach", text="Late fee charged", amount=Decimal("50.02"), currency="CNY"),
    )
    options = {"case": "lenderx", "now": NOW, "fmt": "dir"}
    one = export_bundle(archive, ExportOptions(out=tmp_path / "one", **options))  # type: ignore[arg-type]
    two = export_bundle(archive, ExportOptions(out=tmp_path / "two", **options))  # type: ignore[arg-type]
    for name in ("facts.json", "facts.csv", "index.html", "bundle.pdf"):
        assert (one.path / "data" / name).read_bytes() == (two.path / "data" / name).read_bytes()
    assert one.tagmanifest_sha256 == two.tagmanifest_sha256
    data = json.loads((one.path / "data/facts.json").read_text(encoding="utf-8"))
    assert [f["kind"] for f in data["facts"]] == ["promise", "breach"]
    assert data["facts"][1]["amount"] == "50.02"
    breach = data["possible_breaches"][0]
    assert breach["promise_exhibits"] == data["facts"][0]["exhibits"]
    assert breach["exhibit"] == data["facts"][1]["exhibits"][0]
    rows = list(csv.reader(io.StringIO((one.path / "data/facts.csv").read_text("utf-8-sig"))))
    assert rows[0][:4] == ["row", "date", "kind", "fact"]
    assert rows[1][1:3] == ["2024-07-03", "promise"]
    manifest = (one.path / "manifest-sha256.txt").read_text()
    assert "data/facts.json" in manifest
    assert "data/facts.csv" in manifest
    html = (one.path / "data/index.html").read_text(encoding="utf-8")
    key, timeline = html.index("Key facts / 关键事实"), html.index("Timeline / 时间线")
    assert key < timeline
    assert f'href="items/{breach["exhibit"]}.html"' in html[key:timeline]
    assert "Possible breaches" in html[key:timeline]
    assert verify_bundle(one.path).ok
    (one.path / "data/facts.csv").write_text("row\nforged\n", encoding="utf-8")
    assert any("facts.csv" in p.file for p in verify_bundle(one.path).problems)


def test_verify_reports_key_facts_citing_an_exhibit_the_bundle_lacks(
    archive: Archive, case: dict[str, int], tmp_path: Path
) -> None:
    archive.add_fact([case[0]], PROMISE)
    bag = export_bundle(
        archive,
        ExportOptions(case="lenderx", out=tmp_path / "bag", now=NOW, fmt="dir", pdf=False),
    ).path
    facts = bag / "data/facts.json"
    raw = facts.read_text(encoding="utf-8")
    number = json.loads(raw)["facts"][0]["exhibits"][0]
    facts.write_text(raw.replace(f'"{number}"', '"E-999"'), encoding="utf-8")  # same size

    def rehash(manifest: Path, name: str) -> None:
        digest = hashlib.sha256((bag / name).read_bytes()).hexdigest()
        lines = [
            f"{digest}  {name}" if line.endswith(f"  {name}") else line
            for line in manifest.read_text(encoding="utf-8").splitlines()
        ]
        manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")

    # Re-hashed as a forger would: only the facts' own check can tell.
    rehash(bag / "manifest-sha256.txt", "data/facts.json")
    rehash(bag / "tagmanifest-sha256.txt", "manifest-sha256.txt")
    problems = verify_bundle(bag).problems
    assert [(p.file, p.message) for p in problems] == [
        ("data/facts.json", "cites exhibit E-999, which is not in the bundle")
    ]


def test_the_demo_records_the_promise_and_its_bundle_shows_the_breach(
    archive: Archive, tmp_path: Path
) -> None:
    from evidence_archiver.demo import DEMO_SLUG, run_demo

    run_demo(archive)
    facts = archive.facts(DEMO_SLUG)
    promise = next(f for f in facts if f.kind == "promise" and f.due)
    assert promise.due == date(2024, 10, 15)
    assert len(promise.items) == 3  # the SMS, the WhatsApp message and the e-mail
    assert promise.amount == Decimal("5265.76")
    assert any(f.kind == "breach" for f in facts)
    breaches = archive.fact_conflicts(DEMO_SLUG)
    late_fee = next(f for f in facts if f.kind == "breach")
    assert set(late_fee.items) <= {c.item for c in breaches}
    run_demo(archive)  # a second run adds nothing
    assert len(archive.facts(DEMO_SLUG)) == len(facts)
    result = export_bundle(
        archive, ExportOptions(case=DEMO_SLUG, out=tmp_path / "d", now=NOW, fmt="dir", pdf=False)
    )
    data = json.loads((result.path / "data/facts.json").read_text(encoding="utf-8"))
    assert len(data["facts"]) == len(facts)
    assert len(data["possible_breaches"]) == len(breaches)
    assert result.warnings == []
    assert verify_bundle(result.path).ok
