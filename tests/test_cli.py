"""The real CLI, through Typer's CliRunner and as a subprocess."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from evidence_archiver.cli import app
from tsa import require_tool

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MBOX = FIXTURES / "demo" / "mail" / "lenderx.mbox"
SAVED = FIXTURES / "demo" / "mail" / "saved"


@pytest.fixture
def run(archive_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args), env={"EVIDENCE_ARCHIVE": str(archive_path)})
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    return invoke


def test_the_issue_walkthrough_works_end_to_end(run) -> None:  # type: ignore[no-untyped-def]
    assert json.loads(run("init", "--json"))["created"] is True
    made = json.loads(
        run(
            "case",
            "new",
            "Lender X extension",
            "--counterparty",
            "service@lenderx.com",
            "--counterparty",
            "lenderx.com",
            "--json",
        )
    )
    assert made == {"slug": "lender-x-extension", "linked": 0}
    imported = json.loads(run("import", "mbox", str(MBOX), "--json", "--workers", "0"))
    assert imported["added"] == 7
    assert imported["failed"] == 0
    assert imported["errors"] == []
    saved = json.loads(run("import", "eml", str(SAVED), "--json"))
    assert (saved["added"], saved["duplicates"]) == (1, 1)
    hits = json.loads(
        run(
            "search",
            "展期 OR extension",
            "--case",
            "lender-x-extension",
            "--since",
            "2024-01-01",
            "--json",
        )
    )
    assert hits
    assert set(hits[0]) == {"id", "kind", "occurred_at", "title", "sender", "snippet"}
    timeline = json.loads(run("timeline", "lender-x-extension", "--json"))
    assert len(timeline) == 7
    dates = [t["occurred_at"] for t in timeline]
    assert dates == sorted(dates)
    first = str(timeline[0]["id"])
    assert "sha256" in run("show", first)
    run("tag", first, "promise")
    run("note", first, "agent 1234 promised 3 months")
    shown = json.loads(run("show", first, "--json"))
    assert shown["tags"] == ["promise"]
    assert [e["action"] for e in shown["custody"]][:1] == ["acquired"]
    assert (
        json.loads(run("case", "add-rule", "lender-x-extension", "-k", "展期", "--json"))["linked"]
        == 0
    )
    removed = run("case", "remove-rule", "lender-x-extension", "keyword", "展期", "--json")
    assert json.loads(removed)["removed"] is True
    shown_case = json.loads(run("case", "show", "lender-x-extension", "--json"))
    assert [r["kind"] for r in shown_case["rules"]] == ["address", "domain"]
    assert shown_case["items"] == 7
    status = json.loads(run("status", "--json"))
    assert status["total"] == 8
    assert status["items"] == {"email": 8}
    assert status["cases"] == 1
    assert status["import_errors"] == 0
    assert status["custody_intact"] is True


def test_show_original_writes_the_exact_bytes(run, archive_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("import", "eml", str(SAVED / "final-notice.eml"))
    runner = CliRunner()
    result = runner.invoke(
        app, ["show", "1", "--original"], env={"EVIDENCE_ARCHIVE": str(archive_path)}
    )
    assert result.stdout_bytes == (SAVED / "final-notice.eml").read_bytes()


def test_an_import_with_failures_exits_1_and_says_which(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "ok.eml").write_bytes(b"From: a@lenderx.com\nSubject: ok\n\nhello\n")
    (tmp_path / "junk.eml").write_bytes(b"\x00\x01\x02")
    out = run("import", "eml", str(tmp_path / "ok.eml"), str(tmp_path / "junk.eml"), code=1)
    # The summary wraps at the terminal's width, where the temporary path's length puts it.
    said = " ".join(out.split())
    assert "junk.eml" in said
    assert "not an e-mail message" in said
    report = json.loads(run("import", "eml", str(tmp_path), "--json", code=0))
    assert report["duplicates"] == 2


def test_errors_are_one_clear_line_with_exit_2(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "evidence init" in run("status", code=2)
    run("init")
    assert "no item 99" in run("show", "99", code=2)
    assert "no case 'nope'" in run("timeline", "nope", code=2)
    assert "nothing to search for" in run("search", "*", code=2)
    assert "cannot read the date" in run("search", "x", "--since", "yesterday", code=2)
    notmbox = tmp_path / "notes.txt"
    notmbox.write_text("hello")
    assert "not an mbox" in run("import", "mbox", str(notmbox), code=2)


@pytest.mark.parametrize(
    "query", ['"unbalanced', "NEAR(", "-escrow", "555-0100", "O'Brien", "a\x00b", "AND OR NOT"]
)
def test_hostile_queries_never_crash_the_cli(run, query: str) -> None:  # type: ignore[no-untyped-def]
    run("import", "mbox", str(MBOX), "--workers", "0")
    runner = CliRunner()
    result = runner.invoke(app, ["search", query, "--json"])
    assert result.exit_code in (0, 2)
    assert "Traceback" not in result.output


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    # Typer ships its own copy of Click, so groups are recognised by what they have.
    found = []
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if hasattr(command, "commands"):
            found.extend(_commands(command, full + " "))
        else:
            found.append((full, command))
    return found


def test_every_command_has_help_with_an_example() -> None:
    commands = _commands(get_command(app))
    assert len(commands) >= 15
    for name, command in commands:
        assert command.help, f"'evidence {name}' has no help text"
        assert "Example" in command.help, f"'evidence {name}' help shows no example"
        for param in command.params:
            if getattr(param, "param_type_name", "") == "option" and not param.hidden:
                assert param.help, f"'evidence {name}' option {param.name} has no help"


def test_each_command_runs_from_its_own_module_as_in_the_whole_tree() -> None:
    from evidence_archiver.cli import build_app

    whole = dict(_commands(get_command(app)))
    for name, command in whole.items():
        alone = dict(_commands(get_command(build_app(name.split()))))
        # A group comes whole, but for `import`, which loads only the command it runs.
        assert list(alone) == [name] if name.startswith("import ") else name in alone
        assert alone[name].help == command.help
        assert [p.name for p in alone[name].params] == [p.name for p in command.params]


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (["import", "mbox", "x.mbox", "--json"], ["import", "mbox"]),
        (["--debug", "import", "sms", "a.xml"], ["import", "sms"]),
        (["import", "--help"], ["import"]),
        (["import", "mboxx"], ["import"]),
        (["search", "逾期", "--kind", "sms"], ["search"]),
        (["case", "new", "X"], ["case"]),
        (["--version"], None),
        (["--help"], None),
        ([], None),
        (["serach", "x"], None),
    ],
)
def test_a_command_line_loads_the_command_it_names(args: list[str], path: list[str] | None) -> None:
    from evidence_archiver.cli import command_path

    assert command_path(args) == path


def test_a_misspelt_command_is_suggested_from_every_command(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "evidence_archiver", "serach", "逾期"],
        env={**os.environ, "EVIDENCE_ARCHIVE": str(tmp_path / "a.db"), "EVIDENCE_LANG": "en"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert "Did you mean 'search'?" in out.stderr


def test_a_finished_command_leaves_the_archive_as_one_closed_file(tmp_path: Path) -> None:
    # main() spares the collector's passes at exit (gc.freeze): the archive must still be
    # closed by the command, its WAL checkpointed into the file and removed.
    archive = tmp_path / "archive.db"
    env = {**os.environ, "EVIDENCE_ARCHIVE": str(archive)}
    for args in (["import", "mbox", str(MBOX), "--json"], ["search", "展期", "--json"]):
        subprocess.run(
            [sys.executable, "-m", "evidence_archiver", *args],
            env=env,
            check=True,
            capture_output=True,
        )
        assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.db"]
    conn = sqlite3.connect(archive)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] > 5
    finally:
        conn.close()


def test_demo_runs_as_a_subprocess_and_ends_with_a_verified_bundle(tmp_path: Path) -> None:
    # The whole story with the optional tools: OCR reads the screenshot, openssl timestamps.
    require_tool("tesseract")
    require_tool("openssl")
    env = {**os.environ, "EVIDENCE_ARCHIVE": str(tmp_path / "never-touched.db")}
    result = subprocess.run(
        [sys.executable, "-m", "evidence_archiver", "demo", "--dir", str(tmp_path / "d"), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["case"] == "lender-x-extension"
    # Mail, texts, calls, a chat, agreements and a screenshot on one timeline.
    assert set(out["kinds"]) >= {"email", "sms", "call", "chat", "document", "file"}
    assert out["imports"]["mail (saved .eml)"]["duplicates"] == 1
    assert out["imports"]["sms-20240820.xml"]["duplicates"] > 0
    assert all(r["failed"] == 0 for r in out["imports"].values())
    assert out["custody_intact"] is True
    assert out["searches"]["逾期"]
    assert out["searches"]["延期还款"]
    # One story: the deferred due date is in the mail, the texts, the chat and the agreement.
    kinds = {h["kind"] for h in out["searches"]["10月15日"]}
    assert kinds >= {"email", "sms", "chat", "document", "file"}
    bundle = Path(out["bundle"]["path"])
    assert bundle.is_file()
    assert bundle.parent == tmp_path / "d" / "bundle"
    assert out["bundle"]["timestamp"] is not None
    assert out["verify"]["ok"] is True
    assert out["verify"]["problems"] == []
    assert out["notes"] == []
    # The Xiaomi phone's recording of the 2 July call is linked to that call-log entry.
    assert out["imports"]["call recording (Xiaomi)"]["added"] == 1
    [recording] = out["recordings"]
    assert recording["call"] in out["timeline"]
    assert recording["item"] in out["timeline"]
    assert not (tmp_path / "never-touched.db").exists()


def test_demo_without_any_optional_tool_tells_the_same_story(tmp_path: Path) -> None:
    """A fresh machine: no Tesseract, no openssl, no fontconfig, no font on PATH's tools."""
    empty = tmp_path / "bin"
    empty.mkdir()
    conf = tmp_path / "fonts.conf"
    conf.write_text(f"<fontconfig><dir>{tmp_path / 'no-fonts'}</dir></fontconfig>\n")
    env = {
        **os.environ,
        "PATH": str(empty),
        "FONTCONFIG_FILE": str(conf),
        "EVIDENCE_ARCHIVE": str(tmp_path / "never-touched.db"),
    }
    env.pop("EVIDENCE_CJK_FONT", None)
    result = subprocess.run(
        [sys.executable, "-m", "evidence_archiver", "demo", "--dir", str(tmp_path / "d"), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    # The same case: mail, texts, calls, a chat, agreements and the screenshot.
    assert set(out["kinds"]) >= {"email", "sms", "call", "chat", "document", "file"}
    assert all(r["failed"] == 0 for r in out["imports"].values())
    kinds = {h["kind"] for h in out["searches"]["10月15日"]}
    assert kinds >= {"email", "sms", "chat", "document"}
    # One line says what was skipped and how the screenshot got into the case.
    (note,) = out["notes"]
    assert note.startswith("OCR skipped for chat-screenshot-2024-09-10.png")
    assert "linked to the case by hand" in note
    assert "\n" not in note
    # The bundle has its PDF (the packaged font) and verifies; it is just not timestamped.
    assert out["bundle"]["pdf_left_out"] is None
    assert out["bundle"]["timestamp"] is None
    assert out["verify"]["ok"] is True
    with zipfile.ZipFile(out["bundle"]["path"]) as z:
        assert any(n.endswith("/data/bundle.pdf") for n in z.namelist())


def test_demo_without_a_chinese_font_still_ends_with_a_verified_bundle(tmp_path: Path) -> None:
    env = {**os.environ, "EVIDENCE_CJK_FONT": str(tmp_path / "no-such-font.ttf")}
    result = subprocess.run(
        [sys.executable, "-m", "evidence_archiver", "demo", "--dir", str(tmp_path / "d"), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["verify"]["ok"] is True
    assert any("bundle.pdf left out" in note for note in out["notes"])


def test_debug_shows_a_traceback_only_when_asked(archive_path: Path) -> None:
    env = {**os.environ, "EVIDENCE_ARCHIVE": str(archive_path)}
    plain = subprocess.run(
        [sys.executable, "-m", "evidence_archiver", "show", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "evidence_archiver", "--debug", "show", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr


def test_show_prints_a_documents_tables(run) -> None:  # type: ignore[no-untyped-def]
    out = json.loads(
        run(
            "import", "pdf", str(FIXTURES / "documents" / "loan-agreement-2024-03-15.pdf"), "--json"
        )
    )
    assert out["added"] == 1
    shown = run("show", "1")
    assert "Table 1 (page 1)" in shown
    assert "2024-04-15" in shown
    assert "4,815.76" in shown
    assert "5,265.76" in shown
