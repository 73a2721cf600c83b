"""`evidence import sms` / `evidence import phone` through the real Typer app."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evidence_archiver.cli import app

PHONE = Path(__file__).resolve().parent.parent / "fixtures" / "phone"

Run = Callable[..., str]


@pytest.fixture
def run(archive_path: Path) -> Run:
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env={"EVIDENCE_ARCHIVE": str(archive_path)})
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    return invoke


def test_import_sms_reports_new_and_already_archived_messages(run: Run) -> None:
    first = json.loads(
        run("import", "sms", str(PHONE / "sms-20240705.xml"), "--region", "CN", "--json")
    )
    assert (first["added"], first["duplicates"], first["failed"]) == (5, 0, 0)
    newer = json.loads(
        run(
            "import",
            "phone",
            str(PHONE / "sms-20240820.xml"),
            str(PHONE / "calls-20240820.xml"),
            "--region",
            "CN",
            "--json",
        )
    )
    assert (newer["added"], newer["duplicates"]) == (8, 5)
    notes = newer["notes"][str(PHONE / "sms-20240820.xml")]
    assert notes[0] == "read as sms-backup-restore"
    assert "repaired 1 emoji" in notes[1]


def test_plain_output_names_what_was_imported(run: Run) -> None:
    out = run("import", "sms", str(PHONE / "calls-20240820.xml"), "--region", "CN")
    assert "Imported 4 new items" in out
    again = run("import", "sms", str(PHONE / "calls-20240820.xml"), "--region", "CN")
    assert "Imported 0 new items" in again
    assert "4 already in the archive" in " ".join(again.split())


def test_hostile_xml_is_one_red_line_and_exit_2(run: Run, tmp_path: Path) -> None:
    bomb = tmp_path / "sms.xml"
    bomb.write_text('<!DOCTYPE s [<!ENTITY a "aaaa">]><smses>&a;</smses>', encoding="utf-8")
    out = run("import", "sms", str(bomb), code=2)
    assert "refused" in out


def test_damaged_backup_exits_1_with_the_reason(run: Run, tmp_path: Path) -> None:
    cut = tmp_path / "sms-cut.xml"
    text = (PHONE / "sms-20240820.xml").read_text(encoding="utf-8")
    cut.write_text(text[: text.index("<mms")], encoding="utf-8")
    out = json.loads(run("import", "sms", str(cut), "--region", "CN", "--json", code=1))
    assert out["added"] == 4
    assert any("cut short" in e["reason"] for e in out["errors"])


def test_bad_map_option_is_a_usage_error(run: Run) -> None:
    out = run("import", "sms", str(PHONE / "messages.csv"), "--map", "text", code=2)
    assert "FIELD=COLUMN" in out


def test_one_refused_file_among_several_does_not_stop_the_others(run: Run, tmp_path: Path) -> None:
    bomb = tmp_path / "sms-bomb.xml"
    bomb.write_text('<!DOCTYPE s [<!ENTITY a "aaaa">]><smses>&a;</smses>', encoding="utf-8")
    text = run(
        "import",
        "sms",
        str(bomb),
        str(PHONE / "calls-20240820.xml"),
        "--region",
        "CN",
        "--json",
        code=1,
    )
    # The refusal is one red line on stderr; the JSON summary follows on stdout.
    assert "Error:" in text.split("{", 1)[0]
    out = json.loads(text[text.index("{") :])
    assert out["added"] == 4
    assert out["failed"] == 1
    assert "refused" in out["errors"][0]["reason"]
