"""PDF agreements and statements as Captures (``evidence import pdf FILE|DIR…``).

A thin layer over :func:`.files.file_captures`: inside folders only ``*.pdf`` files are taken,
and each becomes one ``kind="document"`` Item whose body is the text of every page, each
opened by a ``=== page N of M ===`` line, and whose ``details`` hold::

    {"pages": ["page 1 text", ...],
     "tables": [{"page": 2, "rows": [["期数 No.", "还款日 Due date", ...], ...]}],
     "metadata": {"title": ..., "author": ..., "producer": ..., "creation_date": ...,
                  "modification_date": ..., "page_count": 3, "pdf_version": "1.4",
                  "encrypted": false},
     "scanned_pages": [3],
     "ocr": {"status": "done", "engine": "tesseract", "lang": "chi_sim+eng",
             "derived": true, "pages": [3], "text": {"3": "..."}},
     "file": {"name": "loan.pdf", "size": 12345, "modified": "...", "media_type": ...}}

An encrypted PDF opened without its password, a damaged one, and one that overran the time or
memory limit are archived all the same, with ``parse_error`` saying why (the import summary
shows it) and ``details["text_missing"] = true``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from ..extract.ocr import OcrOptions
from ..extract.sandbox import Limits
from ..model import Capture, ImportProblem
from .files import DEFAULT_OCR, file_captures

CONNECTOR = "pdf"
PDF_SUFFIXES = (".pdf",)


def pdf_captures(
    paths: Iterable[Path],
    *,
    password: str | None = None,
    ocr: OcrOptions | None = DEFAULT_OCR,
    limits: Limits | None = None,
    skip: frozenset[Path] = frozenset(),
) -> Iterator[Capture | ImportProblem]:
    """One Capture per PDF under ``paths`` (see the module docstring for what it holds)."""
    return file_captures(
        paths,
        connector=CONNECTOR,
        suffixes=PDF_SUFFIXES,
        password=password,
        ocr=ocr,
        limits=limits,
        assume_media_type="application/pdf",
        skip=skip,
    )
