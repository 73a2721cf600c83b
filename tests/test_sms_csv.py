"""CSV exports: columns by name or --map, BOM and GB18030, clear errors, cross-format dedup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from evidence_archiver import Archive
from evidence_archiver.connectors.sms import PhoneExport, detect_format, import_phone_export
from evidence_archiver.errors import SourceError, UsageError

PHONE = Path(__file__).resolve().parent.parent / "fixtures" / "phone"
BEIJING = timezone(timedelta(hours=8))


def test_fixture_csv_columns_are_found_by_name(archive: Archive) -> None:
    path = PHONE / "messages.csv"
    assert detect_format(path) == "csv"
    report, notes = import_phone_export(archive, path, region="CN", zone="Asia/Shanghai")
    assert (report.added, report.failed) == (2, 0)
    assert "date=Date" in notes.lines[0]
    promise = archive.timeline()[0]
    assert promise.occurred_at == datetime(2024, 7, 3, 14, 2, 40, tzinfo=BEIJING)
    assert promise.direction == "in"
    assert promise.sender == "+8613800138000"
    assert promise.sender_name == "乐贷 LenderX"
    assert promise.source.locator == "row 2"
    assert "zone-assumed" in promise.flags
    again, _ = import_phone_export(archive, path, region="CN", zone="Asia/Shanghai")
    assert (again.added, again.duplicates) == (0, 2)


def test_the_same_texts_from_a_backup_and_a_csv_are_archived_once(archive: Archive) -> None:
    import_phone_export(archive, PHONE / "sms-20240820.xml", region="CN")
    report, _ = import_phone_export(
        archive, PHONE / "messages.csv", region="CN", zone="Asia/Shanghai"
    )
    assert (report.added, report.duplicates) == (0, 2)


def test_bom_gb18030_and_semicolons(tmp_path: Path, archive: Archive) -> None:
    path = tmp_path / "短信.csv"
    path.write_bytes(
        "日期;号码;类型;内容\n2024/03/06 14:02;13800138000;接收;同意延期至4月10日\n".encode(
            "gb18030"
        )
    )
    report, _ = import_phone_export(archive, path, region="CN", zone="Asia/Shanghai")
    assert report.added == 1
    (item,) = archive.timeline()
    assert item.body == "同意延期至4月10日"
    assert item.sender == "+8613800138000"
    assert item.direction == "in"
    assert item.occurred_at == datetime(2024, 3, 6, 14, 2, tzinfo=BEIJING)
    bom = tmp_path / "bom.csv"
    bom.write_text("\ufeffDate,From,Message\n2024-03-06T14:02:00+08:00,95555,hi\n", "utf-8")
    report, _ = import_phone_export(archive, bom, region="CN")
    assert report.added == 1


def test_missing_column_is_a_clear_error_naming_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("When,Who,What\n2024-03-06 14:02,95555,hi\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"no column for the time.*--map date=COLUMN.*When, Who"):
        PhoneExport(path)


def test_map_names_the_columns(tmp_path: Path, archive: Archive) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "When,Who,What,Box\n06/03/2024 14:02,+86 138 0013 8000,extension agreed,Received\n"
        "13/03/2024 09:00,+86 138 0013 8000,thanks,Sent\n",
        encoding="utf-8",
    )
    report, _ = import_phone_export(
        archive,
        path,
        column_map={"date": "When", "number": "Who", "text": "What", "direction": "Box"},
        zone="UTC",
    )
    assert report.added == 2
    first, second = archive.timeline()
    assert first.occurred_at == datetime(2024, 3, 6, 14, 2, tzinfo=UTC)  # day first
    assert (first.direction, second.direction) == ("in", "out")
    assert second.recipients == ("+8613800138000",)
    with pytest.raises(SourceError, match="has no column 'Nope'"):
        PhoneExport(path, column_map={"date": "Nope"})
    with pytest.raises(UsageError, match="unknown field"):
        PhoneExport(path, column_map={"colour": "When"})


def test_imazing_style_columns_and_call_rows(tmp_path: Path, archive: Archive) -> None:
    path = tmp_path / "imazing.csv"
    path.write_text(
        "Chat Session,Message Date,Service,Type,Sender ID,Sender Name,Text\n"
        "LenderX,2024-03-06 14:02:40,SMS,Incoming,+8613800138000,LenderX,we agree\n"
        "LenderX,2024-03-06 14:05:03,SMS,Outgoing,,,thank you\n",
        encoding="utf-8",
    )
    report, _ = import_phone_export(archive, path, zone="UTC")
    assert report.added == 2
    incoming, outgoing = archive.timeline()
    assert (incoming.direction, incoming.sender, incoming.sender_name) == (
        "in",
        "+8613800138000",
        "LenderX",
    )
    assert outgoing.direction == "out"
    assert outgoing.thread_key == "name:lenderx"
    calls = tmp_path / "calls.csv"
    calls.write_text(
        "Date,Number,Type,Duration\n2024-04-02 21:47:10,+8613800138000,incoming,95\n"
        "2024-04-02 22:15:00,+8613800138000,missed,0\n",
        encoding="utf-8",
    )
    report, _ = import_phone_export(archive, calls, zone="UTC")
    assert report.added == 2
    answered, missed = archive.timeline(kind="call")
    assert answered.details["duration_s"] == 95
    assert "missed" in missed.flags
