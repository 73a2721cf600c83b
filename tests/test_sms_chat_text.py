"""WhatsApp and Signal text exports: locales, clocks, day/month inference, continuations."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from evidence_archiver import Archive
from evidence_archiver.connectors.sms import detect_format, import_phone_export
from evidence_archiver.connectors.sms.chat_text import infer_order

PHONE = Path(__file__).resolve().parent.parent / "fixtures" / "phone"
CHAT = PHONE / "WhatsApp Chat with LenderX.txt"
BEIJING = timezone(timedelta(hours=8))

WHATSAPP_SAMPLES = {
    "test_whatsapp_test_[mmddyy]_24hrs.txt": "mdy",
    "test_whatsapp_test_ddmmyy_24hrs.txt": "dmy",
    "test_whatsapp_test_mmddyy_24hrs.txt": "mdy",
    "test_whatsapp_test_mmddyyyy_12hrs.txt": "mdy",
    "test_whatsapp_test_yyyymmdd_24hrs.txt": "ymd",
}


def _target(corpus: Path, name: str) -> set[tuple[str, str, str]]:
    rows = json.loads((corpus / "whatsapp_signal_chat-miner" / name).read_text(encoding="utf-8"))
    return {(r["timestamp"], r["author"], r["message"]) for r in rows}


def _seen(archive: Archive) -> set[tuple[str, str, str]]:
    return {
        (
            i.occurred_at.replace(tzinfo=None).isoformat() if i.occurred_at else "",
            i.sender_name,
            " ".join(i.body.split("\n")),
        )
        for i in archive.timeline()
        if "system" not in i.flags
    }


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(WHATSAPP_SAMPLES))
def test_every_whatsapp_sample_gives_the_expected_messages(
    corpus: Path, archive: Archive, name: str
) -> None:
    path = corpus / "whatsapp_signal_chat-miner" / name
    assert detect_format(path) == "whatsapp"
    report, notes = import_phone_export(archive, path, zone="UTC")
    assert (report.added, report.failed) == (9, 0)
    assert f"dates read as {'/'.join(WHATSAPP_SAMPLES[name].upper())}" in notes.lines[0]
    # chat-miner's expected messages (it drops the one-character message "." and system lines).
    assert _target(corpus, "test_whatsapp_target.json") <= _seen(archive)
    system = [i.body for i in archive.timeline() if "system" in i.flags]
    assert system == ['+12 345 578 created group "Groupname"', "You were added"]
    times = [i.occurred_at for i in archive.timeline()]
    assert times[0] == datetime(2019, 1, 1, 11, 25, tzinfo=UTC)
    assert times[-1] == datetime(2021, 12, 30, 22, 1, tzinfo=UTC)
    again, _ = import_phone_export(archive, path, zone="UTC")
    assert (again.added, again.duplicates) == (0, 9)


@pytest.mark.corpus
def test_signal_sample_gives_the_expected_messages(corpus: Path, archive: Archive) -> None:
    path = corpus / "whatsapp_signal_chat-miner" / "test_signal_test_export.txt"
    assert detect_format(path) == "signal"
    report, _ = import_phone_export(archive, path, zone="UTC")
    assert report.added == 2
    assert _target(corpus, "test_signal_target.json") == _seen(archive)
    assert archive.timeline()[1].body == "Hello\nJane!"  # the continuation line, as written
    again, _ = import_phone_export(archive, path, zone="UTC")
    assert again.added == 0


def test_fixture_chat_knows_who_wrote_what(archive: Archive) -> None:
    report, _ = import_phone_export(archive, CHAT, zone="Asia/Shanghai")
    assert report.added == 8
    items = archive.timeline()
    assert [i.direction for i in items] == ["unknown", "in", "out", "in", "out", "in", "in", "in"]
    assert items[0].flags == ("zone-assumed", "system")
    promise = items[1]
    assert promise.occurred_at == datetime(2024, 7, 3, 14, 21, tzinfo=BEIJING)
    assert promise.body.splitlines()[1] == "我们同意第4至6期各顺延三个月，第4期延至2024年10月15日。"
    assert promise.source.locator == "line 2"
    assert promise.thread_key == "chat:whatsapp:lenderx"
    assert "media-omitted" in items[5].flags
    # The same words twice in one minute are two messages, not a duplicate.
    assert items[6].body == items[7].body == "最后通知"


def test_newer_export_of_the_same_chat_adds_only_new_lines(
    tmp_path: Path, archive: Archive
) -> None:
    lines = CHAT.read_text(encoding="utf-8").splitlines(keepends=True)
    older = tmp_path / "WhatsApp Chat with LenderX.txt"
    older.write_text("".join(lines[:5]), encoding="utf-8")
    first, notes = import_phone_export(archive, older, zone="UTC", region="GB")
    assert first.added == 3
    assert "the order was taken from the region" in notes.lines[1]
    newer = tmp_path / "later" / "WhatsApp Chat with LenderX.txt"
    newer.parent.mkdir()
    newer.write_text("".join(lines), encoding="utf-8")
    second, _ = import_phone_export(archive, newer, zone="UTC", region="US")
    assert (second.added, second.duplicates) == (5, 3)


def test_ios_zip_with_attachment(tmp_path: Path, archive: Archive) -> None:
    photo = b"\xff\xd8\xff\xe0 not really a jpeg"
    path = tmp_path / "WhatsApp Chat - LenderX.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "_chat.txt",
            "[06/03/2024, 14:21:09] LenderX: 延期确认\n"
            "[06/03/2024, 14:21:30] LenderX: "
            "\u200e<attached: 00000001-PHOTO-2024-03-06-14-21-30.jpg>\n"
            "[06/03/2024, 14:22:00] Wang Fang: 收到\n",
        )
        z.writestr("00000001-PHOTO-2024-03-06-14-21-30.jpg", photo)
    assert detect_format(path) == "whatsapp"
    report, _ = import_phone_export(archive, path, zone="UTC", region="CN")
    assert report.added == 3
    with_photo = archive.timeline()[1]
    assert with_photo.attachments[0].filename == "00000001-PHOTO-2024-03-06-14-21-30.jpg"
    assert archive.read_original(with_photo.attachments[0].sha256) == photo
    assert with_photo.occurred_at == datetime(2024, 3, 6, 14, 21, 30, tzinfo=UTC)
    assert [i.direction for i in archive.timeline()] == ["in", "in", "out"]


def test_twelve_hour_clock_with_narrow_space(tmp_path: Path, archive: Archive) -> None:
    path = tmp_path / "WhatsApp Chat with Bank.txt"
    path.write_text(
        "3/6/24, 2:21\u202fPM - Bank: Your extension is approved\n"
        "3/6/24, 12:05\u202fAM - Bank: midnight reminder\n"
        "3/13/24, 12:30\u202fPM - Bank: noon reminder\n",
        encoding="utf-8",
    )
    import_phone_export(archive, path, zone="UTC")
    times = sorted(i.occurred_at for i in archive.timeline() if i.occurred_at)
    assert times == [
        datetime(2024, 3, 6, 0, 5, tzinfo=UTC),
        datetime(2024, 3, 6, 14, 21, tzinfo=UTC),
        datetime(2024, 3, 13, 12, 30, tzinfo=UTC),
    ]


def test_day_month_order_comes_from_the_whole_file() -> None:
    assert infer_order(["01/02/24", "13/02/24"], "US") == "dmy"  # 13 cannot be a month
    assert infer_order(["01/02/24", "01/13/24"], "CN") == "mdy"
    # Both orders are valid; only day-first keeps the chat in time order.
    assert infer_order(["05/01/24", "06/01/24", "01/02/24"], "US") == "dmy"
    assert infer_order(["01/02/24", "02/03/24"], "US") == "mdy"  # a tie: the region decides
    assert infer_order(["01/02/24", "02/03/24"], "CN") == "dmy"
    assert infer_order(["2024/03/06"], None) == "ymd"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("06/03/2024 à 14:21 - LenderX: bonjour", datetime(2024, 3, 6, 14, 21, tzinfo=UTC)),
        ("06.03.24, 14:21 - LenderX: hallo", datetime(2024, 3, 6, 14, 21, tzinfo=UTC)),
        ("2024/3/6 下午2:21 - 乐贷: 您好", datetime(2024, 3, 6, 14, 21, tzinfo=UTC)),
        ("2024/3/6 上午12:05 - 乐贷: 凌晨提醒", datetime(2024, 3, 6, 0, 5, tzinfo=UTC)),
        ("[06/03/2024, 14:21:09] LenderX: hi", datetime(2024, 3, 6, 14, 21, 9, tzinfo=UTC)),
    ],
)
def test_locales_seen_in_exports(
    tmp_path: Path, archive: Archive, line: str, expected: datetime
) -> None:
    path = tmp_path / "WhatsApp Chat with LenderX.txt"
    path.write_text(line + "\n", encoding="utf-8")
    assert detect_format(path) == "whatsapp"
    report, _ = import_phone_export(archive, path, zone="UTC", region="CN")
    assert report.added == 1
    assert archive.timeline()[0].occurred_at == expected


def test_a_system_line_with_a_colon_is_not_an_author(tmp_path: Path, archive: Archive) -> None:
    path = tmp_path / "WhatsApp Chat with LenderX.txt"
    path.write_text(
        "06/03/2024, 14:20 - LenderX changed the subject to: Loan LX-2023-0457\n"
        "06/03/2024, 14:21 - LenderX: extension agreed\n"
        "06/03/2024, 14:22 - Wang Fang: thanks\n",
        encoding="utf-8",
    )
    import_phone_export(archive, path, zone="UTC", region="CN")
    system, agreed, thanks = archive.timeline()
    assert "system" in system.flags
    assert system.body == "LenderX changed the subject to: Loan LX-2023-0457"
    assert (agreed.direction, thanks.direction) == ("in", "out")
