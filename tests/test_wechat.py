"""WeChat chat exports: MemoTrace CSV (9 and 12 columns) and HTML, ChatLab JSON and JSONL.

The samples are made here and in ``fixtures/phone/make_wechat_fixtures.py``, following the
layouts MemoTrace and ChatLab write; the malformed ones are cut, re-encoded or made hostile
from them.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from evidence_archiver import Archive
from evidence_archiver.archive.cases import rule_from_counterparty
from evidence_archiver.connectors.sms import PhoneExport, detect_format, import_phone_export
from evidence_archiver.connectors.sms.wechat import kind_of_wechat, readable_content
from evidence_archiver.errors import SourceError

PHONE = Path(__file__).resolve().parent.parent / "fixtures" / "phone"
CHAT = PHONE / "wechat" / "乐贷客服"
CSV12 = CHAT / "乐贷客服_utf8.csv"
PAGE = CHAT / "乐贷客服.html"
CSV9 = PHONE / "wechat-20240705" / "乐贷客服_utf8.csv"
WXID = "wxid_lenderx_kf01"
HEADER = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime"
T0 = 1719889500  # 2024-07-02 11:05:00 +08:00


def write_csv(
    path: Path,
    rows: list[list[object]],
    *,
    header: str = HEADER,
    bom: bool = True,
    encoding: str = "utf-8",
) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header.split(","))
    writer.writerows(rows)
    text = ("\ufeff" if bom and encoding == "utf-8" else "") + out.getvalue()
    path.write_bytes(text.encode(encoding))
    return path


def row(
    n: int, type_: int, content: str, *, sub: int = 0, send: int = 0, talker: str = WXID
) -> list[object]:
    created = T0 + n * 60
    local = f"2024-07-02 {11 + (5 + n) // 60:02d}:{(5 + n) % 60:02d}:00"
    return [n, talker, type_, sub, send, created, 2, content, local]


def items(archive: Archive) -> list:  # type: ignore[type-arg]
    return archive.timeline()


# --- the MemoTrace CSV -------------------------------------------------------------------------


def test_memotrace_csv_reads_every_kind_of_message_with_direction_people_and_media(
    archive: Archive,
) -> None:
    assert detect_format(CSV12) == "wechat-csv"
    report, notes = import_phone_export(archive, CSV12, zone="UTC")
    assert (report.added, report.failed) == (9, 0)
    timeline = items(archive)
    first = timeline[0]
    # Times are exact (Unix seconds) and shown in the zone MemoTrace's StrTime reveals.
    assert first.occurred_at is not None
    assert first.occurred_at.utcoffset() == timedelta(hours=8)
    assert first.occurred_at.isoformat() == "2024-07-02T11:05:00+08:00"
    assert "system" in first.flags
    asking = timeline[1]
    assert asking.direction == "out"
    assert asking.recipients == (f"wechat:{WXID}",)
    assert "\nHello, I am Wang Xiaoming" in asking.body  # multi-line kept whole
    assert 'My "proof" is below.' in asking.body  # quoted text kept
    promise = next(i for i in timeline if "我们同意您第4至6期" in i.body)
    assert (promise.direction, promise.sender, promise.sender_name) == (
        "in",
        f"wechat:{WXID}",
        "乐贷客服",
    )
    assert promise.details["aliases"] == ["wechat:乐贷客服", "wechat:乐贷LenderX客服"]
    assert promise.source.locator == "line 7"  # where in the CSV it came from
    assert (
        promise.container_sha256
        == archive.conn.execute(
            "SELECT sha256 FROM originals WHERE media_type = 'text/csv'"
        ).fetchone()[0]
    )
    image = next(i for i in timeline if i.title.startswith("WeChat image"))
    assert [a.media_type for a in image.attachments] == ["image/png"]
    voice = next(i for i in timeline if i.title.startswith("WeChat voice"))
    assert voice.body == "[语音 voice message] 8 s"
    assert [(a.filename, a.media_type) for a in voice.attachments] == [
        ("41a7c3e0d2b54f16.silk", "audio/silk")
    ]
    assert "<voicemsg" in voice.details["raw"]  # the raw XML is kept
    reply = next(i for i in timeline if i.title.startswith("WeChat reply"))
    assert reply.body.startswith("好的，谢谢！")
    assert "「乐贷客服：王先生您好" in reply.body
    # The export itself is an original, byte for byte.
    sha = promise.container_sha256
    assert sha is not None
    assert archive.read_original(sha) == CSV12.read_bytes()
    assert notes.format == "wechat-csv"


def test_reimporting_a_wechat_export_adds_nothing(archive: Archive) -> None:
    import_phone_export(archive, CSV12)
    again, _ = import_phone_export(archive, CSV12)
    assert (again.added, again.duplicates, again.failed) == (0, 9, 0)


def test_a_9_and_a_12_column_export_of_one_chat_are_stored_once(archive: Archive) -> None:
    early, _ = import_phone_export(archive, CSV9)
    later, _ = import_phone_export(archive, CSV12)
    assert (early.added, later.added, later.duplicates) == (7, 2, 7)
    assert archive.status()["items"] == {"chat": 9}


def test_the_html_page_and_the_csv_of_one_chat_are_stored_once(archive: Archive) -> None:
    page, notes = import_phone_export(archive, PAGE)
    table, _ = import_phone_export(archive, CSV12)
    assert (page.added, table.added, table.duplicates) == (9, 0, 9)
    assert any("wxid_lenderx_kf01" in line for line in notes.lines)


@pytest.mark.parametrize(
    ("type_", "sub", "xml", "expected"),
    [
        (
            49,
            2000,
            "<msg><appmsg><title>微信转账</title><type>2000</type><wcpayinfo><paysubtype>1"
            "</paysubtype><feedesc>￥5,265.76</feedesc><pay_memo>第3期还款</pay_memo>"
            "</wcpayinfo></appmsg></msg>",
            "[转账 transfer] ￥5,265.76 第3期还款 (发起转账 sent)",
        ),
        (
            49,
            5,
            "<msg><appmsg><title>乐贷还款计划</title><des>查看您的新还款计划</des><type>5</type>"
            "<url>https://lenderx.example/plan</url></appmsg></msg>",
            "[链接 link] 乐贷还款计划\n查看您的新还款计划\nhttps://lenderx.example/plan",
        ),
        (
            49,
            6,
            "<msg><appmsg><title>还款计划.pdf</title><type>6</type><appattach><totallen>20480"
            "</totallen><fileext>pdf</fileext></appattach></appmsg></msg>",
            "[文件 file] 还款计划.pdf (20.0 KB)",
        ),
        (
            50,
            0,
            '<voipmsg type="VoIPBubbleMsg"><VoIPBubbleMsg><msg><![CDATA[通话时长 00:42]]></msg>'
            "</VoIPBubbleMsg></voipmsg>",
            "[通话 call] 通话时长 00:42",
        ),
        (47, 0, '<msg><emoji md5="ab12" len="100" /></msg>', "[表情 sticker]"),
        (
            10000,
            0,
            '"乐贷客服" 撤回了一条消息',
            '"乐贷客服" 撤回了一条消息',
        ),
    ],
)
def test_app_messages_become_readable_text(type_: int, sub: int, xml: str, expected: str) -> None:
    assert readable_content(kind_of_wechat(type_, sub), xml).body == expected


def test_a_file_message_carries_its_file_and_a_missing_one_is_listed(
    archive: Archive, tmp_path: Path
) -> None:
    (tmp_path / "file").mkdir()
    (tmp_path / "file" / "还款计划.pdf").write_bytes(b"%PDF-1.4 plan")
    file_xml = (
        "<msg><appmsg><title>{}</title><type>6</type><appattach><totallen>13</totallen>"
        "</appattach></appmsg></msg>"
    )
    path = write_csv(
        tmp_path / "乐贷客服_utf8.csv",
        [
            row(1, 49, file_xml.format("还款计划.pdf"), sub=6),
            row(2, 49, file_xml.format("离职证明.pdf"), sub=6, send=1),
            row(3, 43, '<msg><videomsg md5="9f9f" length="100" /></msg>'),
        ],
    )
    report, _ = import_phone_export(archive, path)
    assert (report.added, report.failed) == (3, 0)
    found, gone, video = items(archive)
    assert [a.filename for a in found.attachments] == ["还款计划.pdf"]
    assert archive.read_original(found.attachments[0].sha256) == b"%PDF-1.4 plan"
    assert gone.attachments == ()
    assert gone.details["missing_attachments"] == ["file 离职证明.pdf"]
    assert "media-missing" in gone.flags
    assert video.details["missing_attachments"] == ["video 9f9f"]


# --- malformed and hostile input ---------------------------------------------------------------

BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
    '"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><msg><appmsg><title>&lol2;</title>'
    "</appmsg></msg>"
)


def test_hostile_xml_in_a_message_is_refused_and_the_message_kept(
    archive: Archive, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "chat_utf8.csv",
        [row(1, 1, "您好"), row(2, 49, BOMB, sub=5), row(3, 1, "再见", send=1)],
    )
    report, _ = import_phone_export(archive, path)
    assert (report.added, report.failed) == (2, 1)
    assert "XML was refused" in report.errors[0].reason
    assert report.errors[0].source.endswith("line 3")
    kept = next(i for i in items(archive) if i.parse_status == "failed")
    assert kept.details["raw"] == BOMB  # nothing lost
    assert "lollol" not in kept.body
    again, _ = import_phone_export(archive, path)
    assert (again.added, again.duplicates) == (0, 3)


def test_a_truncated_csv_reports_its_cut_row_and_imports_the_rest(
    archive: Archive, tmp_path: Path
) -> None:
    whole = write_csv(tmp_path / "whole.csv", [row(n, 1, f"消息 {n}\n第二行") for n in range(1, 6)])
    data = whole.read_bytes()
    cut = tmp_path / "chat_utf8.csv"
    cut.write_bytes(data[: data.rindex(b"\xe6\xb6\x88") + 3])  # inside the last message
    report, _ = import_phone_export(archive, cut)
    assert report.added == 4
    assert report.failed == 1
    assert "line 10" in report.errors[0].source
    again, _ = import_phone_export(archive, cut)
    assert (again.added, again.duplicates) == (0, 4)


def test_a_gbk_encoded_export_is_read_as_gb18030_and_says_so(
    archive: Archive, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "乐贷_gbk.csv",
        [row(1, 1, "我们同意延期还款"), row(2, 1, "谢谢", send=1)],
        encoding="gbk",
    )
    assert detect_format(path) == "wechat-csv"
    report, notes = import_phone_export(archive, path)
    assert (report.added, report.failed) == (2, 0)
    assert [i.body for i in items(archive)] == ["我们同意延期还款", "谢谢"]
    assert any("GB18030" in line for line in notes.lines)


def test_a_row_in_another_encoding_inside_a_utf8_file_is_reported_alone(
    archive: Archive, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "chat_utf8.csv", [row(1, 1, "好的"), row(2, 1, "PLACEHOLDER")])
    path.write_bytes(path.read_bytes().replace(b"PLACEHOLDER", "逾期".encode("gbk")))
    report, _ = import_phone_export(archive, path)
    assert (report.added, report.failed) == (1, 1)
    assert "not UTF-8" in report.errors[0].reason


def test_a_missing_column_is_read_around_or_refused_with_the_columns_named(
    archive: Archive, tmp_path: Path
) -> None:
    no_sender = HEADER.replace(",IsSender", "")
    rows = [[r[0], r[1], r[2], r[3], *r[5:]] for r in (row(1, 1, "您好"), row(2, 1, "好"))]
    path = write_csv(tmp_path / "chat_utf8.csv", rows, header=no_sender)
    report, notes = import_phone_export(archive, path)
    assert report.added == 2
    assert {i.direction for i in items(archive)} == {"unknown"}
    assert any("IsSender" in line for line in notes.lines)
    no_time = write_csv(
        tmp_path / "other_utf8.csv",
        [[1, WXID, 1, 0, 0, 2, "x", ""]],
        header=HEADER.replace(",CreateTime", ""),
    )
    with pytest.raises(SourceError, match="no CreateTime column.*its columns are: localId"):
        PhoneExport(no_time)


def test_a_row_whose_time_is_not_a_number_is_reported(archive: Archive, tmp_path: Path) -> None:
    bad = row(2, 1, "坏")
    bad[5] = "2024-07-02"
    path = write_csv(tmp_path / "chat_utf8.csv", [row(1, 1, "好"), bad])
    report, _ = import_phone_export(archive, path)
    assert (report.added, report.failed) == (1, 1)
    assert "CreateTime '2024-07-02'" in report.errors[0].reason


# --- the MemoTrace HTML page -------------------------------------------------------------------


def test_the_html_page_reads_the_same_messages_and_media(archive: Archive) -> None:
    assert detect_format(PAGE) == "wechat-html"
    report, _ = import_phone_export(archive, PAGE)
    assert (report.added, report.failed) == (9, 0)
    timeline = items(archive)
    assert sum(len(i.attachments) for i in timeline) == 2
    reply = next(i for i in timeline if i.title.startswith("WeChat reply"))
    assert "「乐贷客服：王先生您好" in reply.body
    asking = timeline[1]
    assert 'My "proof" is below.' in asking.body
    assert "\n" in asking.body
    assert asking.source.locator.startswith("line ")


def test_an_html_page_without_its_media_folders_lists_the_media_as_missing(
    archive: Archive, tmp_path: Path
) -> None:
    page = tmp_path / PAGE.name
    shutil.copy(PAGE, page)  # the page alone: image/ and voice/ were left behind
    report, notes = import_phone_export(archive, page)
    assert (report.added, report.failed) == (9, 0)
    missing = [i for i in items(archive) if "media-missing" in i.flags]
    assert [i.details["missing_attachments"] for i in missing] == [
        ["./image/2024-07/82074f6fbce8cb97772e3ca42a01ca9e.png"],
        ["./voice/41a7c3e0d2b54f16.silk"],
    ]
    assert any("2 media files" in line for line in notes.lines)
    # Without the CSV beside it the chat is known by its remark, which a case rule matches.
    slug, linked = archive.create_case("乐贷", rules=[("address", "wechat:乐贷客服")])
    assert linked == 9


def test_a_cut_or_hostile_html_page_reports_the_broken_message(
    archive: Archive, tmp_path: Path
) -> None:
    text = PAGE.read_text(encoding="utf-8")
    broken = text.replace("{ type:1, text: '已收到", "{ type:1, text: '已收到\n", 1)
    page = tmp_path / "乐贷客服.html"
    page.write_text(broken.replace("../", "").replace("./voice/", "../../../etc/"), "utf-8")
    report, _ = import_phone_export(archive, page)
    assert report.added == 8
    assert report.failed == 1
    assert "cannot be read" in report.errors[0].reason
    voice = next(i for i in items(archive) if i.title.startswith("WeChat voice"))
    assert voice.attachments == ()  # a path out of the export's folder is never followed


def test_a_page_without_chat_messages_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "x.html"
    page.write_text("<html><body>hello chatMessages</body></html>", "utf-8")
    with pytest.raises(SourceError, match="without MemoTrace's chat messages"):
        PhoneExport(page, format="wechat-html")


# --- ChatLab -----------------------------------------------------------------------------------


def chatlab(messages: list[dict[str, object]]) -> dict[str, object]:
    return {
        "chatlab": {"version": "0.0.2", "exportedAt": T0 + 86400, "generator": "test"},
        "meta": {
            "name": "乐贷客服",
            "platform": "wechat",
            "type": "private",
            "ownerId": "wxid_wangxm_1988",
        },
        "members": [
            {"platformId": "wxid_wangxm_1988", "accountName": "王小明"},
            {"platformId": WXID, "accountName": "乐贷LenderX客服", "aliases": ["乐贷客服"]},
        ],
        "messages": messages,
    }


CHATLAB_MESSAGES: list[dict[str, object]] = [
    {
        "sender": WXID,
        "accountName": "乐贷LenderX客服",
        "timestamp": 1719890403,
        "type": 0,
        "content": "您好，我是乐贷客服，工号KF1234。资料已收到，我们会尽快审核。"
        "KF1234 here: received, we are reviewing it.",
    },
    {
        "sender": "wxid_wangxm_1988",
        "accountName": "王小明",
        "timestamp": 1719890500,
        "type": 1,
        "content": None,
    },
    {
        "sender": WXID,
        "accountName": "乐贷LenderX客服",
        "timestamp": "soon",
        "type": 0,
        "content": "no time",
    },
]


def test_chatlab_json_reads_members_direction_and_matches_the_csv(
    archive: Archive, tmp_path: Path
) -> None:
    path = tmp_path / "乐贷客服.json"
    path.write_text(json.dumps(chatlab(CHATLAB_MESSAGES), ensure_ascii=False), "utf-8")
    assert detect_format(path) == "chatlab"
    report, _ = import_phone_export(archive, path)
    assert (report.added, report.failed) == (2, 1)
    assert "message 3" in report.errors[0].source
    agent, image = items(archive)
    assert (agent.direction, agent.sender) == ("in", f"wechat:{WXID}")
    assert (image.direction, image.body) == ("out", "[图片 image]")
    assert "wechat:乐贷客服" in agent.details["aliases"]
    # The agent's text is the same message the MemoTrace CSV holds: archived once.
    table, _ = import_phone_export(archive, CSV12)
    assert (table.added, table.duplicates) == (8, 1)


def test_chatlab_jsonl_streams_and_reports_a_broken_line(archive: Archive, tmp_path: Path) -> None:
    doc = chatlab(CHATLAB_MESSAGES[:2])
    lines = [
        json.dumps(
            {"_type": "header", "chatlab": doc["chatlab"], "meta": doc["meta"]}, ensure_ascii=False
        ),
        *(json.dumps({"_type": "member", **m}, ensure_ascii=False) for m in doc["members"]),  # type: ignore[attr-defined]
        "# exported for the test",
        *(json.dumps({"_type": "message", **m}, ensure_ascii=False) for m in CHATLAB_MESSAGES[:2]),
        '{"_type":"message","sender":"wxid_lenderx_kf01","timestamp":17198',
    ]
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    assert detect_format(path) == "chatlab"
    report, _ = import_phone_export(archive, path)
    assert (report.added, report.failed) == (2, 1)
    assert report.errors[0].source.endswith("line 7")
    again, _ = import_phone_export(archive, path)
    assert (again.added, again.duplicates) == (0, 2)


# --- cases -------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", [f"wechat:{WXID}", "wechat:乐贷客服", "WeChat: 乐贷客服 "])
def test_a_case_links_a_wechat_chat_by_wxid_or_remark(archive: Archive, who: str) -> None:
    import_phone_export(archive, CSV12)
    slug, linked = archive.create_case("乐贷 WeChat", rules=[rule_from_counterparty(who)])
    assert linked == 9  # in and out, system line included
    assert {i.direction for i in archive.timeline(slug)} == {"in", "out"}


def test_a_case_links_by_nickname_the_messages_that_carry_it(archive: Archive) -> None:
    # The 12-column CSV names the sender: the contact's nickname is on the contact's messages.
    import_phone_export(archive, CSV12)
    slug, linked = archive.create_case(
        "乐贷", rules=[rule_from_counterparty("wechat:乐贷LenderX客服")]
    )
    assert linked == 5
    assert {i.direction for i in archive.timeline(slug)} == {"in"}


def test_a_case_rule_links_wechat_messages_imported_later(archive: Archive) -> None:
    archive.create_case("乐贷", rules=[("address", f"wechat:{WXID}")])
    report, _ = import_phone_export(archive, CSV9)
    assert report.linked == 7


# --- detection and the command line ------------------------------------------------------------


def test_import_sms_detects_a_wechat_export(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evidence_archiver.cli import app

    db = tmp_path / "a.db"
    runner = CliRunner()
    result = runner.invoke(app, ["import", "sms", str(CSV12), "--archive", str(db), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["added"] == 9
    assert out["notes"][str(CSV12)][0] == "read as wechat-csv"


def test_import_wechat_takes_a_folder_and_says_what_it_did(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evidence_archiver.cli import app

    db = tmp_path / "a.db"
    runner = CliRunner()
    result = runner.invoke(
        app, ["import", "wechat", str(PHONE / "wechat"), "--archive", str(db), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["added"], out["duplicates"], out["failed"]) == (9, 9, 0)
    assert sorted(Path(p).name for p in out["notes"]) == ["乐贷客服.html", "乐贷客服_utf8.csv"]
    plain = runner.invoke(app, ["import", "wechat", str(CSV12), "--archive", str(db)])
    assert plain.exit_code == 0
    assert "0 new items" in " ".join(plain.output.split())


def test_import_wechat_refuses_what_is_not_a_wechat_export(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evidence_archiver.cli import app

    runner = CliRunner()
    db = tmp_path / "a.db"
    result = runner.invoke(
        app, ["import", "wechat", str(PHONE / "sms-20240705.xml"), "--archive", str(db)]
    )
    assert result.exit_code == 2
    assert "not as a WeChat export" in " ".join(result.output.split())
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["import", "wechat", str(empty), "--archive", str(db)])
    assert result.exit_code == 2
    assert "no WeChat export found" in " ".join(result.output.split())


def test_the_demo_case_holds_the_wechat_chat_with_the_agents_promise(archive: Archive) -> None:
    from evidence_archiver.demo import DEMO_SLUG, run_demo

    result = run_demo(archive)
    older = result.imports["wechat-20240705/乐贷客服_utf8.csv"]
    newer = result.imports["wechat/乐贷客服/乐贷客服_utf8.csv"]
    assert (older.added, newer.added, newer.duplicates, newer.failed) == (7, 2, 7, 0)
    chat = [i for i in archive.timeline(DEMO_SLUG) if i.source.connector == "wechat-csv"]
    assert len(chat) == 9
    promise = next(i for i in chat if "KF1234" in i.body and "同意" in i.body)
    assert promise.direction == "in"
    assert promise.occurred_at is not None
    assert promise.occurred_at.isoformat() == "2024-07-03T15:10:05+08:00"
    assert "10月15日" in promise.body
    assert sum(len(i.attachments) for i in chat) == 2  # the proof photo and the voice message


def test_a_page_whose_messages_come_after_a_long_style_sheet_is_still_detected(
    tmp_path: Path,
) -> None:
    text = PAGE.read_text(encoding="utf-8")
    padded = text.replace("<style>", "<style>" + ".bubble{color:#333}\n" * 2000, 1)
    page = tmp_path / PAGE.name
    page.write_text(padded, "utf-8")
    assert page.stat().st_size > 8192 * 4
    assert detect_format(page) == "wechat-html"
    from evidence_archiver.connectors.sms.wechat import wechat_exports

    assert wechat_exports(tmp_path) == [page]


@pytest.mark.parametrize("path", [CSV12, PAGE, CSV9], ids=lambda p: p.name)
def test_every_wechat_fixture_keeps_the_phone_reader_contract(path: Path) -> None:
    from test_sms_contract import check_contract

    assert check_contract(path) == (7 if path == CSV9 else 9)


def test_a_group_chat_names_each_member_and_links_by_the_group(
    archive: Archive, tmp_path: Path
) -> None:
    header = HEADER + ",Remark,NickName,Sender"
    room = "38988428513@chatroom"
    rows = [
        [*row(1, 1, "大家好", talker=room), "", "乐贷客服", WXID],
        [*row(2, 1, "请问延期怎么办理？", send=1, talker=room), "王小明", "王小明", "wxid_me"],
        # A transfer whose SubType column is 0: its XML says what it is.
        [
            *row(
                3,
                49,
                "<msg><appmsg><type>2000</type><wcpayinfo><feedesc>￥100.00</feedesc>"
                "</wcpayinfo></appmsg></msg>",
                talker=room,
            ),
            "",
            "乐贷客服",
            WXID,
        ],
    ]
    path = write_csv(tmp_path / "乐贷交流群_utf8.csv", rows, header=header)
    report, _ = import_phone_export(archive, path)
    assert (report.added, report.failed) == (3, 0)
    hello, question, transfer = items(archive)
    assert (hello.sender, hello.recipients) == (f"wechat:{WXID}", (f"wechat:{room}",))
    assert hello.title == "WeChat message from 乐贷客服 in 乐贷交流群"
    assert question.direction == "out"
    assert transfer.title.startswith("WeChat transfer")
    assert transfer.body == "[转账 transfer] ￥100.00"
    slug, linked = archive.create_case("群", rules=[rule_from_counterparty(f"wechat:{room}")])
    assert linked == 3
    _, by_member = archive.create_case("客服", rules=[rule_from_counterparty(f"wechat:{WXID}")])
    assert by_member == 2


def test_media_found_in_a_later_export_are_added_to_messages_archived_without_them(
    archive: Archive, tmp_path: Path
) -> None:
    alone = tmp_path / CSV9.name
    shutil.copy(CSV9, alone)  # the older export, first imported without its media folders
    import_phone_export(archive, alone)
    assert sum(len(i.attachments) for i in items(archive)) == 0
    report, _ = import_phone_export(archive, CSV12)  # the chat again, media beside it
    assert (report.added, report.duplicates) == (2, 7)
    image = next(i for i in items(archive) if i.title.startswith("WeChat image"))
    assert [a.media_type for a in image.attachments] == ["image/png"]
    assert sum(len(i.attachments) for i in items(archive)) == 2

    def added() -> int:
        return int(
            archive.conn.execute(
                "SELECT COUNT(*) FROM custody WHERE action = 'attachment_added'"
            ).fetchone()[0]
        )

    assert added() == 2
    assert archive.verify_custody() == []
    voice = next(i for i in items(archive) if i.title.startswith("WeChat voice"))
    assert [h.id for h in archive.search("41a7c3e0d2b54f16")] == [voice.id]
    again, _ = import_phone_export(archive, PAGE)  # the same media once more: nothing added
    assert again.duplicates == 9
    assert sum(len(i.attachments) for i in items(archive)) == 2
    assert added() == 2


def test_a_media_file_linking_out_of_the_export_folder_is_not_taken(
    archive: Archive, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not part of the chat", "utf-8")
    chat = tmp_path / "chat"
    (chat / "file").mkdir(parents=True)
    (chat / "file" / "还款计划.pdf").symlink_to(secret)
    xml = "<msg><appmsg><title>还款计划.pdf</title><type>6</type></appmsg></msg>"
    path = write_csv(chat / "乐贷客服_utf8.csv", [row(1, 49, xml, sub=6)])
    report, _ = import_phone_export(archive, path)
    assert report.added == 1
    (message,) = items(archive)
    assert message.attachments == ()
    assert message.details["missing_attachments"] == ["file 还款计划.pdf"]


def test_one_message_twice_in_one_batch_first_without_its_media_keeps_the_media(
    archive: Archive,
) -> None:
    from evidence_archiver.connectors.sms import PhoneExport

    with PhoneExport(CSV12) as export:
        captures = list(export.captures())
    image = next(c for c in captures if getattr(c, "attachments", ()))
    bare = type(image)(
        image.source, None, image.item, (), None, image.dedup_key, image.container_sha256
    )
    report = archive.ingest(
        [captures[0], bare, image], connector="wechat-csv", container=str(CSV12)
    )
    assert (report.added, report.duplicates) == (1, 1)
    (item,) = items(archive)
    assert len(item.attachments) == 1
