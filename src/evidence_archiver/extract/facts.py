"""Candidate facts found in a message's text: commitments, demands, payments, with the dates,
amounts, agent identifiers and reference numbers they mention. Pure functions: text and the
message's own time in, candidates out; nothing here is ever recorded without a person's say
(see ``archive.facts``).

How a message is read:

* It is cut into sentences (。！？!?; and line ends; a full stop only when a space or the end
  follows it, so that 5,265.76 stays whole). A question is never a commitment.
* A sentence is a **promise** when it holds a commitment word (同意, 批准, 承诺, 顺延, 延后,
  减免, 免除, 不收取, 将…退回, 我会…还…; agree, approve, waive, defer, push back, payment plan,
  will be refunded, I'll pay…), a **demand** when it asks for money outright (应还, 请…还款,
  最后还款日; must be paid, is due, payment due), a **payment** when it says money was paid or
  received (已还款, 扣款…成功, 原路退回, 已经还清了; payment received, was successful, I sent…),
  and otherwise a **demand** when it says something is overdue or charged (逾期, 催收, 滞纳金,
  罚息, 自动扣款, 起诉; overdue, late fee, late charge, past due, default, autopay…). A question
  or a request (？, 能否, 麻烦…; could you…) makes no promise and no demand.
  A commitment wins over a demand in one sentence ("第4期延至10月15日，期间不收取逾期费用"
  is a promise), and a late-fee word right after a negation (不收取, 免除, no, waive) is no
  demand.
* The sentences of one kind in one message make one candidate: a bilingual message that says
  the same thing in Chinese and in English is one fact, not two.
* Dates: 2024年10月15日, 2024-10-15, 2024/10/15, 10月15日 / 10月15号 (the year that puts the
  day nearest to the message: 12月30日 written on 2 January is last December, 1月5日 written
  on 28 December is next January), 15 October 2024, October 15, 15 Oct; relative forms from
  the message's own time in its own zone: 今天, 今晚, 明天, 后天, 下周一…下周日, 本周五, 本月30日,
  下个月15日, 十月十五日 (Chinese numerals),
  下个月 (the same day next month), N天内 / within N days, tomorrow, next Monday. A promise
  or demand takes as its due date the first date it names that is not before the message.
* Amounts need a currency to count (元, 块, CNY, RMB, 人民币, ¥, ￥, $, USD, 美元) and are
  exact decimals, never floats: "5,265.76 元" is ``Decimal("5265.76")`` CNY.
* Agent identifiers: 工号 KF1234, 客服编号 1234, 第1234号客服, agent 1234 / agent ID KF1234.
  Reference numbers: 合同编号, 协议编号, 借款编号, 贷款编号, 订单号, 编号, contract no.,
  reference no., order no., loan LX-2024-0315-001.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from ..i18n import _
from ..model import FACT_KINDS

KINDS = FACT_KINDS

_COMMIT = re.compile(
    r"同意|批准|审批|承诺|顺延|延期至|延至|延到|延后|推后|推迟|延长|减免|免除|豁免|不收取|不再收取|"
    r"不上报|不计|不会(?:产生|收取)|可以给您|为您办理|给您办理|停息挂账|计划已调整|已调整为|"
    r"将.{0,16}(?:退回|退还|返还)|我(?:会|将|保证|一定会?|晚上|明天|今天)[^。！？]{0,12}还|"
    r"\b(?:agree[sd]?|approved?|approves|waived?|waives|defer(?:red|s)?|postponed?|promised?|"
    r"promises|will not (?:be )?charged?|won't charge|extended|grant(?:ed)?|confirm(?:ed)? "
    r"(?:the|your) (?:extension|deferral)|push(?:ed)? .{0,24}back|able to offer|"
    r"we can (?:offer|extend|push|move|give|waive|reduce)|payment plan|reschedul\w*|"
    r"will be (?:reversed|refunded|credited|waived|removed)|schedule has been (?:updated|"
    r"changed|adjusted)|may be paid|i(?:'ll| will) pay)\b",
    re.IGNORECASE,
)
_PAYMENT = re.compile(
    r"已还款|已还清|还款成功|扣款.{0,16}成功|付款成功|支付成功|已收到您的还款|已收到还款|已支付|"
    r"已转账|已到账|已结清|原路退回|退款.{0,16}已|还了\s*\d|已经?.{0,8}还(?:清|了)|"
    r"\b(?:payment (?:received|has been received|successful|confirmed)|we (?:have )?received "
    r"your payment|has been paid|was paid|i (?:have |just )?(?:paid|sent|transferred)|repaid|"
    r"paid in full|was successful|(?:credit|refund) of .{0,20}(?:has been|was) (?:posted|"
    r"applied|issued|sent))\b",
    re.IGNORECASE,
)
# Words that ask for money outright: a sentence saying so is a demand even if it also says
# "paid" ("must be paid in full by 30 November").
_DEMAND_FIRST = re.compile(
    r"应还|必须还款|最后还款日|(?<!申)请.{0,16}还(?:款|清)|"
    r"\b(?:must (?:be )?paid?|must pay|need to pay|is due|are due|due on|payment due|"
    r"amount due)\b",
    re.IGNORECASE,
)
_DEMAND = re.compile(
    r"逾期|催收|滞纳金|罚息|违约金|请立即还款|立即还款|请尽快还款|必须还款|还清|应还|最后通知|"
    r"上报征信|请于.{0,12}还款|自动扣款|最后还款日|还款日|起诉|法务|"
    r"\b(?:overdue|late fees?|late charges?|penalty|pay (?:now|today|immediately)|must pay|"
    r"final notice|collection|is due|are due|due on|payment due|amount due|"
    r"unless .{0,40}paid|in arrears|past[- ]due|autopay|auto-?debit|scheduled for|default|"
    r"legal action|\d+ days? late|is late|accrue)\b",
    re.IGNORECASE,
)
_NEGATED_FEE = re.compile(
    r"(?:不收取|不再收取|不收|免除|减免|豁免|免收|无|不会产生|不会收取|不计)\s*(?:任何)?"
    r"(?:逾期费用?|逾期费|滞纳金|罚息|违约金)|"
    r"\b(?:no|waive[ds]?|without|cancel(?:led)?|not (?:be )?charged?)\b(?:\s+\w+){0,2}?\s+"
    r"(?:late fees?|penalty(?: interest)?|overdue (?:fees?|interest))",
    re.IGNORECASE,
)
# A question or a request asks for a commitment or a demand, it does not make one.
_QUESTION = re.compile(
    r"[?？]\s*$|能否|可否|是否|能不能|可不可以|麻烦|可以.*吗|^(?:can|could|would|may)\b", re.I
)

# Sentences end at Chinese stops, ! ? ; and line ends; at an English full stop only when a
# space or the end follows it (5,265.76 and LX-2024.1 stay whole).
_SENTENCE = re.compile(r"(?<=[。！？!?；;])|\n+|(?<=[.])(?=\s|$)")

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_AMOUNT = re.compile(
    rf"(?P<pre>¥|￥|RMB|CNY|人民币|US\$|\$|USD|HK\$|HKD|EUR|€|GBP|£)\s?(?P<n1>{_NUMBER})(?:\s?元)?|"
    rf"(?P<n2>{_NUMBER})\s?(?P<post>元|块钱|块|CNY|RMB|美元|USD|dollars?)",
    re.IGNORECASE,
)
_CURRENCY = {
    "¥": "CNY",
    "￥": "CNY",
    "rmb": "CNY",
    "cny": "CNY",
    "人民币": "CNY",
    "元": "CNY",
    "块": "CNY",
    "块钱": "CNY",
    "$": "USD",
    "us$": "USD",
    "usd": "USD",
    "美元": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "hk$": "HKD",
    "€": "EUR",
    "£": "GBP",
}
_AGENT = re.compile(
    r"(?:工号|客服编号|客服工号|员工编号|坐席号)\s*[:：#]?\s*(?P<a>[A-Za-z]{0,4}\d{2,8})|"
    r"第\s*(?P<b>\d{2,8})\s*号客服|"
    r"\b(?:agent|rep(?:resentative)?)\s*(?:id|no\.?|number|#)?\s*[:#]?\s*"
    r"(?P<c>[A-Za-z]{0,4}\d{2,8})\b",
    re.IGNORECASE,
)
_REFERENCE = re.compile(
    r"(?:合同编号|协议编号|借款编号|贷款编号|订单编号|订单号|合同号|流水号|(?<!客服)(?<!员工)编号)"
    r"\s*(?:为|是|[:：])?\s*"
    r"(?:[A-Za-z .]{0,14}[:：]\s*)?(?P<a>[A-Za-z0-9][A-Za-z0-9-]{3,40})|"
    r"\b(?:contract|reference|ref|order|loan|agreement)\s*(?:no\.?|number|#)?\s*(?:is\s+)?"
    r"[:#]?\s*"
    r"(?P<b>[A-Za-z]{1,6}-?\d[A-Za-z0-9-]{2,40}|\d{6,20})\b",
    re.IGNORECASE,
)

_MONTHS = {
    name.lower(): n
    for n in range(1, 13)
    for name in (calendar.month_name[n], calendar.month_abbr[n])
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_CN_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_EN_WEEKDAY = {calendar.day_name[n].lower(): n for n in range(7)}
_DATE = re.compile(
    r"(?P<ymd>(?P<y1>\d{4})\s*年\s*(?P<m1>\d{1,2})\s*月\s*(?P<d1>\d{1,2})\s*[日号])|"
    r"(?P<iso>(?<!\d)(?P<y2>\d{4})[-/.](?P<m2>\d{1,2})[-/.](?P<d2>\d{1,2})(?!\d))|"
    r"(?P<nextmd>下个?月\s*(?P<d5>\d{1,2})\s*[日号])|"
    r"(?P<thismd>(?:本|这个?)月\s*(?P<d9>\d{1,2})\s*[日号])|"
    r"(?P<cnmd>(?<![\d年一二三四五六七八九十〇零])(?P<m10>[一二三四五六七八九十]{1,2})\s*月\s*"
    r"(?P<d10>[一二三四五六七八九十]{1,3})\s*[日号])|"
    r"(?P<md>(?<![\d年])(?P<m3>\d{1,2})\s*月\s*(?P<d3>\d{1,2})\s*[日号])|"
    rf"(?P<dmy>\b(?P<d4>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon4>{_MONTH_RE})\.?,?"
    r"(?:\s+(?P<y4>\d{4}))?\b)|"
    rf"(?P<mdy>\b(?P<mon6>{_MONTH_RE})\.?\s+(?P<d6>\d{{1,2}})(?:st|nd|rd|th)?\b"
    r"(?:,?\s+(?P<y6>\d{4}))?)|"
    r"(?P<cnweek>(?P<wk>下|本|这|下个)(?:周|星期|礼拜)(?P<wd>[一二三四五六日天]))|"
    r"(?P<enweek>\bnext\s+(?P<ewd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b)|"
    r"(?P<within>(?P<n7>\d{1,3})\s*(?:天|日)内|\bwithin\s+(?P<n8>\d{1,3})\s+days?\b)|"
    r"(?P<nextmonth>下个?月)|"
    r"(?P<rel>今天|今日|今晚|晚上|明天|明日|后天|\btoday\b|\btonight\b|\bthis evening\b|"
    r"\btomorrow\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Amount:
    value: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.value} {self.currency}"


@dataclass(frozen=True)
class Candidate:
    """One proposed fact of one message: its kind, the sentences that say it, and what they
    name. ``dates`` are every date the sentences name, in order; ``due`` the one taken as due."""

    kind: str
    text: str
    due: date | None = None
    amount: Amount | None = None
    by: str | None = None
    reference: str | None = None
    dates: tuple[date, ...] = field(default=())


def parse_amount(text: str) -> Decimal:
    """``"5,265.76"`` -> ``Decimal("5265.76")``; ValueError when it is not a plain amount."""
    cleaned = text.strip().replace(",", "").replace("，", "")
    if not re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        raise ValueError(_("{text} is not an amount such as 5265.76").format(text=repr(text)))
    try:
        return Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the pattern above admits only digits
        raise ValueError(
            _("{text} is not an amount such as 5265.76").format(text=repr(text))
        ) from None


def normalize_currency(text: str) -> str:
    """A currency as written (元, ¥, RMB, 人民币, $, usd…) as its ISO 4217 code."""
    key = text.strip().lower()
    if key in _CURRENCY:
        return _CURRENCY[key]
    if re.fullmatch(r"[a-z]{3}", key):
        return key.upper()
    raise ValueError(
        _("unknown currency {text}: use a code such as CNY or USD").format(text=repr(text))
    )


def amounts(text: str) -> list[Amount]:
    found = []
    for m in _AMOUNT.finditer(text):
        number = m.group("n1") or m.group("n2")
        currency = m.group("pre") or m.group("post")
        found.append(Amount(parse_amount(number), normalize_currency(currency)))
    return found


def agents(text: str) -> list[str]:
    out = []
    for m in _AGENT.finditer(text):
        value = m.group("a") or m.group("b") or m.group("c")
        out.append(value.upper())
    return list(dict.fromkeys(out))


def references(text: str) -> list[str]:
    out = []
    for m in _REFERENCE.finditer(text):
        value = (m.group("a") or m.group("b")).rstrip("-").upper()
        if any(c.isdigit() for c in value):
            out.append(value)
    return list(dict.fromkeys(out))


def _nearest_year(month: int, day: int, said: date) -> date | None:
    """The day ``month``/``day`` nearest to ``said``: 12月30日 said in January is last year's."""
    options = []
    for year in (said.year - 1, said.year, said.year + 1):
        try:
            options.append(date(year, month, day))
        except ValueError:
            continue
    if not options:
        return None
    return min(options, key=lambda d: (abs((d - said).days), d < said))


