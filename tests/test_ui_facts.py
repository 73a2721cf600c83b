"""The review app's Key facts: the page of a case, suggestions accepted and rejected, facts
recorded from an item's page, changed and removed, each through the library and leaving its
custody event; and an item's custody record on its own page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from evidence_archiver import Archive
from evidence_archiver.extract.facts import KINDS
from evidence_archiver.ui import UiConfig, create_app
from evidence_archiver.ui.security import csrf_token
from evidence_archiver.ui.templating import FACT_KIND_NAMES
from ui_support import build_archive, copy_archive

PORT = 8766
SECRET = "test-secret-token"
BASE = f"http://127.0.0.1:{PORT}"
CSRF = csrf_token(SECRET)
CASE = "lender-x-extension"
FACTS = f"/cases/{CASE}/facts"


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_archive(tmp_path_factory.mktemp("ui-facts-demo"))


@pytest.fixture
def db(demo_archive: Path, tmp_path: Path) -> Path:
    return copy_archive(demo_archive, tmp_path / "archive.db")


@pytest.fixture
def client(db: Path, tmp_path: Path) -> Iterator[TestClient]:
    config = UiConfig(archive=db, port=PORT, secret=SECRET, work_folder=tmp_path)
    with TestClient(create_app(config), base_url=BASE, follow_redirects=False) as client:
        assert client.get(f"/?token={SECRET}").status_code == 303
        yield client


def case_events(db: Path, slug: str = CASE) -> list[tuple[str, dict[str, object]]]:
    with Archive(db) as archive:
        return [(e.action, e.details) for e in archive.custody.events_about(f"case:{slug}")]


def fact_row(page: str, fact_id: int) -> str:
    """The table row of one fact on the Key facts page."""
    match = re.search(rf'<tr id="fact-{fact_id}">(.*?)</tr>', page, re.DOTALL)
    assert match, f"fact {fact_id} is not on the page"
    return match.group(1)


def other_case_item(db: Path) -> int:
    """An item taken out of the demo case and put in a second case, "Other bank"."""
    with Archive(db) as archive:
        item = archive.timeline_ids(CASE)[-1]
        archive.unlink(CASE, [item])
        archive.create_case("Other bank")
        archive.link("other-bank", [item])
        assert archive.item(item).cases == ("other-bank",)
    return item


# -- the page ----------------------------------------------------------------------------------


def test_the_page_lists_the_facts_the_possible_breaches_and_the_suggestions(
    client: TestClient, db: Path
) -> None:
    with Archive(db) as archive:
        facts = archive.facts(CASE)
        conflicts = archive.fact_conflicts(CASE)
        suggestions = archive.suggest_facts(CASE)
    assert facts
    assert conflicts
    assert suggestions
    response = client.get(FACTS)
    assert response.status_code == 200
    page = response.text
    for fact in facts:
        row = fact_row(page, fact.id)
        assert fact.text.split()[0] in row
        for item in fact.items:
            assert f'href="/items/{item}"' in row
        if fact.amount is not None:
            assert f"{fact.amount:,} {fact.currency}" in row
        if fact.due is not None:
            assert fact.due.isoformat() in row
        if fact.by:
            assert fact.by in row
        assert f'action="{FACTS}/{fact.id}/edit"' in page
        assert f'action="{FACTS}/{fact.id}/remove"' in page
    promise = next(f for f in facts if f.kind == "promise" and f.due)
    assert '<span class="fact-kind fact-promise">Promise</span>' in fact_row(page, promise.id)
    breaches = page[page.index("Possible breaches") : page.index("<h2>Suggestions")]
    for conflict in conflicts:
        assert f'href="/items/{conflict.item}"' in breaches  # the contradicting item
        assert all(f'href="/items/{i}"' in breaches for i in conflict.promise_items)
    assert "Contradicted by" in breaches
    for s in suggestions:
        assert f'action="/cases/{CASE}/suggestions/{s.id}/accept"' in page
        assert f'action="/cases/{CASE}/suggestions/{s.id}/reject"' in page
    assert f'href="{FACTS}"' in client.get(f"/cases/{CASE}").text  # the case page links it


def test_a_long_list_of_suggestions_is_shown_in_parts(
    client: TestClient, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evidence_archiver.ui import app

    with Archive(db) as archive:
        first = [s.id for s in archive.suggest_facts(CASE)[:4]]
    assert "More suggestions follow" not in client.get(FACTS).text
    monkeypatch.setattr(app, "SUGGESTIONS_SHOWN", 3)
    with Archive(db) as archive:
        archive.tag(1, "touch")  # a change, so that the page finds its suggestions again
    page = client.get(FACTS).text
    assert re.findall(r'<li class="suggestion" id="([^"]+)"', page) == first[:3]
    assert "More suggestions follow once you have decided these." in page


def test_a_cited_item_taken_out_of_the_case_is_marked(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        fact = next(f for f in archive.facts(CASE) if len(f.items) > 1)
        gone, kept = fact.items[0], fact.items[1]
        archive.unlink(CASE, [gone])
    row = fact_row(client.get(FACTS).text, fact.id)
    cites = re.findall(r"<div>(.*?)</div>", row.split('class="cites"')[1], re.DOTALL)
    marked = [c for c in cites if "no longer in this case" in c]
    assert len(marked) == 1
    assert f'href="/items/{gone}"' in marked[0]
    assert any(f'href="/items/{kept}"' in c and c not in marked for c in cites)
    item_page = client.get(f"/items/{gone}").text
    assert "this item is no longer in that case" in item_page


def test_the_page_follows_the_interface_language(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVIDENCE_LANG", "zh_CN")
    page = client.get(FACTS).text
    assert "<h1>关键事实</h1>" in page
    assert "可能的违约" in page
    assert "与之矛盾的记录" in page
    assert ">采纳</button>" in page
    assert ">承诺</span>" in page
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 到期", page)


def test_every_kind_of_fact_has_a_name_on_the_page() -> None:
    assert tuple(FACT_KIND_NAMES) == KINDS


# -- suggestions -------------------------------------------------------------------------------


def test_accepting_a_suggestion_records_it_as_edited_and_leaves_a_custody_event(
    client: TestClient, db: Path
) -> None:
    with Archive(db) as archive:
        s = archive.suggest_facts(CASE)[0]
        before = {f.id for f in archive.facts(CASE)}
    text = "第3期按时还款提醒 / reminder for instalment 3"
    response = client.post(
        f"/cases/{CASE}/suggestions/{s.id}/accept",
        data={"csrf": CSRF, "kind": "other", "text": text},
    )
    assert response.status_code == 303
    assert response.headers["location"] == FACTS
    with Archive(db) as archive:
        (new,) = [f for f in archive.facts(CASE) if f.id not in before]
        assert s.id not in {x.id for x in archive.suggest_facts(CASE)}
    assert (new.kind, new.text, new.items, new.suggestion) == ("other", text, (s.item,), s.id)
    assert new.due == s.due
    assert new.amount == s.amount
    action, details = case_events(db)[-1]
    assert action == "fact_added"
    assert details["suggestion"] == s.id
    assert details["text"] == text
    page = client.get(FACTS).text
    assert text in fact_row(page, new.id)
    assert f'id="{s.id}"' not in page
    again = client.post(f"/cases/{CASE}/suggestions/{s.id}/accept", data={"csrf": CSRF})
    assert again.status_code == 400
    assert "already accepted" in again.text


def test_accepting_as_found_keeps_what_was_found(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        s = next(x for x in archive.suggest_facts(CASE) if x.amount is not None)
    client.post(
        f"/cases/{CASE}/suggestions/{s.id}/accept",
        data={"csrf": CSRF, "kind": s.kind, "text": s.text},
    )
    with Archive(db) as archive:
        fact = next(f for f in archive.facts(CASE) if f.suggestion == s.id)
    assert (fact.kind, fact.text, fact.amount, fact.currency) == (
        s.kind,
        s.text.strip(),
        s.amount,
        s.currency,
    )


def test_rejecting_a_suggestion_remembers_it_and_records_nothing(
    client: TestClient, db: Path
) -> None:
    with Archive(db) as archive:
        s = archive.suggest_facts(CASE)[1]
        facts = len(archive.facts(CASE))
    response = client.post(f"/cases/{CASE}/suggestions/{s.id}/reject", data={"csrf": CSRF})
    assert response.status_code == 303
    with Archive(db) as archive:
        assert len(archive.facts(CASE)) == facts
        assert s.id not in {x.id for x in archive.suggest_facts(CASE)}
    assert case_events(db)[-1] == (
        "suggestion_rejected",
        {"suggestion": s.id, "item": s.item, "kind": s.kind, "text": s.text},
    )
    assert f'id="{s.id}"' not in client.get(FACTS).text
    again = client.post(f"/cases/{CASE}/suggestions/{s.id}/reject", data={"csrf": CSRF})
    assert again.status_code == 400


def test_a_suggestion_is_decided_only_under_its_own_case(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        s = archive.suggest_facts(CASE)[0]
        archive.create_case("Other bank")
    events = case_events(db)
    for verdict in ("accept", "reject"):
        response = client.post(
            f"/cases/other-bank/suggestions/{s.id}/{verdict}", data={"csrf": CSRF}
        )
        assert response.status_code == 404
    assert case_events(db) == events


# -- facts recorded, changed and removed -------------------------------------------------------


def test_a_fact_is_recorded_from_an_item_page(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        item = archive.timeline_ids(CASE)[0]
    page = client.get(f"/items/{item}").text
    assert f'action="/items/{item}/facts"' in page
    response = client.post(
        f"/items/{item}/facts",
        data={
            "csrf": CSRF,
            "case": CASE,
            "kind": "payment",
            "text": "  第3期已还清 5,265.76 元  ",
            "due": "2024-06-15",
            "amount": "5,265.76",
            "currency": "元",
            "by": "工号 KF1234",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == FACTS
    with Archive(db) as archive:
        (fact,) = archive.facts_citing(item)
    assert (fact.kind, fact.text, fact.items) == ("payment", "第3期已还清 5,265.76 元", (item,))
    assert (fact.due, fact.amount, fact.currency, fact.by) == (
        date(2024, 6, 15),
        Decimal("5265.76"),
        "CNY",
        "工号 KF1234",
    )
    assert case_events(db)[-1][0] == "fact_added"
    page = client.get(f"/items/{item}").text
    assert "第3期已还清 5,265.76 元" in page
    assert f'href="{FACTS}#fact-{fact.id}"' in page


def test_a_fact_with_only_its_kind_and_text_is_recorded(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        item = archive.timeline_ids(CASE)[1]
    form = {"csrf": CSRF, "case": CASE, "kind": "other", "text": "Called the hotline"}
    assert client.post(f"/items/{item}/facts", data=form).status_code == 303
    with Archive(db) as archive:
        (fact,) = archive.facts_citing(item)
    assert (fact.due, fact.amount, fact.currency, fact.by) == (None, None, None, None)


def test_a_fact_citing_an_item_of_another_case_is_refused(client: TestClient, db: Path) -> None:
    item = other_case_item(db)
    events = case_events(db)
    response = client.post(
        f"/items/{item}/facts",
        data={"csrf": CSRF, "case": CASE, "kind": "promise", "text": "Agreed to defer"},
    )
    assert response.status_code == 400
    assert f"Item #{item} is not in the case “{CASE}”" in response.text
    assert "a fact can only cite items of its own case" in response.text
    with Archive(db) as archive:
        assert archive.facts_citing(item) == []
        fact = archive.facts(CASE)[0]
    # Nor may an edit make a fact cite it.
    response = client.post(
        f"{FACTS}/{fact.id}/edit",
        data={
            "csrf": CSRF,
            "kind": fact.kind,
            "text": fact.text,
            "due": fact.due.isoformat() if fact.due else "",
            "amount": str(fact.amount) if fact.amount is not None else "",
            "currency": fact.currency or "",
            "by": fact.by or "",
            "cites": ", ".join(str(i) for i in (*fact.items, item)),
        },
    )
    assert response.status_code == 400
    assert f"Item #{item} is not in the case" in response.text
    assert case_events(db) == events
    # An unknown case is no page at all.
    unknown = client.post(
        f"/items/{item}/facts", data={"csrf": CSRF, "case": "nope", "kind": "other", "text": "x"}
    )
    assert unknown.status_code == 404


def test_an_item_in_no_case_offers_no_fact_form(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        item = archive.timeline_ids(CASE)[0]
        archive.unlink(CASE, [item])
    page = client.get(f"/items/{item}").text
    assert f'action="/items/{item}/facts"' not in page
    assert "Add this item to a case to record a fact from it." in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "rumour"}, "Choose what kind of fact this is."),
        ({"text": "  "}, "Write what the item shows."),
        ({"due": "next tuesday"}, "Cannot read the date “next tuesday”"),
        ({"amount": "lots"}, "Cannot read the amount “lots”"),
        ({"currency": "CNY"}, "A currency needs an amount."),
        ({"amount": "10", "currency": "doubloons"}, "unknown currency"),
    ],
)
def test_a_fact_form_with_a_bad_field_says_which(
    client: TestClient, db: Path, change: dict[str, str], message: str
) -> None:
    with Archive(db) as archive:
        item = archive.timeline_ids(CASE)[0]
    form = {"csrf": CSRF, "case": CASE, "kind": "promise", "text": "Agreed", **change}
    response = client.post(f"/items/{item}/facts", data=form)
    assert response.status_code == 400
    assert message in response.text
    with Archive(db) as archive:
        assert archive.facts_citing(item) == []


def test_a_fact_is_edited_and_only_what_changed_is_recorded(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        fact = next(f for f in archive.facts(CASE) if f.due and f.amount is not None)
    current = {
        "csrf": CSRF,
        "kind": fact.kind,
        "text": fact.text,
        "due": fact.due.isoformat() if fact.due else "",
        "amount": str(fact.amount),
        "currency": fact.currency or "",
        "by": fact.by or "",
        "cites": ", ".join(str(i) for i in fact.items),
    }
    events = case_events(db)
    # The form sent back as it was shown changes nothing and records nothing.
    assert client.post(f"{FACTS}/{fact.id}/edit", data=current).status_code == 303
    assert case_events(db) == events
    edited = {**current, "text": "Agreed to defer 4-6 (edited)", "due": "", "amount": "5300"}
    edited["cites"] = str(fact.items[0])
    response = client.post(f"{FACTS}/{fact.id}/edit", data=edited)
    assert response.status_code == 303
    assert response.headers["location"] == FACTS
    with Archive(db) as archive:
        after = archive.fact(fact.id)
    assert after.text == "Agreed to defer 4-6 (edited)"
    assert after.due is None
    assert after.amount == Decimal("5300")
    assert after.currency == fact.currency
    assert after.items == fact.items[:1]
    action, details = case_events(db)[-1]
    assert action == "fact_edited"
    changed = details["changed"]
    assert isinstance(changed, dict)
    assert set(changed) == {"text", "due", "amount", "items"}
    # Emptying the amount empties its currency with it.
    client.post(f"{FACTS}/{fact.id}/edit", data={**edited, "amount": "", "currency": ""})
    with Archive(db) as archive:
        assert (archive.fact(fact.id).amount, archive.fact(fact.id).currency) == (None, None)
    bad = client.post(f"{FACTS}/{fact.id}/edit", data={**edited, "cites": "eleven"})
    assert bad.status_code == 400
    assert "by number" in bad.text


def test_a_fact_is_removed_and_the_custody_log_keeps_what_it_said(
    client: TestClient, db: Path
) -> None:
    with Archive(db) as archive:
        fact = archive.facts(CASE)[0]
    response = client.post(f"{FACTS}/{fact.id}/remove", data={"csrf": CSRF})
    assert response.status_code == 303
    with Archive(db) as archive:
        assert fact.id not in {f.id for f in archive.facts(CASE)}
        assert archive.verify_custody() == []
    action, details = case_events(db)[-1]
    assert action == "fact_removed"
    was = details["was"]
    assert isinstance(was, dict)
    assert was["text"] == fact.text
    assert f'id="fact-{fact.id}"' not in client.get(FACTS).text
    assert client.post(f"{FACTS}/{fact.id}/remove", data={"csrf": CSRF}).status_code == 404


def test_a_fact_is_changed_only_under_its_own_case(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        fact = archive.facts(CASE)[0]
        archive.create_case("Other bank")
    form = {"csrf": CSRF, "kind": "other", "text": "moved"}
    assert client.post(f"/cases/other-bank/facts/{fact.id}/edit", data=form).status_code == 404
    assert client.post(f"/cases/other-bank/facts/{fact.id}/remove", data=form).status_code == 404
    with Archive(db) as archive:
        assert archive.fact(fact.id) == fact


# -- the guard on the new routes ---------------------------------------------------------------


def post_routes(db: Path) -> list[str]:
    with Archive(db) as archive:
        fact = archive.facts(CASE)[0].id
        suggestion = archive.suggest_facts(CASE)[0].id
        item = archive.timeline_ids(CASE)[0]
    return [
        f"{FACTS}/{fact}/edit",
        f"{FACTS}/{fact}/remove",
        f"/cases/{CASE}/suggestions/{suggestion}/accept",
        f"/cases/{CASE}/suggestions/{suggestion}/reject",
        f"/items/{item}/facts",
    ]


def test_the_new_changes_need_the_csrf_token(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        facts = archive.facts(CASE)
    events = case_events(db)
    form = {"case": CASE, "kind": "other", "text": "forged", "cites": ""}
    for url in post_routes(db):
        for token in ({}, {"csrf": "forged"}):
            response = client.post(url, data={**form, **token})
            assert response.status_code == 403, url
            assert "This form has expired" in response.text
    assert case_events(db) == events
    with Archive(db) as archive:
        assert archive.facts(CASE) == facts


def test_the_new_changes_refuse_get(client: TestClient, db: Path) -> None:
    events = case_events(db)
    for url in post_routes(db):
        response = client.get(f"{url}?csrf={CSRF}&case={CASE}&kind=other&text=x")
        assert response.status_code == 405, url
    assert case_events(db) == events


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/cases/nope/facts"),
        ("get", "/cases/..%2F..%2Fetc%2Fpasswd/facts"),
        ("post", f"{FACTS}/abc/edit"),
        ("post", f"{FACTS}/-1/remove"),
        ("post", f"{FACTS}/..%2F1/remove"),
        ("post", f"{FACTS}/999999/remove"),
        ("post", f"{FACTS}/999999/edit"),
        ("post", f"/cases/{CASE}/suggestions/..%2F..%2Fetc%2Fpasswd/accept"),
        ("post", f"/cases/{CASE}/suggestions/s1-zzzzzzzz/accept"),
        ("post", f"/cases/{CASE}/suggestions/s999999-0123abcd/reject"),
        ("post", f"/cases/{CASE}/suggestions/{'s1-' + '0' * 5000}/accept"),
        ("post", "/items/abc/facts"),
        ("post", "/items/..%2F..%2Fetc%2Fpasswd/facts"),
        ("post", "/items/999999/facts"),
    ],
)
def test_an_id_that_is_no_fact_suggestion_or_item_finds_nothing(
    client: TestClient, db: Path, method: str, url: str
) -> None:
    events = case_events(db)
    form = {"csrf": CSRF, "case": CASE, "kind": "other", "text": "x"}
    response = client.get(url) if method == "get" else client.post(url, data=form)
    assert response.status_code == 404
    assert "root:" not in response.text
    assert case_events(db) == events


# -- an item's custody record, on the item page ------------------------------------------------


def test_the_item_page_shows_its_own_custody_events(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        archive.tag(1, "promise")
        own = [e.hash for e in archive.custody.events_about("item:1")]
        others = [e.hash for e in archive.custody.events("item:1") if e.subject != "item:1"]
    page = client.get("/items/1").text
    assert len(own) >= 2
    custody = page[page.index('id="custody"') :]
    assert all(h in custody for h in own)
    assert [h for h in re.findall(r"[0-9a-f]{64}", custody) if h in own] == own  # in order
    assert others
    assert not any(h in page for h in others)
    assert "tagged" in custody
    assert 'href="/items/1/custody"' in page  # the record on its own page stays
