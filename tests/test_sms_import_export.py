"""SMS Import / Export (Android app) zips, folders and call logs, generated in its documented
format: ``messages.ndjson`` with Android provider columns plus ``__``-prefixed fields, and the
MMS part bytes under ``data/`` named after the part's ``_data`` path."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence_archiver import Archive
from evidence_archiver.connectors.sms import detect_format, import_phone_export

PHONE = Path(__file__).resolve().parent.parent / "fixtures" / "phone"
PROMISE = (
    "已收到您的延期申请。我们同意第4至6期还款各顺延三个月，第4期延至2024年10月15日，"
    "期间不收取逾期费用。We agree to defer your last three instalments by three months: the "
    "July instalment is now due on 15 October 2024, with no late fees."
)
PICTURE = b"\x89PNG\r\n\x1a\n picture of the letter"

MESSAGES: list[dict[str, Any]] = [
    {
        "_id": "1",
        "thread_id": "3",
        "address": "+86 138 0013 8000",
        "date": "1719986560000",
        "date_sent": "1719986560000",
        "type": "1",
        "body": PROMISE,
        "read": "1",
        "__display_name": "乐贷 LenderX",
    },
    {
        "_id": "2",
        "thread_id": "3",
        "address": "13800138000",
        "date": "1722606750000",
        "type": "2",
        "body": "你们7月3日同意延期到10月15日。",
        "__display_name": "乐贷 LenderX",
    },
    {
        "_id": "7",
        "thread_id": "3",
        "date": "1720059300",  # MMS dates are seconds in Android's MMS table
        "msg_box": "1",
        "sub": "延期协议",
        "m_id": "mms-7@lenderx",
        "__sender_address": {
            "address": "+8613800138000",
            "type": "137",
            "__display_name": "乐贷 LenderX",
        },
        "__recipient_addresses": [{"address": "+8613900139000", "type": "151"}],
        "__parts": [
            {"_id": "20", "mid": "7", "seq": "-1", "ct": "application/smil", "text": "<smil/>"},
            {"_id": "21", "mid": "7", "seq": "0", "ct": "text/plain", "text": "协议见图"},
            {
                "_id": "22",
                "mid": "7",
                "seq": "0",
                "ct": "image/png",
                "name": "agreement.png",
                "_data": "/data/user_de/0/com.android.providers.telephony/app_parts/PART_22.png",
            },
            {
                "_id": "23",
                "mid": "7",
                "seq": "0",
                "ct": "image/jpeg",
                "name": "lost.jpg",
                "_data": "/data/user_de/0/com.android.providers.telephony/app_parts/PART_23.jpg",
            },
        ],
    },
]
CALLS = [
    {
        "number": "+8613800138000",
        "date": "1712065630000",
        "duration": "95",
        "type": "1",
        "presentation": "1",
        "__display_name": "乐贷 LenderX",
    },
    {"number": "-2", "date": "1712067300000", "duration": "0", "type": "3", "presentation": "2"},
]


def make_zip(path: Path, messages: list[dict[str, Any]]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "messages.ndjson",
            "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages),
        )
        z.writestr("data/PART_22.png", PICTURE)
    return path


def test_messages_zip_with_mms_media(tmp_path: Path, archive: Archive) -> None:
    path = make_zip(tmp_path / "messages-2024-04-15.zip", MESSAGES)
    assert detect_format(path) == "sms-import-export"
    report, notes = import_phone_export(archive, path, region="CN")
    assert (report.added, report.failed) == (3, 0)
    assert notes.records == 3
    promise, mms, reply = archive.timeline()
    assert promise.direction == "in"
    assert promise.sender == "+8613800138000"
    assert promise.occurred_at == datetime(2024, 7, 3, 6, 2, 40, tzinfo=UTC)
    assert promise.source.locator == "messages.ndjson line 1"
    assert reply.recipients == ("+8613800138000",)
    assert mms.occurred_at == datetime(2024, 7, 4, 2, 15, tzinfo=UTC)
    assert (mms.title, mms.body) == ("延期协议", "协议见图")
    assert [a.filename for a in mms.attachments] == ["agreement.png"]
    assert archive.read_original(mms.attachments[0].sha256) == PICTURE
    assert mms.details["missing_attachments"] == ["lost.jpg"]
    assert "attachment-missing" in mms.flags
    again, _ = import_phone_export(archive, path, region="CN")
    assert (again.added, again.duplicates) == (0, 3)


def test_unpacked_folder_and_bare_ndjson(tmp_path: Path, archive: Archive) -> None:
    folder = tmp_path / "export"
    (folder / "data").mkdir(parents=True)
    (folder / "messages.ndjson").write_text(
        "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in MESSAGES), encoding="utf-8"
    )
    (folder / "data" / "PART_22.png").write_bytes(PICTURE)
    assert detect_format(folder) == "sms-import-export"
    report, _ = import_phone_export(archive, folder, region="CN")
    assert report.added == 3
    (mms,) = archive.timeline(kind="mms")
    assert archive.read_original(mms.attachments[0].sha256) == PICTURE
    bare, _ = import_phone_export(archive, folder / "messages.ndjson", region="CN")
    assert (bare.added, bare.duplicates) == (0, 3)


def test_call_log_json(tmp_path: Path, archive: Archive) -> None:
    path = tmp_path / "calls-2024-04-15.json"
    path.write_text(json.dumps(CALLS, indent=2, ensure_ascii=False), encoding="utf-8")
    assert detect_format(path) == "sms-import-export"
    report, _ = import_phone_export(archive, path, region="CN")
    assert report.added == 2
    answered, missed = archive.timeline()
    assert (answered.direction, answered.details["duration_s"]) == ("in", 95)
    assert answered.title == "Incoming call from 乐贷 LenderX (1 min 35 s)"
    assert missed.flags == ("missed",)
    assert missed.details["presentation"] == "private number"
    assert missed.source.locator == "entry 2"


def test_a_text_in_both_a_backup_and_an_sms_ie_zip_is_archived_once(
    tmp_path: Path, archive: Archive
) -> None:
    import_phone_export(archive, PHONE / "sms-20240820.xml", region="CN")
    report, _ = import_phone_export(
        archive, make_zip(tmp_path / "m.zip", MESSAGES[:1]), region="CN"
    )
    assert (report.added, report.duplicates) == (0, 1)


def test_a_broken_line_is_reported_and_the_rest_imported(tmp_path: Path, archive: Archive) -> None:
    path = tmp_path / "messages.ndjson"
    path.write_text(
        json.dumps(MESSAGES[0], ensure_ascii=False)
        + "\n{not json\n"
        + json.dumps(MESSAGES[1], ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    report, _ = import_phone_export(archive, path, region="CN")
    assert (report.added, report.failed) == (2, 1)
    assert report.errors[0].source.endswith("line 2")
