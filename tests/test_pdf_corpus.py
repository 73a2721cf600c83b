"""Every PDF of the shared corpus through ``pdf_captures`` into a real archive.

Each file is either read (expected text found), refused as encrypted, or recorded as failed
with a reason, within the time limit; none crashes the run, and re-importing adds nothing.
Files added to the corpus later are covered by the generic checks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence_archiver import Archive
from evidence_archiver.archive.records import ItemRecord
from evidence_archiver.connectors.pdf import pdf_captures
from evidence_archiver.extract.sandbox import Limits
from evidence_archiver.hashing import sha256_file

pytestmark = pytest.mark.corpus

LIMITS = Limits(seconds=30, memory_mb=1536)

# Text each readable sample must yield (as pdfplumber reads it).
EXPECTED_TEXT = {
    "samples_contrib_issue_566_test_2.pdf": "甲方：中国饮料有限公司（盖章）",
    "samples_contrib_issue_566_test_1.pdf": "Buyer：黎荣",
    "samples_contrib_issue-625-identity-cmap.pdf": "Faktura nr FV 1/2021",
    "samples_contrib_2b.pdf": "1,406,164.00",
    "samples_encryption_base.pdf": "Secret!",
    "samples_simple3.pdf": "Hello",
    "tests_pdfs_nics-background-checks-2015-11.pdf": "NICS Firearm Background Checks",
    "tests_pdfs_senate-expenditures.pdf": "LEGISLATIVECORRESPONDENT",
    "tests_pdfs_scotus-transcript-p1.pdf": "IN THE SUPREME COURT OF THE UNITED STATES",
    "tests_pdfs_malformed-from-issue-932.pdf": "2021",
    "pdfminer-issue-1113-evil-xobjects.pdf": "Hello world",
    "pdfminer-issue-886-xref-stream-widths.pdf": "Hello",
    "pdfminer-simple1.pdf": "Hello World",
    "pdfminer-zen_of_python_corrupted.pdf": "Beautiful is better than ugly.",
    "qpdf-bad-token-startxref.pdf": "Potato",
    "qpdf-bad-xref.pdf": "Potato",
    "qpdf-issue-106.pdf": "Potato",
}
# Known passwords, from the upstream projects' own tests (pdfminer.six, pdfplumber).
PASSWORDS = {
    "samples_encryption_aes-256.pdf": ("foo", "Secret!"),
    "samples_encryption_aes-256-r6.pdf": ("usersecret", "Hello World"),
    "pdfminer-aes-256.pdf": ("foo", "Secret!"),
    "pdfminer-rc4-40.pdf": ("foo", "Secret!"),
    "tests_pdfs_password-example.pdf": ("test", "Backup4all"),
}
# Samples with tables: (page, a cell that must be in the extracted rows).
TABLES = {
    "tests_pdfs_nics-background-checks-2015-11.pdf": (1, "Alabama"),
    "tests_pdfs_senate-expenditures.pdf": (1, "DISTRICTDIRECTOR"),
    "samples_contrib_issue-625-identity-cmap.pdf": (1, "Dokumentacja - żółw"),
}
# Damaged beyond reading: archived as failed, with a reason.
UNREADABLE = {
    "tests_pdfs_empty.pdf",
    "qpdf-append-xref-loop.pdf",
    "qpdf-bad1.pdf",
    "qpdf-issue-100.pdf",
    "qpdf-issue-101.pdf",
    "qpdf-issue-119.pdf",
    "qpdf-issue-120.pdf",
    "qpdf-issue-143.pdf",
    "qpdf-issue-146.pdf",
    "qpdf-issue-147.pdf",
    "qpdf-issue-148.pdf",
    "qpdf-issue-149.pdf",
    "qpdf-issue-150.pdf",
    "qpdf-issue-1503.pdf",
    "qpdf-issue-263.pdf",
    "qpdf-issue-449.pdf",
    "qpdf-issue-99.pdf",
}


def corpus_pdfs(corpus: Path) -> list[Path]:
    found = sorted(corpus.glob("pdf_*/*.pdf")) + sorted(
        (corpus / "adversarial" / "pdf").glob("*.pdf")
    )
    assert found, f"no PDFs under {corpus}"
    return found


@pytest.fixture(scope="module")
def imported(
    corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Archive, dict[str, ItemRecord], float]]:
    path = tmp_path_factory.mktemp("pdfcorpus") / "archive.db"
    with Archive(path) as archive:
        start = time.monotonic()
        archive.ingest(
            pdf_captures(corpus_pdfs(corpus), limits=LIMITS), connector="pdf", container="corpus"
        )
        elapsed = time.monotonic() - start
        # Identical files (the corpus has a few) are one item seen in several places.
        by_name = {
            Path(s.locator).name: r
            for r in archive.timeline()
            if r.kind == "document"
            for s in r.sightings
        }
        yield archive, by_name, elapsed


def test_every_corpus_pdf_is_archived_byte_for_byte(
    corpus: Path, imported: tuple[Archive, dict[str, ItemRecord], float]
) -> None:
    archive, by_name, _ = imported
    for pdf in corpus_pdfs(corpus):
        record = by_name[pdf.name]
        digest, size = sha256_file(pdf)
        assert record.original_sha256 == digest
        assert archive.read_original(digest) == pdf.read_bytes()
        assert record.details["file"]["size"] == size


def test_expected_text_is_found_in_each_readable_pdf(
    imported: tuple[Archive, dict[str, ItemRecord], float],
) -> None:
    _, by_name, _ = imported
    for name, text in EXPECTED_TEXT.items():
        record = by_name[name]
        assert record.parse_status == "ok", (name, record.parse_error)
        assert text in record.body, name
        assert record.body.startswith("=== page 1 of ")


def test_the_chinese_contract_line_and_the_polish_invoice_are_searchable(
    imported: tuple[Archive, dict[str, ItemRecord], float],
) -> None:
    archive, by_name, _ = imported
    hits = {h.id for h in archive.search("中国饮料")}
    assert by_name["samples_contrib_issue_566_test_2.pdf"].id in hits
    hits = {h.id for h in archive.search("Faktura")}
    assert by_name["samples_contrib_issue-625-identity-cmap.pdf"].id in hits


def test_tables_are_extracted_as_rows(
    imported: tuple[Archive, dict[str, ItemRecord], float],
) -> None:
    _, by_name, _ = imported
    for name, (page, cell) in TABLES.items():
        tables = by_name[name].details["tables"]
        cells = {c for t in tables if t["page"] == page for row in t["rows"] for c in row}
        assert any(cell in c for c in cells), (name, sorted(cells)[:20])


def test_metadata_is_kept(imported: tuple[Archive, dict[str, ItemRecord], float]) -> None:
    _, by_name, _ = imported
    record = by_name["tests_pdfs_scotus-transcript-p1.pdf"]
    meta = record.details["metadata"]
    assert meta["title"] == "10811.exe"
    # A title a program made up ("10811.exe") is no title for a person: the file name is.
    assert record.title == "tests_pdfs_scotus-transcript-p1.pdf"
    assert meta["producer"] == "Acrobat Distiller 6.0 (Windows)"
    assert meta["author"] == "Supreme"
    assert meta["creation_date"] == "2009-01-13T15:23:05-05:00"
    assert meta["page_count"] == 1
    assert meta["pdf_version"] is not None


def test_encrypted_pdfs_without_password_are_refused_cleanly_and_kept(
    imported: tuple[Archive, dict[str, ItemRecord], float],
) -> None:
    _, by_name, _ = imported
    for name in PASSWORDS:
        record = by_name[name]
        assert record.parse_status == "failed"
        assert record.parse_error is not None
        assert record.parse_error.startswith("encrypted: password required")
        assert record.details["text_missing"] is True
        assert record.body == ""


def test_encrypted_pdfs_open_with_their_known_passwords(corpus: Path, tmp_path: Path) -> None:
    paths = {p.name: p for p in corpus_pdfs(corpus)}
    for name, (password, text) in PASSWORDS.items():
        with Archive(tmp_path / f"{name}.db") as archive:
            report = archive.ingest(
                pdf_captures([paths[name]], password=password, limits=LIMITS),
                connector="pdf",
                container=name,
            )
            assert report.added == 1, (name, report.as_json())
            [record] = archive.timeline()
            assert text in record.body
            assert record.details["metadata"]["encrypted"] is True


def test_a_wrong_password_is_named_as_wrong(corpus: Path, archive: Archive) -> None:
    path = corpus / "pdf_pdfplumber" / "tests_pdfs_password-example.pdf"
    [capture] = list(pdf_captures([path], password="not-it", limits=LIMITS))
    assert capture.parse_error == "encrypted: the password given is wrong"  # type: ignore[union-attr]


def test_damaged_pdfs_are_recorded_as_failed_with_a_reason_within_the_time_limit(
    imported: tuple[Archive, dict[str, ItemRecord], float],
) -> None:
    archive, by_name, elapsed = imported
    for name in UNREADABLE:
        record = by_name[name]
        assert record.parse_status == "failed", name
        assert record.parse_error is not None, name
        assert record.parse_error.startswith("not a readable PDF"), (name, record.parse_error)
    failures = {f.source for f in archive.import_failures(limit=200)}
    assert any("qpdf-bad1.pdf" in s for s in failures)
    # 40-odd small files on two workers: far below one time limit per file.
    assert elapsed < LIMITS.seconds * 3


def test_every_other_corpus_pdf_is_read_or_fails_with_a_reason(
    corpus: Path, imported: tuple[Archive, dict[str, ItemRecord], float]
) -> None:
    _, by_name, _ = imported
    for pdf in corpus_pdfs(corpus):
        record = by_name[pdf.name]
        if record.parse_status == "ok":
            assert record.details["metadata"]["page_count"] >= 1
        else:
            assert record.parse_error


def test_reimporting_the_corpus_adds_nothing(
    corpus: Path, imported: tuple[Archive, dict[str, ItemRecord], float]
) -> None:
    archive, by_name, _ = imported
    before = archive.status()
    report = archive.ingest(
        pdf_captures(corpus_pdfs(corpus), limits=LIMITS), connector="pdf", container="corpus"
    )
    after = archive.status()
    assert report.added == 0
    assert report.duplicates + report.failed == len(corpus_pdfs(corpus))
    assert after["total"] == before["total"]
    assert after["originals"] == before["originals"]
