"""`evidence export`, `evidence verify` and `evidence timestamp` through the real CLI."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from evidence_archiver import Archive
from evidence_archiver.cli import app
from evidence_archiver.export.local_tsa import LocalTSA


def invoke(archive: Archive, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"EVIDENCE_ARCHIVE": str(archive.path)})
    return result.exit_code, result.output


def test_export_then_verify_with_json(case_archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "b.zip"
    code, text = invoke(
        case_archive, "export", "lenderx", "--out", str(out), "--now", "2026-05-01T12:00:00Z",
        "--json",
    )  # fmt: skip
    assert code == 0, text
    result = json.loads(text)
    assert result["items"] == 7
    assert result["path"] == str(out)
    code, text = invoke(case_archive, "verify", str(out), "--json")
    assert code == 0, text
    assert json.loads(text)["ok"] is True


def test_verify_exits_1_and_names_the_changed_file(case_archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "b.zip"
    assert invoke(case_archive, "export", "lenderx", "--out", str(out), "--no-pdf")[0] == 0
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(out) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("data/timeline.csv"):
                data = data.replace(b"E-001", b"E-00l")
            zout.writestr(info, data)
    code, text = invoke(case_archive, "verify", str(bad))
    assert code == 1
    assert "data/timeline.csv" in text


def test_timestamp_command_adds_a_token_later(
    case_archive: Archive, tmp_path: Path, tsa: LocalTSA
) -> None:
    out = tmp_path / "b.zip"
    code, text = invoke(case_archive, "export", "lenderx", "--out", str(out), "--no-pdf")
    assert code == 0
    assert "No trusted timestamp" in text
    code, text = invoke(
        case_archive, "timestamp", str(out), "--tsa-url", tsa.url, "--tsa-ca-file",
        str(tsa.ca_file),
    )  # fmt: skip
    assert code == 0, text
    code, text = invoke(case_archive, "verify", str(out), "--tsa-ca-file", str(tsa.ca_file))
    assert code == 0, text
    assert "Trusted timestamp" in text
    assert [e.action for e in case_archive.custody.events()][-1] == "timestamped"


def test_export_of_an_unknown_case_is_one_clear_line(case_archive: Archive) -> None:
    code, text = invoke(case_archive, "export", "nope")
    assert code == 2
    assert "no case 'nope'" in text
    assert "Traceback" not in text
