"""`evidence import pdf`, `evidence import file`, `evidence reindex` through the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES
from evidence_archiver.cli import app

DOCS = FIXTURES / "documents"


def invoke(archive_path: Path, *args: str, code: int = 0, **env: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"EVIDENCE_ARCHIVE": str(archive_path), **env})
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def test_import_pdf_imports_the_agreements_and_a_second_run_adds_nothing(
    archive_path: Path,
) -> None:
    first = json.loads(invoke(archive_path, "import", "pdf", str(DOCS), "--json"))
    assert (first["added"], first["failed"]) == (2, 0)
    again = json.loads(invoke(archive_path, "import", "pdf", str(DOCS), "--json"))
    assert (again["added"], again["duplicates"]) == (0, 2)
    hits = json.loads(invoke(archive_path, "search", "延期还款协议", "--json"))
    assert len(hits) == 1
    assert "Repayment Extension Agreement" in json.dumps(hits, ensure_ascii=False)


@pytest.mark.corpus
def test_an_encrypted_pdf_is_reported_then_opened_by_reindex_with_the_env_password(
    corpus: Path, archive_path: Path, tmp_path: Path
) -> None:
    pdf = corpus / "pdf_pdfplumber" / "tests_pdfs_password-example.pdf"
    out = invoke(archive_path, "import", "pdf", str(pdf), code=1)
    assert "encrypted: password required" in out
    out = invoke(archive_path, "reindex", "--json", EVIDENCE_PDF_PASSWORD="test")
    assert json.loads(out)["documents_updated"] == 1
    assert "Backup4all" in invoke(archive_path, "search", "Backup4all")


@pytest.mark.corpus
def test_the_password_prompt_opens_an_encrypted_pdf(corpus: Path, archive_path: Path) -> None:
    pdf = corpus / "pdf_pdfminer" / "samples_encryption_aes-256-r6.pdf"
    result = CliRunner().invoke(
        app,
        ["import", "pdf", str(pdf), "--password-prompt", "--json"],
        input="usersecret\n",
        env={"EVIDENCE_ARCHIVE": str(archive_path)},
    )
    assert result.exit_code == 0, result.output
    assert '"added": 1' in result.output


def test_import_file_takes_a_folder_of_mixed_files_without_the_archive_itself(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "evidence"
    folder.mkdir()
    shutil.copy(DOCS / "loan-agreement-2024-03-15.pdf", folder)
    (folder / "notes.txt").write_text("催收 call at 9pm", encoding="utf-8")
    archive_path = folder / "archive.db"
    out = json.loads(
        invoke(archive_path, "import", "file", str(folder), "--no-ocr", "--json", "--workers", "1")
    )
    assert (out["added"], out["failed"]) == (2, 0)


@pytest.mark.corpus
def test_importing_again_with_the_password_opens_the_pdf_archived_without_it(
    corpus: Path, archive_path: Path
) -> None:
    pdf = corpus / "pdf_pdfminer" / "samples_encryption_aes-256.pdf"
    invoke(archive_path, "import", "pdf", str(pdf), code=1)
    out = invoke(archive_path, "import", "pdf", str(pdf), EVIDENCE_PDF_PASSWORD="foo")
    assert "Opened 1 encrypted PDF already in the archive" in out
    assert "Secret" in invoke(archive_path, "search", "Secret")