_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_number(text: str) -> int | None:
    """一 … 三十一 written in Chinese numerals (十五 = 15, 二十 = 20, 廿 not handled)."""
    if "十" not in text:
        return _CN_DIGITS.get(text) if len(text) == 1 else None
    tens, _ten, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    high = _CN_DIGITS.get(tens, 0) if tens else 1
    low = _CN_DIGITS.get(ones, 0) if ones else 0
    if (tens and not high) or (ones and not low):
        return None
    return high * 10 + low


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _add_month(day: date, months: int = 1, dom: int | None = None) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(dom or day.day, last))


def dates(text: str, said: datetime | None) -> list[date]:
    """Every date ``text`` names, in order. ``said`` is when the message was written, in its
    own zone: it fixes the year of 10月15日 and the day of 明天; without it only dates that
    carry their year are found."""
    today = said.date() if said is not None else None
    out: list[date] = []
    for m in _DATE.finditer(text):
        g = m.groupdict()
        found: date | None = None
        if g["ymd"]:
            found = _safe_date(int(g["y1"]), int(g["m1"]), int(g["d1"]))
        elif g["iso"]:
            found = _safe_date(int(g["y2"]), int(g["m2"]), int(g["d2"]))
        elif g["dmy"] or g["mdy"]:
            month = _MONTHS[(g["mon4"] or g["mon6"]).lower()]
            day = int(g["d4"] or g["d6"])
            year = g["y4"] or g["y6"]
            if year:
                found = _safe_date(int(year), month, day)
            elif today is not None:
                found = _nearest_year(month, day, today)
        elif today is None:
            continue
        elif g["md"]:
            found = _nearest_year(int(g["m3"]), int(g["d3"]), today)
        elif g["nextmd"]:
            found = _add_month(today, 1, int(g["d5"]))
        elif g["thismd"]:
            found = _safe_date(today.year, today.month, int(g["d9"]))
        elif g["cnmd"]:
            cn_month, cn_day = _cn_number(g["m10"]), _cn_number(g["d10"])
            found = _nearest_year(cn_month, cn_day, today) if cn_month and cn_day else None
        elif g["cnweek"]:
            target = _CN_WEEKDAY[g["wd"]]
            start = today - timedelta(days=today.weekday())
            if g["wk"].startswith("下"):
                start += timedelta(days=7)
            found = start + timedelta(days=target)
        elif g["enweek"]:
            target = _EN_WEEKDAY[g["ewd"].lower()]
            ahead = (target - today.weekday()) % 7 or 7
            found = today + timedelta(days=ahead)
        elif g["within"]:
            found = today + timedelta(days=int(g["n7"] or g["n8"]))
        elif g["nextmonth"]:
            found = _add_month(today, 1)
        elif g["rel"]:
            word = g["rel"].lower()
            shift = {"明天": 1, "明日": 1, "tomorrow": 1, "后天": 2}
            found = today + timedelta(days=shift.get(word, 0))
        if found is not None:
            out.append(found)
    return out


