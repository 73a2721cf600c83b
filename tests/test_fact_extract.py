"""Candidate facts from text alone: kinds, Chinese and English dates (year boundaries, relative
forms in the message's own zone), exact amounts, agent identifiers and reference numbers."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from evidence_archiver.extract.facts import (
    Amount,
    agents,
    amounts,
    dates,
    normalize_currency,
    parse_amount,
    references,
    sentence_kind,
    suggest,
)

CST = timezone(timedelta(hours=8))
NEW_YORK = timezone(timedelta(hours=-5))


def at(*parts: int, tz: timezone = CST) -> datetime:
    return datetime(*parts, tzinfo=tz)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "said", "expected"),
    [
        ("12月30日的还款已到账", at(2025, 1, 2, 10), date(2024, 12, 30)),  # said in January
        ("还款日顺延至1月5日", at(2024, 12, 28, 16), date(2025, 1, 5)),  # said in late December
        ("1月5日", at(2024, 6, 1, 9), date(2024, 1, 5)),  # nearest: same year
        ("10月15号", at(2024, 7, 3, 14), date(2024, 10, 15)),
        ("2024年10月15日", at(2030, 1, 1), date(2024, 10, 15)),
        ("2024-06-15", None, date(2024, 6, 15)),
        ("15 October 2024", None, date(2024, 10, 15)),
        ("deferred to January 20", at(2024, 12, 27, 12, tz=NEW_YORK), date(2025, 1, 20)),
        ("Dec 30", at(2025, 1, 3, 9, tz=NEW_YORK), date(2024, 12, 30)),
    ],
)
def test_dates_without_a_year_take_the_year_nearest_the_message(
    text: str, said: datetime | None, expected: date
) -> None:
    assert dates(text, said) == [expected]


def test_relative_dates_count_from_the_message_in_its_own_zone() -> None:
    # 2024-05-08 is a Wednesday; 23:30 in Beijing is still the 8th there (15:30 UTC).
    said = at(2024, 5, 8, 23, 30)
    assert dates("请于下周一前还清", said) == [date(2024, 5, 13)]
    assert dates("本周五", said) == [date(2024, 5, 10)]
    assert dates("明天", said) == [date(2024, 5, 9)]
    assert dates("后天", said) == [date(2024, 5, 10)]
    assert dates("3天内", said) == [date(2024, 5, 11)]
    assert dates("下个月15日", said) == [date(2024, 6, 15)]
    assert dates("下个月", at(2024, 1, 31, 9)) == [date(2024, 2, 29)]  # clamped to the month
    assert dates("next Monday", said) == [date(2024, 5, 13)]
    assert dates("within 14 days", said) == [date(2024, 5, 22)]
    # The same instant written in New York is still the 8th at 10:30, in Beijing the 9th.
    assert dates("tomorrow", said.astimezone(NEW_YORK)) == [date(2024, 5, 9)]
    assert dates("tomorrow", at(2024, 5, 9, 1)) == [date(2024, 5, 10)]
    assert dates("明天", None) == []  # no message time: a relative date cannot be placed
    assert dates("2月30日", said) == []  # no such day


def test_amounts_are_exact_and_need_a_currency() -> None:
    assert amounts("每期人民币5,265.76元") == [Amount(Decimal("5265.76"), "CNY")]
    assert amounts("¥30,000.00 和 ￥12 和 RMB 8 和 3块钱") == [
        Amount(Decimal("30000.00"), "CNY"),
        Amount(Decimal("12"), "CNY"),
        Amount(Decimal("8"), "CNY"),
        Amount(Decimal("3"), "CNY"),
    ]
    assert amounts("late fee 50.02 CNY, $35 and US$1,000.50") == [
        Amount(Decimal("50.02"), "CNY"),
        Amount(Decimal("35"), "USD"),
        Amount(Decimal("1000.50"), "USD"),
    ]
    assert amounts("第4期 电话 13800138000 共6期") == []
    assert parse_amount("0.10") + parse_amount("0.20") == Decimal("0.30")
    assert normalize_currency("元") == "CNY"
    assert normalize_currency("usd") == "USD"
    with pytest.raises(ValueError, match="amount"):
        parse_amount("1e3")
    with pytest.raises(ValueError, match="currency"):
        normalize_currency("yuan!")


def test_agent_identifiers_and_reference_numbers() -> None:
    assert agents("工号 KF1234，客服编号：2046，第1234号客服，Agent ID KF7788") == [
        "KF1234",
        "2046",
        "1234",
        "KF7788",
    ]
    assert agents("agent 5521 confirmed") == ["5521"]
    assert references("合同编号：HT-2024-0088；订单号 202407090001") == [
        "HT-2024-0088",
        "202407090001",
    ]
    assert references("协议编号 No.: LX-2024-0315-001-E1") == ["LX-2024-0315-001-E1"]
    assert references("reference no. PAY-88213 for loan LN-2024-7731") == [
        "PAY-88213",
        "LN-2024-7731",
    ]
    assert references("客服编号 2046") == []


@pytest.mark.parametrize(
    ("sentence", "kind"),
    [
        ("我们同意第4期延至2024年10月15日，期间不收取逾期费用。", "promise"),
        ("We agree to defer your instalments, with no late fees.", "promise"),
        ("我司承诺减免罚息。", "promise"),
        ("能否申请延期还款？", None),
        ("Can I apply for an extension?", None),
        ("您的还款已还款成功。", "payment"),
        ("We have received your payment of $250.00.", "payment"),
        ("你已逾期，今天必须还款。", "demand"),
        ("A late fee of CNY 52.66 has been added.", "demand"),
        ("期间不收取逾期费。", "promise"),  # a waiver is a commitment, not a demand
        ("no penalty interest accrues during the extension.", None),
        ("今天天气很好。", None),
    ],
)
def test_sentence_kinds(sentence: str, kind: str | None) -> None:
    assert sentence_kind(sentence) == kind


def test_a_bilingual_message_gives_one_candidate_per_kind() -> None:
    text = (
        "已收到您的延期申请。我们同意第4至6期还款各顺延三个月，第4期延至2024年10月15日，"
        "期间不收取逾期费用。We agree to defer your last three instalments by three months: "
        "the July instalment is now due on 15 October 2024, with no late fees. 工号 KF1234"
    )
    (only,) = suggest(text, at(2024, 7, 3, 14, 2))
    assert (only.kind, only.due, only.by) == ("promise", date(2024, 10, 15), "KF1234")
    assert only.dates == (date(2024, 10, 15), date(2024, 10, 15))


def test_a_due_date_is_never_before_the_message() -> None:
    (c,) = suggest("我们同意您12月30日的申请，新的还款日为2月15日。", at(2025, 1, 3, 10))
    assert c.due == date(2025, 2, 15)
    assert c.dates == (date(2024, 12, 30), date(2025, 2, 15))


def test_hostile_and_empty_text_gives_nothing_and_does_not_hang() -> None:
    assert suggest("", None) == []
    assert suggest("\x00\ufffd" * 1000, None) == []
    long = "逾期" + "9" * 50000 + "元"
    (c,) = suggest(long, at(2024, 1, 1))
    assert c.kind == "demand"
    assert len(c.text) <= 400


@pytest.mark.parametrize("name", ["labelled.jsonl", "heldout.jsonl", "fresh.jsonl"])
def test_the_labelled_sets_are_well_formed(name: str) -> None:
    import json
    from pathlib import Path

    from evidence_archiver.extract.facts import KINDS

    path = Path(__file__).resolve().parent.parent / "fixtures" / "facts" / name
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    assert len({r["id"] for r in rows}) == len(rows)
    chinese = sum(r["lang"] == "zh" for r in rows)
    assert chinese * 2 == len(rows)  # half Chinese
    for r in rows:
        assert datetime.fromisoformat(r["said"]).utcoffset() is not None, r["id"]
        for fact in r["facts"]:
            assert fact["kind"] in KINDS, r["id"]
            if fact.get("due"):
                date.fromisoformat(fact["due"])
            if fact.get("amount"):
                Decimal(fact["amount"])
    if name == "labelled.jsonl":
        assert len(rows) >= 60
