"""SMS Backup & Restore XML: every corpus sample, hostile XML, repairs, damage, dedup, media."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from evidence_archiver import Archive
from evidence_archiver.connectors.sms import PhoneExport, detect_format, import_phone_export
from evidence_archiver.connectors.sms.backup_xml import (
    CharRefRepair,
    HostileXml,
    MediaLift,
    SmsBackupReader,
)
from evidence_archiver.connectors.sms.common import SPOOL_THRESHOLD, epoch_to_datetime
from evidence_archiver.errors import SourceError
from evidence_archiver.hashing import sha256_file
from evidence_archiver.model import Capture, ImportProblem

PHONE = Path(__file__).resolve().parent.parent / "fixtures" / "phone"
BEIJING = timezone(timedelta(hours=8))

# file -> (added, failed reasons that must appear, kinds, first and last time in UTC)
CORPUS_SAMPLES = {
    "sms-backup-restore_devadvance/packages_lib_test-assets_sms_and_mms.xml": (
        49,
        ["cut short", "says it holds 58 messages but 49 were read"],
        {"sms": 41, "mms": 8},
        datetime(2017, 12, 2, 14, 49, 27, 463000, tzinfo=UTC),
        datetime(2024, 7, 17, 21, 37, 26, tzinfo=UTC),
    ),
    "sms-backup-restore_devadvance/packages_lib_test-assets_sms_small.xml": (
        12,
        [],
        {"sms": 12},
        datetime(2017, 12, 2, 14, 49, 27, 463000, tzinfo=UTC),
        datetime(2017, 12, 2, 18, 10, 45, 524000, tzinfo=UTC),
    ),
    "sms-backup-restore_devadvance/tests_e2e_fixtures_corrupt_attachments.xml": (
        2,
        ["corrupt_image.png (image/png) is not valid base64", "corrupt.file"],
        {"mms": 2},
        datetime(2024, 7, 16, 20, 29, 28, tzinfo=UTC),
        datetime(2024, 7, 16, 20, 29, 29, tzinfo=UTC),
    ),
    "sms-backup-restore_devadvance/tests_e2e_fixtures_empty.xml": (0, [], {}, None, None),
    "sms-backup-restore_devadvance/tests_e2e_fixtures_sample_mms.xml": (
        4,
        [],
        {"mms": 4},
        datetime(2024, 7, 16, 20, 29, 24, tzinfo=UTC),
        datetime(2024, 7, 16, 20, 29, 27, tzinfo=UTC),
    ),
    "sms-backup-restore_devadvance/tests_e2e_fixtures_sample_small.xml": (
        7,
        [],
        {"sms": 5, "mms": 2},
        datetime(2017, 12, 2, 14, 49, 27, 463000, tzinfo=UTC),
        datetime(2024, 7, 14, 23, 4, 3, tzinfo=UTC),
    ),
    "sms-backup-restore_shruggietech/tests_fixtures_edge_cases.xml": (
        4,
        [],
        {"sms": 3, "mms": 1},
        datetime(2021, 1, 1, 0, 0, tzinfo=UTC),
        datetime(2021, 1, 1, 3, 0, tzinfo=UTC),
    ),
    "sms-backup-restore_shruggietech/tests_fixtures_malformed.xml": (
        0,
        ["damaged at line 4", "says it holds 1 messages but 0 were read"],
        {},
        None,
        None,
    ),
    "sms-backup-restore_shruggietech/tests_fixtures_minimal_calls.xml": (
        1,
        [],
        {"call": 1},
        datetime(2021, 1, 3, 0, 0, tzinfo=UTC),
        datetime(2021, 1, 3, 0, 0, tzinfo=UTC),
    ),
    "sms-backup-restore_shruggietech/tests_fixtures_minimal_mms.xml": (
        1,
        [],
        {"mms": 1},
        datetime(2021, 1, 2, 0, 0, tzinfo=UTC),
        datetime(2021, 1, 2, 0, 0, tzinfo=UTC),
    ),
    "sms-backup-restore_shruggietech/tests_fixtures_minimal_sms.xml": (
        1,
        [],
        {"sms": 1},
        datetime(2021, 1, 1, 0, 0, tzinfo=UTC),
        datetime(2021, 1, 1, 0, 0, tzinfo=UTC),
    ),
    "sms-backup-restore_shruggietech/tests_fixtures_mixed.xml": (
        4,
        [],
        {"sms": 3, "mms": 1},
        datetime(2021, 1, 1, 0, 0, tzinfo=UTC),
        datetime(2021, 1, 1, 3, 0, tzinfo=UTC),
    ),
}

ADVERSARIAL = [
    "defusedxml-cyclic.xml",
    "defusedxml-dtd.xml",
    "defusedxml-external.xml",
    "defusedxml-quadratic.xml",
    "defusedxml-xmlbomb.xml",
    "defusedxml-xmlbomb2.xml",
]


def _write(tmp_path: Path, name: str, body: str, count: int | None = None) -> Path:
    header = f' count="{count}"' if count is not None else ""
    path = tmp_path / name
    path.write_text(
        f"<?xml version='1.0' encoding='UTF-8' ?>\n<smses{header}>\n{body}</smses>\n",
        encoding="utf-8",
    )
    return path


def _sms(date: int, body: str, address: str = "+8613800138000", kind: int = 1) -> str:
    return f'  <sms address="{address}" date="{date}" type="{kind}" body="{body}" />\n'


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(CORPUS_SAMPLES))
def test_every_corpus_backup_imports_with_counts_and_dates(
    corpus: Path, archive: Archive, name: str
) -> None:
    added, reasons, kinds, first, last = CORPUS_SAMPLES[name]
    path = corpus / name
    assert detect_format(path) == "sms-backup-restore"
    report, _ = import_phone_export(archive, path, region="US")
    assert report.added == added
    assert report.failed == len(reasons)
    for expected in reasons:
        assert any(expected in e.reason for e in report.errors), (expected, report.errors)
    assert archive.status()["items"] == kinds
    times = [i.occurred_at for i in archive.timeline()]
    if first is not None:
        assert min(t for t in times if t) == first
        assert max(t for t in times if t) == last
    # The backup itself is kept byte for byte and every item points back into it.
    container = [i.container_sha256 for i in archive.timeline()]
    sha, _ = sha256_file(path)
    assert archive.read_original(sha) == path.read_bytes()
    assert set(container) <= {sha}
    again, _ = import_phone_export(archive, path, region="US")
    assert again.added == 0
    assert again.duplicates == added


@pytest.mark.corpus
@pytest.mark.parametrize("name", ADVERSARIAL)
def test_hostile_xml_is_refused_before_anything_is_stored(
    corpus: Path, archive: Archive, name: str
) -> None:
    path = corpus / "adversarial" / "xml" / name
    assert detect_format(path) == "sms-backup-restore"
    with pytest.raises(HostileXml, match="refused"):
        import_phone_export(archive, path)
    status = archive.status()
    assert status["total"] == 0
    assert status["originals"] == 0
    assert status["imports"] == 0


def test_foreign_xml_is_refused_with_the_root_element_named(tmp_path: Path) -> None:
    path = tmp_path / "notes.xml"
    path.write_text("<?xml version='1.0'?><notes><note/></notes>", encoding="utf-8")
    with pytest.raises(SourceError, match="root element is <notes>"):
        PhoneExport(path)


def test_surrogate_pair_emoji_is_repaired_and_recorded(tmp_path: Path, archive: Archive) -> None:
    path = _write(
        tmp_path,
        "sms.xml",
        _sms(1709704960000, "OK &#55357;&#56397; thanks")
        + _sms(1709704970000, "plain")
        + _sms(1709704980000, "broken &#55357; half"),
        count=3,
    )
    report, notes = import_phone_export(archive, path)
    assert report.added == 3
    first, second, third = archive.timeline()
    assert first.body == "OK \U0001f44d thanks"
    assert "emoji-repaired" in first.flags
    assert first.details["repairs"] == 1
    assert second.flags == ()
    assert third.body == "broken \ufffd half"
    assert "character-replaced" in third.flags
    assert any("repaired 1 emoji" in line for line in notes.lines)


@pytest.mark.parametrize("step", [1, 3, 7, 16])
def test_repair_works_whatever_the_chunk_boundaries(step: int) -> None:
    data = b'<a b="x&#55357;&#56397;y&#x1F44D;z&#xD83D;&#xDC4D;&#1;&#10;"/>'
    repair = CharRefRepair()
    out = b"".join(repair.feed(data[i : i + step]) for i in range(0, len(data), step))
    out += repair.feed(b"", final=True)
    assert out == b'<a b="x&#128077;y&#x1F44D;z&#128077;&#65533;&#10;"/>'
    assert (repair.emoji, repair.replaced) == (2, 1)


def _mms_with(data: str, extra: str = "", date: int = 1709704960000) -> str:
    return (
        f'  <mms date="{date}" msg_box="1" address="+8613800138000">\n'
        f'    <parts><part ct="image/png" name="p.png" data="{data}"{extra} /></parts>\n'
        "  </mms>\n"
    )


@pytest.mark.parametrize("step", [1, 5, 4096, 5000, 1 << 20])
def test_media_are_lifted_out_whole_whatever_the_chunk_boundaries(step: int) -> None:
    big = base64.b64encode(bytes(range(256)) * 40).decode()  # 13,656 characters
    short = base64.b64encode(b"tiny").decode()
    spaced = big[:5000] + " " + big[5000:]  # not one run: left to expat
    data = (
        f'<smses>\n<part data="{big}" />\n<part data="{short}"/><part data="{spaced}"/>'
        f"<part  data=\"{big}\"/><part data='{big}'/>\n</smses>"
    ).encode()
    lift = MediaLift()
    pieces = [lift.feed(data[i : i + step]) for i in range(0, len(data), step)]
    out = b"".join(pieces) + lift.feed(b"", final=True)
    attr = lift.attr.encode()
    assert out == (
        b'<smses>\n<part data="" ' + attr + b'="0" />\n<part data="' + short.encode() + b'"/>'
        b'<part data="' + spaced.encode() + b'"/><part  data="" ' + attr + b'="1"/>'
        b"<part data='" + big.encode() + b"'/>\n</smses>"
    )
    assert lift.take("0") == lift.take("1") == big.encode()
    # Line 3 lost the 13,656 characters of the value cut after column 22 (counting from 0).
    assert lift.columns_removed(2, 100) == len(big) + 2 - len(b'"" ' + attr + b'="0"')
    assert lift.columns_removed(3, 1) == 0


def test_a_file_cannot_pose_as_lifted_media(tmp_path: Path, archive: Archive) -> None:
    # The attribute's name carries a random nonce: one written in the file is just an attribute.
    forged = ' evidence-media-0000000000000000="0"'
    big = base64.b64encode(b"\x89PNG" + bytes(8000)).decode()
    path = _write(tmp_path, "mms.xml", _mms_with(big) + _mms_with("aGk=", forged, 1709704970000))
    report, _ = import_phone_export(archive, path)
    assert (report.added, report.failed) == (2, 0)
    first, second = archive.timeline()
    assert archive.read_original(first.attachments[0].sha256) == base64.b64decode(big)
    assert archive.read_original(second.attachments[0].sha256) == b"hi"


def test_damage_on_a_line_with_lifted_media_is_reported_at_its_column_in_the_file(
    tmp_path: Path, archive: Archive
) -> None:
    big = base64.b64encode(bytes(9000)).decode()
    line = f'    <parts><part ct="image/png" data="{big}" /><oops x=1/></parts>\n'
    body = f'  <mms date="1709704960000" msg_box="1" address="1">\n{line}  </mms>\n'
    path = _write(tmp_path, "mms.xml", body + _sms(1709704970000, "after"))
    report, _ = import_phone_export(archive, path)
    column = line.index("x=1") + 3  # expat stops at the unquoted value; columns count from 1
    assert [e.reason for e in report.errors][0].startswith(
        f"the file is damaged at line 4, column {column}: not well-formed"
    )
    assert [i.body for i in archive.timeline()] == ["after"]


def test_media_of_records_that_are_skipped_are_not_kept(tmp_path: Path) -> None:
    big = base64.b64encode(bytes(9000)).decode()
    unclosed = (
        '  <mms date="1709704960000" msg_box="1" address="1">\n'
        f'    <parts><part ct="image/png" data="{big}" /></parts>\n'
    )
    stray = f'  <part ct="image/png" data="{big}" />\n'
    path = _write(tmp_path, "mms.xml", unclosed + _sms(1709704970000, "next") + stray)
    reader = SmsBackupReader(path)
    entries = list(reader.captures())
    assert [c.item.body for c in entries if isinstance(c, Capture) and c.item] == ["next"]
    assert not reader._media._values  # noqa: SLF001 - what it holds is the point


def test_overlapping_newer_backup_adds_only_new_messages(archive: Archive) -> None:
    first, _ = import_phone_export(archive, PHONE / "sms-20240705.xml", region="CN")
    assert (first.added, first.duplicates, first.failed) == (5, 0, 0)
    second, _ = import_phone_export(archive, PHONE / "sms-20240820.xml", region="CN")
    assert (second.added, second.duplicates, second.failed) == (4, 5, 0)
    again, _ = import_phone_export(archive, PHONE / "sms-20240820.xml", region="CN")
    assert (again.added, again.duplicates) == (0, 9)
    assert archive.status()["items"] == {"mms": 1, "sms": 8}
    assert archive.status()["originals"] == 3  # two backups and the MMS picture


def test_numbers_in_any_written_form_share_one_thread_and_match_a_case(archive: Archive) -> None:
    import_phone_export(archive, PHONE / "sms-20240820.xml", region="CN")
    import_phone_export(archive, PHONE / "calls-20240820.xml", region="CN")
    agent = [i for i in archive.timeline() if i.thread_key == "phone:+8613800138000"]
    # Written as "+86 138 0013 8000", "13800138000" and "0086 138 0013 8000" in the files.
    assert len(agent) == 10
    slug, linked = archive.create_case("LenderX extension", rules=[("phone", "0086 138 0013 8000")])
    assert linked == 10
    hits = archive.search("延期", case=slug)
    assert len(hits) >= 3


def test_phone_zone_comes_from_the_readable_date(archive: Archive) -> None:
    import_phone_export(archive, PHONE / "sms-20240820.xml", region="CN")
    promise = archive.search("instalment")[0]
    item = archive.item(promise.id)
    assert item.occurred_at == datetime(2024, 7, 3, 14, 2, 40, tzinfo=BEIJING)
    assert item.occurred_at is not None
    assert item.occurred_at.utcoffset() == timedelta(hours=8)
    assert item.direction == "in"
    assert item.sender == "+8613800138000"
    assert item.sender_name == "乐贷 LenderX"
    assert item.source.locator == "element 3 (line 6)"


def test_mms_media_become_attachments_with_their_own_originals(archive: Archive) -> None:
    import_phone_export(archive, PHONE / "sms-20240705.xml", region="CN")
    (mms,) = archive.timeline(kind="mms")
    assert mms.direction == "out"
    assert mms.body == "附上离职证明。Attached: proof that I lost my job."
    assert mms.recipients == ("+8613800138000",)
    (picture,) = mms.attachments
    assert picture.filename == "proof.png"
    assert picture.media_type == "image/png"
    assert archive.read_original(picture.sha256).startswith(b"\x89PNG")


def test_calls_keep_direction_duration_and_missed_or_rejected(archive: Archive) -> None:
    import_phone_export(archive, PHONE / "calls-20240820.xml", region="CN")
    calls = archive.timeline(kind="call")
    assert [(c.direction, c.details["call_type"], c.details["duration_s"]) for c in calls] == [
        ("out", "outgoing", 420),
        ("in", "incoming", 95),
        ("in", "missed", 0),
        ("in", "rejected", 0),
    ]
    assert calls[2].flags == ("missed",)
    assert calls[0].title == "Outgoing call to 乐贷 LenderX (7 min 0 s)"


@pytest.mark.parametrize("in_child", [False, True], ids=["here", "child-reader"])
def test_large_media_are_spooled_and_stored_whole(
    tmp_path: Path, archive: Archive, in_child: bool
) -> None:
    video = bytes(range(256)) * (SPOOL_THRESHOLD // 256 + 10)
    data = base64.b64encode(video).decode("ascii")
    body = (
        '  <mms date="1709704960000" msg_box="1" address="+8613800138000">\n'
        '    <parts><part ct="video/mp4" name="clip.mp4" data="' + data + '" /></parts>\n'
        "  </mms>\n"
    )
    path = _write(tmp_path, "mms.xml", body)
    with PhoneExport(path) as export:
        captures = list(export.for_archive(in_child=in_child))
        media = [c for c in captures if not isinstance(c, ImportProblem) and c.attachments]
        spooled = media[0].attachments[0].blob.path
        assert spooled is not None  # spooled, not in memory
        report = archive.ingest(captures, connector=export.connector, container=str(path))
    assert not spooled.exists()  # the spool goes with the export, whoever wrote it
    assert report.added == 1
    (mms,) = archive.timeline()
    assert archive.read_original(mms.attachments[0].sha256) == video


def test_a_record_without_a_readable_date_is_kept_undated(tmp_path: Path, archive: Archive) -> None:
    path = _write(tmp_path, "sms.xml", _sms(0, "no date") + '  <sms address="1" date="bad" />\n')
    report, _ = import_phone_export(archive, path)
    assert report.added == 2
    assert all(i.occurred_at is None and "no-date" in i.flags for i in archive.timeline())


@pytest.mark.parametrize("in_child", [False, True], ids=["here", "child-reader"])
def test_damage_in_the_middle_skips_only_the_damaged_record(
    tmp_path: Path, archive: Archive, in_child: bool
) -> None:
    path = _write(
        tmp_path,
        "sms.xml",
        _sms(1709704960000, "one")
        + _sms(1709704970000, "two")
        + '  <sms body="x" <oops/>\n'
        + '  <mms date="1" msg_box="1">\n    <parts><part ct="text/plain" text="lost" />\n'
        + _sms(1709704980000, "three &#55357;&#56397;")
        + '  <sms date="1709704990000" body="broken &amp" />\n'
        + _sms(1709705000000, "four"),
        count=7,
    )
    report, notes = import_phone_export(archive, path, in_child=in_child)
    assert report.added == 4
    bodies = [i.body for i in archive.timeline()]
    assert bodies == ["one", "two", "three \U0001f44d", "four"]
    reasons = [e.reason for e in report.errors]
    assert reasons == [
        "this mms has no end tag (the file is damaged there) and was skipped",
        "the file is damaged at line 5, column 17: not well-formed (invalid token): the record "
        "there could not be read; reading went on at line 6",
        "the file is damaged at line 9, column 46: not well-formed (invalid token): the record "
        "there could not be read; reading went on at line 10",
        "the backup header says it holds 7 messages but 4 were read",
    ]
    assert report.errors[0].source.endswith("element 3 (line 6)")
    three = archive.timeline()[2]
    assert three.source.locator == "element 4 (line 8)"
    assert "emoji-repaired" in three.flags
    assert notes.lines == ["repaired 1 emoji written as surrogate-pair references"]


def test_epoch_times_are_told_apart_by_magnitude() -> None:
    assert epoch_to_datetime("1720997593") == epoch_to_datetime("1720997593000")
    assert epoch_to_datetime("1720997593000000") == epoch_to_datetime(1720997593000)
    assert epoch_to_datetime("null") is None
    assert epoch_to_datetime("0") is None


def test_problems_and_captures_come_in_file_order(tmp_path: Path) -> None:
    path = _write(tmp_path, "sms.xml", _sms(1709704960000, "one"), count=2)
    with PhoneExport(path) as export:
        captures = list(export.captures())
    assert isinstance(captures[0], Capture)
    assert captures[0].item is None
    assert isinstance(captures[1], Capture)
    assert captures[1].item is not None
    assert isinstance(captures[2], ImportProblem)
    assert "says it holds 2 messages but 1 were read" in captures[2].reason


def test_a_text_to_several_people_keeps_them_all(tmp_path: Path, archive: Archive) -> None:
    path = _write(
        tmp_path,
        "sms.xml",
        _sms(1709704960000, "to both", address="+86 138 0013 8000~+86 139 0013 9000", kind=2),
    )
    import_phone_export(archive, path)
    (item,) = archive.timeline()
    assert item.recipients == ("+8613800138000", "+8613900139000")
    assert item.thread_key == "phone:+8613800138000,+8613900139000"
