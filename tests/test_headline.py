"""Headlines: a text, chat message or call is listed by what was said (or the call's direction
and length), on one line and cut to a readable length, in `evidence timeline`, the bundle's
index.html and bundle.pdf's contents; search snippets never carry line breaks or controls."""

from __future__ import annotations

import io
import json
import unicodedata
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader
from typer.testing import CliRunner

from evidence_archiver import Archive
from evidence_archiver.cli import app
from evidence_archiver.headline import (
    HEADLINE_WIDTH,
    call_phrase,
    headline,
    one_line,
    shorten,
    width,
)

LONG_SMS = (
    "您好，这里是乐贷客服。关于您的延期申请：\n我们同意第4至6期各顺延三个月，"
    "第4期延至2024年10月15日。\r\nConfirmed: your July instalment is deferred."
)
HOSTILE = "逾期通知\x1b[2J\x1b[31m请立即还款\x00\x08\u202e\u2028第二行\tend"


def _columns(text: str) -> int:
    return sum(map(width, text))


def _has_controls(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in text) or "\u202e" in text


def test_shorten_cuts_between_words_or_chinese_characters_with_an_ellipsis() -> None:
    english = shorten("Confirmed: your July instalment is deferred to 15 October 2024, thanks")
    assert english == "Confirmed: your July instalment is deferred to 15 October…"
    chinese = shorten(LONG_SMS)
    assert chinese.endswith("…")
    assert _columns(chinese) <= HEADLINE_WIDTH
    assert chinese.startswith("您好，这里是乐贷客服。关于您的延期申请： 我们同意")
    assert shorten("short text") == "short text"
    # A long word with no space near is cut inside it, still within the width.
    assert _columns(shorten("x" * 200)) <= HEADLINE_WIDTH
    # A mark is never split from its letter.
    cut = shorten("e\u0301" * 100, 10)
    assert cut.endswith("\u0301…")


@given(st.text(max_size=300), st.integers(min_value=8, max_value=120))
def test_shorten_is_always_one_line_and_within_the_width(text: str, limit: int) -> None:
    cut = shorten(text, limit)
    assert _columns(cut) <= limit or len(cut) <= 2
    assert not _has_controls(cut)
    assert cut == cut.strip()


def test_one_line_removes_line_breaks_terminal_escapes_and_bidi_overrides() -> None:
    assert one_line(" a\r\n\tb  c\u2028d\u0085e ") == "a b c d e"
    flat = one_line(HOSTILE)
    assert not _has_controls(flat)
    assert "请立即还款" in flat
    assert "第二行" in flat


def test_calls_are_named_by_direction_and_length_in_both_languages() -> None:
    outgoing = {"call_type": "outgoing", "duration_s": 252}
    assert call_phrase("out", outgoing) == "Outgoing call, 4 min 12 s"
    assert call_phrase("out", outgoing, "zh") == "呼出电话，4分12秒"
    assert call_phrase("out", outgoing, "both") == "Outgoing call, 4 min 12 s / 呼出电话，4分12秒"
    assert call_phrase("in", {"duration": 65}) == "Incoming call, 1 min 5 s"
    assert call_phrase("in", {"call_type": "missed", "duration_s": 0}) == "Missed call"
    assert call_phrase("", {}) == "Call"
    voicemail = headline(
        "call",
        "Voicemail from 乐贷",
        "您好，请回电",
        direction="in",
        details={"call_type": "voicemail", "duration_s": 32},
    )
    assert voicemail == "Voicemail, 32 s: 您好，请回电"


def test_messages_show_their_text_and_emails_keep_their_subject() -> None:
    assert headline("sms", "SMS from 乐贷 LenderX", "已收到您的延期申请") == "已收到您的延期申请"
    assert headline("chat", "Whatsapp LenderX", "") == "Whatsapp LenderX"
    subject = "Re: 展期申请 — approved: 3-month extension / 同意展期三个月, see the attachment"
    assert headline("email", subject + "\n", "body") == subject


SMS_XML = """<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<smses count="2">
  <sms protocol="0" address="+86 138 0013 8000" date="1719971100000" type="1" body="{long}"
   readable_date="Jul 3, 2024 9:45:00 AM" contact_name="乐贷 LenderX" />
  <sms protocol="0" address="+86 138 0013 8000" date="1719972100000" type="1" body="{hostile}"
   readable_date="Jul 3, 2024 10:01:40 AM" contact_name="乐贷 LenderX" />
</smses>
"""
CALLS_XML = """<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<calls count="2">
  <call number="+86 138 0013 8000" duration="252" date="1719885720000" type="2"
   readable_date="Jul 2, 2024 10:02:00 AM" contact_name="乐贷 LenderX" />
  <call number="+86 138 0013 8000" duration="0" date="1719886720000" type="3"
   readable_date="Jul 2, 2024 10:18:40 AM" contact_name="乐贷 LenderX" />
</calls>
"""


def _xml_attr(text: str) -> str:
    out = []
    for c in text:
        if c in '&<>"' or ord(c) < 0x20 or ord(c) in (0x2028, 0x202E):
            out.append(f"&#{ord(c)};")
        else:
            out.append(c)
    return "".join(out)


