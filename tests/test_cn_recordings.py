"""Call recordings as Chinese phones write them (MIUI/HyperOS, EMUI/HarmonyOS, ColorOS, vivo):
their folders and names read for number, contact and start time in the phone's zone, and linked
to the call-log entry whose span holds that start. The recordings are silent files made from
the format specifications (``fixtures/tiny_audio.py``) in the folders the phones use; the call
log is an SMS Backup & Restore calls file."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES
from evidence_archiver import Archive
from evidence_archiver.archive.records import ItemRecord
from evidence_archiver.cli import app
from evidence_archiver.connectors.sms import import_phone_export
from evidence_archiver.documents import import_files
from evidence_archiver.extract.recordings import parse_recording_name
from evidence_archiver.extract.sandbox import Limits
from evidence_archiver.reindex import link_recordings

sys.path.insert(0, str(FIXTURES))
from tiny_audio import silent_amr, silent_mp3, silent_wav  # noqa: E402

BEIJING = timezone(timedelta(hours=8))
LIMITS = Limits(seconds=120)


def at(hour: int, minute: int, second: int = 0, day: int = 3) -> datetime:
    return datetime(2024, 7, day, hour, minute, second, tzinfo=BEIJING)


# --- the names, one layout at a time ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "system", "number", "contact", "local"),
    [
        # MIUI: contact(number)_yyyyMMddHHmmss, in MIUI/sound_recorder/call_rec
        (
            "MIUI/sound_recorder/call_rec/张三(13800138000)_20240703140210.mp3",
            "miui",
            "+8613800138000",
            "张三",
            "2024-07-03T14:02:10",
        ),
        # an unknown caller: the number twice
        ("13800138000(13800138000)_20240703140210.mp3", "miui", "+8613800138000", "", None),
        # older MIUI: a localised prefix and @
        ("通话录音@张三(13800138000)_20240703140210.mp3", "miui", "+8613800138000", "张三", None),
        # + is written 00
        ("Bob(0014155550100)_20240703140210.mp3", "miui", "+14155550100", "Bob", None),
        # a bank's hotline keeps its digits
        ("招商银行(95555)_20240703140210.mp3", "miui", "95555", "招商银行", None),
        # a number with a label instead of a contact
        ("112(紧急号码)_20240703140210.mp3", "miui", "112", "紧急号码", None),
        # a conference call: the first party
        (
            "@张三(13800138000)_李四(13900139000)_20240703140210.mp3",
            "miui",
            "+8613800138000",
            "张三",
            None,
        ),
        # HyperOS's folder
        (
            "Android/media/com.miui.voiceassistantsdk/SoundRecorder/call_rec/"
            "张三(13800138000)_20240703140210.m4a",
            "miui",
            "+8613800138000",
            "张三",
            None,
        ),
        # EMUI / HarmonyOS / MagicOS: [contact@]number_yyyyMMddHHmmss in Sounds/CallRecord
        ("Sounds/CallRecord/13800138000_20240703140210.amr", "emui", "+8613800138000", "", None),
        (
            "HarmonyOS/Sounds/CallRecord/张三@13800138000_20240703140210.m4a",
            "emui",
            "+8613800138000",
            "张三",
            "2024-07-03T14:02:10",
        ),
        # ColorOS: who-yyMMddHHmm (minutes only) in Music/Recordings/Call Recordings
        (
            "Music/Recordings/Call Recordings/张三-2407031402.mp3",
            "coloros",
            "",
            "张三",
            "2024-07-03T14:02:00",
        ),
        ("13800138000-2407031402.mp3", "coloros", "+8613800138000", "", None),
        # vivo: Record/Call, the number and time read by the generic rule
        ("Record/Call/13800138000_20240703140210.m4a", "vivo", "+8613800138000", "", None),
        (
            "Record/Call/通话录音 13800138000 20240703_140210.aac",
            "vivo",
            "+8613800138000",
            "",
            None,
        ),
    ],
)
def test_each_phone_layout_gives_number_contact_and_time(
    path: str, system: str, number: str, contact: str, local: str | None
) -> None:
    name = parse_recording_name(path)
    assert name is not None
    assert (name.system, name.number, name.contact, name.problem) == (system, number, contact, None)
    assert name.local_time is not None
    if local:
        assert name.local_time.isoformat() == local


def test_names_are_read_in_the_phones_zone() -> None:
    name = parse_recording_name("张三(13800138000)_20240703140210.mp3")
    assert name is not None
    assert name.started("Asia/Shanghai") == datetime(2024, 7, 3, 6, 2, 10, tzinfo=UTC)
    assert name.started("Europe/Berlin") == datetime(2024, 7, 3, 12, 2, 10, tzinfo=UTC)
    assert name.started(None) is None


@pytest.mark.parametrize(
    ("path", "system"),
    [
        ("张三(13800138000)_20241345140210.mp3", "miui"),  # month 13
        ("Sounds/CallRecord/13800138000_20240230140210.amr", "emui"),  # 30 February
        ("Music/Recordings/Call Recordings/13800138000-2407032561.mp3", "coloros"),  # 25:61
        ("Call recording +8613800138000_20240703_256161.m4a", "generic"),
    ],
)
def test_an_impossible_date_keeps_the_number_and_says_why(path: str, system: str) -> None:
    name = parse_recording_name(path)
    assert name is not None
    assert name.system == system
    assert name.number == "+8613800138000"
    assert name.local_time is None
    assert name.problem is not None
    assert "not a real date" in name.problem


@pytest.mark.parametrize(
    "path",
    [
        "..\\..\\Windows\\System32\\张三(13800138000)_20240703140210.mp3",
        "call_rec/..张三/..(13800138000)_20240703140210.mp3",
        "call_rec/张三\x00\x1b[31m(13800138000)_20240703140210.mp3",
    ],
)
def test_a_name_cannot_smuggle_a_path_into_the_contact(path: str) -> None:
    name = parse_recording_name(path)
    assert name is not None
    assert name.number == "+8613800138000"
    for bad in ("/", "\\", "..", "\x00", "\x1b"):
        assert bad not in name.contact


def test_other_names_give_nothing() -> None:
    assert parse_recording_name("holiday.mp3") is None
    assert parse_recording_name("Music/Recordings/Call Recordings/song-mix.mp3") is None


# --- a phone's storage copied to the computer, and its call log -----------------------------


def call_line(number: str, start: datetime, seconds: int, kind: str = "2") -> str:
    ms = int(start.timestamp() * 1000)
    readable = start.strftime("%b %-d, %Y %-I:%M:%S %p")
    return (
        f'  <call number="{number}" duration="{seconds}" date="{ms}" type="{kind}" '
        f'presentation="1" readable_date="{readable}" contact_name="null" />\n'
    )


CALLS = [
    ("+86 138 0013 8000", at(14, 2), 420),  # MIUI recording at 14:02:10
    ("13800138000", at(14, 20), 30),  # a short later call to the same number
    ("13900139000", at(15, 30), 60),  # Huawei recording at 15:30:05 (clock 5 s ahead)
    ("+86 137 0013 7000", at(16, 9, 50), 300),  # ColorOS: minute 16:10
    ("13600136000", at(17, 0, 12), 90),  # vivo recording 10 s early: clock skew
    ("95555", at(9, 15), 200),  # the bank's hotline
    ("13800138000", at(18, 0), 600),  # two calls in a row...
    ("13800138000", at(18, 10, 30), 120),  # ...the recording at 18:10:33 is of this one
]


def write_call_log(folder: Path) -> Path:
    path = folder / "calls-20240704.xml"
    lines = "".join(call_line(n, t, d) for n, t, d in CALLS)
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        f'<calls count="{len(CALLS)}">\n{lines}</calls>\n',
        encoding="utf-8",
    )
    return path


RECORDINGS = {
    # path under the phone's storage root: (audio, the call it is of: index in CALLS or None)
    "MIUI/sound_recorder/call_rec/乐贷 LenderX(13800138000)_20240703140210.mp3": (
        silent_mp3(4),
        0,
    ),
    "Sounds/CallRecord/13900139000_20240703153005.amr": (silent_amr(3), 2),
    "Music/Recordings/Call Recordings/13700137000-2407031610.mp3": (silent_mp3(2), 3),
    "Record/Call/13600136000_20240703170002.wav": (silent_wav(1), 4),
    "MIUI/sound_recorder/call_rec/招商银行(95555)_20240703091508.mp3": (silent_mp3(1), 5),
    "MIUI/sound_recorder/call_rec/13800138000(13800138000)_20240703181033.mp3": (
        silent_mp3(1.5),
        7,
    ),
    # no call at 20:00 in the log: stays a recording of its own
    "MIUI/sound_recorder/call_rec/张三(13500135000)_20240703200000.mp3": (silent_mp3(0.5), None),
}


def phone_storage(root: Path) -> Path:
    for relative, (audio, _) in RECORDINGS.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(audio)
    return root


def recordings_by_name(archive: Archive) -> dict[str, ItemRecord]:
    return {r.details["file"]["name"]: r for r in archive.timeline(kind="file")}


def test_recordings_are_linked_to_the_call_whose_time_span_holds_their_start(
    tmp_path: Path, archive: Archive
) -> None:
    import_phone_export(archive, write_call_log(tmp_path), region="CN")
    ids = {r.occurred_at: r.id for r in archive.timeline(kind="call")}
    calls = [ids[start] for _, start, _ in CALLS]
    storage = phone_storage(tmp_path / "phone")
    report = import_files(archive, [storage], ocr=None, limits=LIMITS)
    assert (report.added, report.failed) == (len(RECORDINGS), 0)
    items = recordings_by_name(archive)
    for relative, (_, call) in RECORDINGS.items():
        record = items[Path(relative).name]
        linked = record.details["recording"].get("call_item_id")
        assert linked == (calls[call] if call is not None else None), relative
    miui = items["乐贷 LenderX(13800138000)_20240703140210.mp3"]
    assert miui.occurred_at == at(14, 2, 10)
    assert (miui.sender, miui.sender_name) == ("+8613800138000", "乐贷 LenderX")
    assert miui.thread_key == "phone:+8613800138000"
    assert miui.title == "Call recording with 乐贷 LenderX (+8613800138000)"
    assert miui.details["recording"]["system"] == "miui"
    assert miui.details["recording"]["zone"] == "Asia/Shanghai"
    assert miui.details["audio"]["duration_seconds"] == 4.0
    huawei = items["13900139000_20240703153005.amr"]
    assert huawei.details["audio"] == {
        "format": "AMR",
        "duration_seconds": 3.0,
        "sample_rate": 8000,
        "channels": 1,
    }
    assert items["13700137000-2407031610.mp3"].details["recording"]["resolution_seconds"] == 60
    assert items["13600136000_20240703170002.wav"].details["recording"]["system"] == "vivo"
    bank = items["招商银行(95555)_20240703091508.mp3"]
    assert (bank.sender, bank.sender_name) == ("95555", "招商银行")
    # Unmatched: its own item, with the number and the time its name gave.
    alone = items["张三(13500135000)_20240703200000.mp3"]
    assert alone.occurred_at == at(20, 0)
    assert alone.sender == "+8613500135000"
    assert link_recordings(archive) == 0  # nothing left to do
    again = import_files(archive, [storage], ocr=None, limits=LIMITS)
    assert (again.added, again.duplicates) == (0, len(RECORDINGS))
    for relative, audio in ((r, a) for r, (a, _) in RECORDINGS.items()):
        record = items[Path(relative).name]
        assert archive.read_original(record.original_sha256 or "") == audio


def test_recordings_imported_before_the_call_log_are_linked_by_reindex(
    tmp_path: Path, archive: Archive
) -> None:
    storage = phone_storage(tmp_path / "phone")
    import_files(archive, [storage], ocr=None, limits=LIMITS)
    assert not any("call_item_id" in r.details["recording"] for r in archive.timeline(kind="file"))
    import_phone_export(archive, write_call_log(tmp_path), region="CN")
    assert link_recordings(archive) == len(RECORDINGS) - 1


def test_a_case_rule_on_the_number_links_the_recording(tmp_path: Path, archive: Archive) -> None:
    import_files(archive, [phone_storage(tmp_path / "phone")], ocr=None, limits=LIMITS)
    _, linked = archive.create_case("Bank", rules=[("phone", "+86 95555")])
    assert linked == 1
    _, linked = archive.create_case("Agent", rules=[("phone", "+86 138 0013 8000")])
    assert linked == 2


def test_the_phones_zone_can_be_told(tmp_path: Path, archive: Archive) -> None:
    import_phone_export(archive, write_call_log(tmp_path), region="CN")
    folder = tmp_path / "MIUI" / "sound_recorder" / "call_rec"
    folder.mkdir(parents=True)
    # The same phone, set to Berlin time: its 08:02:10 is Beijing's 14:02:10.
    (folder / "乐贷 LenderX(13800138000)_20240703080210.mp3").write_bytes(silent_mp3(1))
    import_files(archive, [folder], ocr=None, limits=LIMITS, zone="Europe/Berlin")
    [record] = archive.timeline(kind="file")
    assert record.occurred_at == at(14, 2, 10)
    assert record.details["recording"]["zone"] == "Europe/Berlin"
    assert "call_item_id" in record.details["recording"]


def test_bad_recordings_are_kept_with_the_reason_and_the_rest_imported(
    tmp_path: Path, archive: Archive
) -> None:
    import_phone_export(archive, write_call_log(tmp_path), region="CN")
    folder = phone_storage(tmp_path / "phone") / "MIUI" / "sound_recorder" / "call_rec"
    bad = {
        "张三(13800138000)_20241345140210.mp3": silent_mp3(1.1),  # month 13
        "李四(13900139000)_20240703153005.amr": silent_amr(2)[:40] + b"\x3c",  # cut mid-frame
        "王五(13700137000)_20240703161000.mp3": b"\x13\x37 not an mp3 at all " * 20,
        "x\\..\\..\\etc\\passwd(13600136000)_20240703170002.mp3": silent_mp3(0.7),
    }
    for name, data in bad.items():
        (folder / name).write_bytes(data)
    report = import_files(archive, [tmp_path / "phone"], ocr=None, limits=LIMITS)
    reasons = {Path(e.source).name: e.reason for e in report.errors}
    # Archived all: the good ones, and the bad ones with their reason (the hostile name is
    # read safely, not refused).
    assert (report.added, report.failed) == (len(RECORDINGS) + 1, 3), reasons
    month = reasons["张三(13800138000)_20241345140210.mp3"]
    assert "MIUI/HyperOS (Xiaomi) call recording but 20241345140210 is not a real date" in month
    assert reasons["李四(13900139000)_20240703153005.amr"].startswith(
        "kept unparsed: not a readable audio file: the last AMR frame is cut short"
    )
    assert reasons["王五(13700137000)_20240703161000.mp3"] == (
        "kept unparsed: not a readable audio file: its content is text/plain, not sound"
    )
    items = recordings_by_name(archive)
    undated = items["张三(13800138000)_20241345140210.mp3"]
    assert (undated.occurred_at, undated.sender) == (None, "+8613800138000")
    assert "call_item_id" not in undated.details["recording"]
    # A damaged recording still says whose call it was, and when.
    cut = items["李四(13900139000)_20240703153005.amr"]
    assert cut.occurred_at == at(15, 30, 5)
    hostile = items["x\\..\\..\\etc\\passwd(13600136000)_20240703170002.mp3"]
    assert hostile.sender_name == "passwd"
    assert hostile.title == "Call recording with passwd (+8613600136000)"
    for name, data in bad.items():
        assert archive.read_original(items[name].original_sha256 or "") == data
    again = import_files(archive, [tmp_path / "phone"], ocr=None, limits=LIMITS)
    assert (again.added, again.duplicates) == (0, len(RECORDINGS) + len(bad))


def test_import_file_from_the_command_line(tmp_path: Path, archive_path: Path) -> None:
    runner = CliRunner()
    env = {"EVIDENCE_ARCHIVE": str(archive_path)}
    calls = write_call_log(tmp_path)
    result = runner.invoke(app, ["import", "sms", str(calls), "--region", "CN"], env=env)
    assert result.exit_code == 0, result.output
    storage = phone_storage(tmp_path / "phone")
    args = ["import", "file", str(storage), "--tz", "Asia/Shanghai", "--no-ocr", "--json"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["added"] == len(RECORDINGS)
    with Archive(archive_path) as arch:
        miui = recordings_by_name(arch)["乐贷 LenderX(13800138000)_20240703140210.mp3"]
    shown = runner.invoke(app, ["show", str(miui.id)], env=env).output
    call = miui.details["recording"]["call_item_id"]
    assert f"Recording of: call #{call}" in shown
    assert "Call recording with 乐贷 LenderX (+8613800138000)" in shown
    (storage / "Sounds" / "CallRecord" / "13900139000_20240230140210.amr").write_bytes(
        silent_amr(1)
    )
    result = runner.invoke(app, [*args[:-1], "--json"], env=env)
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert (out["added"], out["duplicates"], out["failed"]) == (0, len(RECORDINGS), 1)
    assert "20240230140210 is not a real date" in out["errors"][0]["reason"]
    result = runner.invoke(app, ["import", "file", str(storage), "--tz", "Mars/Olympus"], env=env)
    assert result.exit_code == 2
    assert "unknown time zone 'Mars/Olympus'" in result.output
    help_text = runner.invoke(app, ["import", "file", "--help"]).output
    assert "MIUI/sound_recorder/call_rec" in help_text
