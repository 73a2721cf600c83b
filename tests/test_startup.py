"""What the `evidence` command loads when it starts.

Every command pays for the modules the CLI imports before it runs; an e-mail import of a few
hundred messages takes about as long as starting Python with all of them. Connectors and
libraries that only some commands use (IMAP and the keyring, phone-number metadata, the PDF
and OCR pipeline, sqlite-utils for migrations) are imported by those commands when they run.
These tests look at ``sys.modules`` in a fresh interpreter, not at a clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from evidence_archiver.archive import Archive

# Modules only some commands need, each with why it is left out of the start.
NOT_AT_START = {
    "imapclient": "IMAP client: 'import imap' and 'imap …' only",
    "keyring": "the system keyring: IMAP passwords only",
    "phonenumbers": "phone-number metadata: loaded at the first phone number",
    "sqlite_utils": "used to migrate an archive, not to open a current one",
    "evidence_archiver.extract.documents": "PDF and OCR pipeline: documents and reindex only",
    "evidence_archiver.export.bundle": "export only",
    "evidence_archiver.demo": "demo only",
    "charset_normalizer": "charset detection: only text that no label decodes",
    "rich.progress": "progress bars: only when one is drawn",
}


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_the_cli_starts_without_the_modules_only_some_commands_use() -> None:
    loaded = _loaded_after("import evidence_archiver.cli")
    assert {name: why for name, why in NOT_AT_START.items() if name in loaded} == {}


def test_an_mbox_import_runs_without_them_nor_pydantic(tmp_path: Path) -> None:
    # Typer 0.29 and later import pydantic to convert option values (pyproject.toml keeps
    # Typer below it); an archive that exists is opened without the migration library.
    mbox = tmp_path / "one.mbox"
    mbox.write_bytes(
        b"From a@example.com Fri Mar  1 09:30:00 2024\nFrom: a@example.com\n"
        b"Subject: hello\nMessage-ID: <1@example.com>\n\nHello.\n"
    )
    archive = tmp_path / "archive.db"
    Archive(archive).close()
    loaded = _loaded_after(
        "import os\n"
        f"os.environ['EVIDENCE_ARCHIVE'] = {str(archive)!r}\n"
        "from typer.testing import CliRunner\n"
        "from evidence_archiver.cli import app\n"
        f"result = CliRunner().invoke(app, ['import', 'mbox', {str(mbox)!r}, '--json'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert '\"added\": 1' in result.output, result.output"
    )
    unwanted = {**NOT_AT_START, "pydantic": "Typer 0.29's option conversion"}
    assert {name: why for name, why in unwanted.items() if name in loaded} == {}


def _loaded_by_command(args: list[str], archive: Path) -> set[str]:
    """The modules loaded by a run of `evidence` as the installed command runs it (main())."""
    return _loaded_after(
        "import os, sys\n"
        f"os.environ['EVIDENCE_ARCHIVE'] = {str(archive)!r}\n"
        f"sys.argv = ['evidence', *{args!r}]\n"
        "from evidence_archiver.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code"
    )


def test_an_mbox_import_loads_only_its_own_command_and_no_rich_for_json(tmp_path: Path) -> None:
    mbox = tmp_path / "one.mbox"
    mbox.write_bytes(
        b"From a@example.com Fri Mar  1 09:30:00 2024\nFrom: a@example.com\n"
        b"Subject: hello\nMessage-ID: <1@example.com>\n\nHello.\n"
    )
    loaded = _loaded_by_command(["import", "mbox", str(mbox), "--json"], tmp_path / "a.db")
    assert "evidence_archiver.cli.importing" in loaded
    others = {
        "rich": "the terminal's formatting: nothing is printed through it with --json",
        "typer.rich_utils": "Typer's help and error screens: only to show one",
        "evidence_archiver.cli.phone": "another import command",
        "evidence_archiver.cli.documents": "another import command",
        "evidence_archiver.cli.imap": "another import command",
        "evidence_archiver.cli.browse": "another command",
        "evidence_archiver.cli.facts": "another command",
        "evidence_archiver.cli.export": "another command",
        "evidence_archiver.connectors.sms": "phone exports",
        "evidence_archiver.extract.facts": "fact suggestions",
        "concurrent.futures": "a parser pool: a small mailbox is parsed in this process",
    }
    assert {name: why for name, why in others.items() if name in loaded} == {}


def test_a_help_screen_loads_rich_and_typers_screens(tmp_path: Path) -> None:
    loaded = _loaded_by_command(["import", "mbox", "--help"], tmp_path / "a.db")
    assert {"rich", "typer.rich_utils", "evidence_archiver.cli.help_wrap"} <= loaded


def test_opening_a_current_archive_does_not_load_the_migration_library(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    Archive(path).close()  # created, and migrated, here
    loaded = _loaded_after(
        f"from evidence_archiver.archive import Archive\nArchive({str(path)!r}).close()"
    )
    assert "sqlite_utils" not in loaded


def test_a_phone_number_still_loads_its_metadata_when_it_comes() -> None:
    loaded = _loaded_after(
        "from evidence_archiver.people import normalize_phone\n"
        "assert normalize_phone('0086 138 1234 5678') == '+8613812345678'"
    )
    assert "phonenumbers" in loaded