@pytest.fixture
def phone_case(tmp_path: Path, archive_path: Path) -> Path:
    sms = tmp_path / "sms-20240705.xml"
    # \x00 and \x1b cannot be in XML at all (the importer repairs such bytes); the rest can.
    hostile = HOSTILE.replace("\x00", "").replace("\x1b", "").replace("\x08", "")
    sms.write_text(
        SMS_XML.format(long=_xml_attr(LONG_SMS), hostile=_xml_attr(hostile)), encoding="utf-8"
    )
    calls = tmp_path / "calls-20240705.xml"
    calls.write_text(CALLS_XML, encoding="utf-8")
    env = {"EVIDENCE_ARCHIVE": str(archive_path), "EVIDENCE_TZ": "Asia/Shanghai"}
    runner = CliRunner()
    for args in (
        ["import", "sms", str(sms), str(calls), "--region", "CN"],
        ["case", "new", "LenderX", "--counterparty", "+86 138 0013 8000"],
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
    return archive_path


def _cli(archive_path: Path, *args: str) -> str:
    result = CliRunner().invoke(
        app, list(args), env={"EVIDENCE_ARCHIVE": str(archive_path), "COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_timeline_lists_what_was_said_and_the_calls_length(phone_case: Path) -> None:
    shown = _cli(phone_case, "timeline", "lenderx")
    assert "SMS from" not in shown
    assert "您好，这里是乐贷客服。关于您的延期申请： 我们同意" in shown
    assert "Outgoing call, 4 min 12 s" in shown
    assert "Missed call" in shown
    assert "\x1b[2J" not in shown
    assert "\u202e" not in shown
    rows = json.loads(_cli(phone_case, "timeline", "lenderx", "--json"))
    headlines = [r["headline"] for r in rows]
    assert headlines[0] == "Outgoing call, 4 min 12 s"
    assert headlines[1] == "Missed call"
    assert headlines[2].endswith("…")
    assert _columns(headlines[2]) <= HEADLINE_WIDTH
    assert not any(_has_controls(h) for h in headlines)
    assert rows[2]["title"].startswith("SMS from")  # the stored title is unchanged


def test_search_snippets_are_one_line_in_the_terminal_and_in_json(phone_case: Path) -> None:
    hits = json.loads(_cli(phone_case, "search", "请立即还款", "--json"))
    assert len(hits) == 1
    assert "**请立即还款**" in hits[0]["snippet"]
    assert "第二行" in hits[0]["snippet"]
    assert not _has_controls(hits[0]["snippet"])
    hits = json.loads(_cli(phone_case, "search", "延期申请", "--json"))
    assert hits
    assert not _has_controls(hits[0]["snippet"])
    shown = _cli(phone_case, "search", "请立即还款")
    assert "\u202e" not in shown
    assert "\u2028" not in shown
    assert "\t" not in shown
    # The snippet is one line of the table: the matched text and what followed it share it.
    line = next(line for line in shown.splitlines() if "请立即还款" in line)
    assert "第二行" in line


def test_bundle_index_and_pdf_contents_show_the_text(phone_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.zip"
    _cli(phone_case, "export", "lenderx", "--out", str(out), "--now", "2026-05-01T12:00:00Z")
    with zipfile.ZipFile(out) as z:
        root = z.namelist()[0].split("/")[0]
        index = z.read(f"{root}/data/index.html").decode("utf-8")
        pdf = PdfReader(io.BytesIO(z.read(f"{root}/data/bundle.pdf")))
    assert "Outgoing call, 4 min 12 s / 呼出电话，4分12秒" in index
    assert "Missed call / 未接来电" in index
    assert "<td>您好，这里是乐贷客服。关于您的延期申请： 我们同意" in index
    assert "<td>SMS from" not in index
    # A message short enough to be its own title is not repeated as its snippet.
    assert "<td>逾期通知[2J[31m请立即还款 第二行 end</td><td></td>" in index
    contents = pdf.pages[1].extract_text()
    assert "Outgoing call, 4 min 12 s / 呼出电话，4分12秒" in contents
    assert "您好，这里是乐贷客服。" in contents
    assert "SMS from" not in contents
    outline = [item.title for item in pdf.outline if not isinstance(item, list)]
    assert any("Missed call / 未接来电" in title for title in outline)
    assert all(not _has_controls(title) for title in outline)


def test_terminal_escapes_in_a_message_never_reach_the_terminal(archive: Archive) -> None:
    from evidence_archiver.hashing import blob_from_bytes
    from evidence_archiver.model import Capture, Item, SourceRef

    body = "催收\x1b[2J\x1b]0;owned\x07通知：\r\n请于\x00今日\x08还款\x85否则\x9b起诉"
    archive.ingest(
        [
            Capture(
                source=SourceRef("csv", "messages.csv", "line 2"),
                original=blob_from_bytes(body.encode(), "text/plain"),
                item=Item(kind="chat", title="Chat\nwith\x1b[31m LenderX", body=body),
            )
        ],
        connector="csv",
        container="messages.csv",
    )
    hits = archive.search("今日")
    assert len(hits) == 1
    assert not _has_controls(hits[0].snippet)
    assert "请于 今日 还款" in hits[0].snippet.replace("**", "")
    for args in (["search", "今日"], ["timeline"], ["search", "今日", "--json"]):
        shown = _cli(archive.path, *args)
        assert not any(c in shown for c in "\x1b\x00\x07\x08\x85\x9b"), args
    row = json.loads(_cli(archive.path, "timeline", "--json"))[0]
    assert row["headline"] == one_line(body)