# A line broken inside a Chinese sentence (PDF text, OCR) is joined again, and an English line
# that goes on in lower case belongs to the line before it.
_WRAPPED_HAN = re.compile(r"(?<=[\u4e00-\u9fff，、])\n(?=[\u4e00-\u9fff])")
_WRAPPED_EN = re.compile(r"(?<=[\w,])\n(?=[a-z0-9])")


def sentences(text: str) -> list[str]:
    text = _WRAPPED_EN.sub(" ", _WRAPPED_HAN.sub("", text))
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def without_negated_fees(sentence: str) -> str:
    """The sentence with "no late fees" / 不收取逾期费 and the like blanked out."""
    return _NEGATED_FEE.sub(" ", sentence)


def sentence_kind(sentence: str) -> str | None:
    """``promise``, ``payment``, ``demand`` or None for one sentence (see the module docs)."""
    if _COMMIT.search(sentence) and not _QUESTION.search(sentence):
        return "promise"
    asked = bool(_QUESTION.search(sentence))
    if _DEMAND_FIRST.search(sentence) and not asked:
        return "demand"
    if _PAYMENT.search(sentence):
        return "payment"
    if _DEMAND.search(without_negated_fees(sentence)) and not asked:
        return "demand"
    return None


def suggest(text: str, said: datetime | None) -> list[Candidate]:
    """The candidate facts of one message, at most one per kind, in the order first met."""
    by_kind: dict[str, list[str]] = {}
    for sentence in sentences(text):
        kind = sentence_kind(sentence)
        if kind is not None:
            by_kind.setdefault(kind, []).append(sentence)
    if not by_kind:
        return []
    agent = next(iter(agents(text)), None)
    reference = next(iter(references(text)), None)
    out = []
    for kind, parts in by_kind.items():
        joined = " ".join(parts)
        named = tuple(dates(joined, said))
        today = said.date() if said is not None else None
        upcoming = [d for d in named if today is None or d >= today]
        due = upcoming[0] if upcoming and kind in ("promise", "demand") else None
        money = amounts(joined)
        out.append(
            Candidate(
                kind=kind,
                text=joined if len(joined) <= 400 else joined[:399] + "…",
                due=due,
                amount=money[0] if money else None,
                by=agent,
                reference=reference,
                dates=named,
            )
        )
    return out
