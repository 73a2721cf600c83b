"""Which phone export a path is, from its content first and its name second."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from evidence_archiver import Archive
from evidence_archiver.connectors.sms import PhoneExport, detect_format, import_phone_export
from evidence_archiver.errors import SourceError, UsageError

PHONE = Path(__file__).resolve().parent.parent / "fixtures" / "phone"


def test_fixtures_are_recognised() -> None:
    assert detect_format(PHONE / "sms-20240820.xml") == "sms-backup-restore"
    assert detect_format(PHONE / "calls-20240820.xml") == "sms-backup-restore"
    assert detect_format(PHONE / "WhatsApp Chat with LenderX.txt") == "whatsapp"
    assert detect_format(PHONE / "messages.csv") == "csv"


def test_content_wins_over_a_misleading_name(tmp_path: Path) -> None:
    renamed = tmp_path / "backup.dat"
    renamed.write_bytes((PHONE / "sms-20240705.xml").read_bytes())
    assert detect_format(renamed) == "sms-backup-restore"
    chat = tmp_path / "notes"
    chat.write_text("[2024-03-06, 14:21] LenderX: hello\n", encoding="utf-8")
    assert detect_format(chat) == "signal"


def test_unknown_files_and_folders_say_what_to_do(tmp_path: Path) -> None:
    text = tmp_path / "todo.txt"
    text.write_text("buy milk\n", encoding="utf-8")
    with pytest.raises(SourceError, match="--format"):
        detect_format(text)
    with pytest.raises(SourceError, match="does not exist"):
        detect_format(tmp_path / "missing.xml")
    with pytest.raises(SourceError, match="folder without a phone export"):
        detect_format(tmp_path)
    empty_zip = tmp_path / "photos.zip"
    with zipfile.ZipFile(empty_zip, "w") as z:
        z.writestr("a.jpg", b"x")
    with pytest.raises(SourceError, match="zip without a known phone export"):
        detect_format(empty_zip)


def test_format_option_overrides_detection(tmp_path: Path, archive: Archive) -> None:
    chat = tmp_path / "export.log"
    chat.write_text("06/03/2024, 14:21 - LenderX: 同意延期\n", encoding="utf-8")
    report, _ = import_phone_export(archive, chat, format="whatsapp", zone="UTC", region="CN")
    assert report.added == 1
    with pytest.raises(UsageError, match="unknown phone export format"):
        PhoneExport(chat, format="telegram")
