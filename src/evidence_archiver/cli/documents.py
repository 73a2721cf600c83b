"""`evidence import pdf`, `evidence import file` and `evidence reindex`.

Thin layers over :mod:`evidence_archiver.documents` and :mod:`evidence_archiver.reindex`:
options are parsed here (password from ``--password-prompt`` or ``EVIDENCE_PDF_PASSWORD``,
OCR languages, per-document limits), the library does the work, the summary is printed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError

# The document pipeline (PDF, OCR, file-type detection) is imported by the commands that use it,
# not by every start of 'evidence'.
from ..extract.ocr import DEFAULT_LANG, OcrOptions, OcrUnavailable, check_available
from ..extract.recordings import check_zone
from ..extract.sandbox import DEFAULT_MEMORY_MB, DEFAULT_SECONDS, Limits
from ..i18n import _, ngettext
from .common import (
    EXIT_SOME_FAILED,
    ArchiveOption,
    JsonOption,
    console,
    err_console,
    escape,
    handle_errors,
    open_archive,
    print_json,
    print_problems,
    progress_bar,
    report_import,
)

PASSWORD_ENV = "EVIDENCE_PDF_PASSWORD"

PathsArgument = Annotated[list[Path], typer.Argument(help="Files, or folders of them.")]
PasswordPromptOption = Annotated[
    bool,
    typer.Option(
        "--password-prompt",
        help=f"Ask for the password of encrypted PDFs (or set {PASSWORD_ENV}).",
    ),
]
OcrLangOption = Annotated[
    str,
    typer.Option(
        "--ocr-lang",
        help="Tesseract languages for scanned pages and images, joined with +.",
    ),
]
NoOcrOption = Annotated[bool, typer.Option("--no-ocr", help="Do not OCR scanned pages and images.")]
TimeoutOption = Annotated[
    float,
    typer.Option("--timeout", min=1, help="Seconds one document may take before it is given up."),
]
MemoryOption = Annotated[
    int,
    typer.Option("--memory-mb", min=256, help="Memory one document may use, in MB."),
]
WorkersOption = Annotated[
    int,
    typer.Option(help="Extraction processes (default 0: one per core).", min=0),
]

RecordingZoneOption = Annotated[
    str | None,
    typer.Option(
        "--tz",
        "--zone",
        help="Time zone of the phone that named the call recordings, e.g. Asia/Shanghai "
        "(default: EVIDENCE_TZ, else Asia/Shanghai for Chinese phones' recordings).",
        show_default=False,
    ),
]
RecordingRegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="Country for numbers in recordings' names written without +code, e.g. CN "
        "(default: CN for Chinese phones' recordings).",
        show_default=False,
    ),
]


def _zone(tz: str | None) -> str | None:
    zone = tz or os.environ.get("EVIDENCE_TZ") or None
    if zone is None:
        return None
    try:
        return check_zone(zone)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _password(prompt: bool) -> str | None:
    if prompt:
        return str(typer.prompt(_("PDF password"), hide_input=True, default="", show_default=False))
    return os.environ.get(PASSWORD_ENV) or None


def _ocr(lang: str, no_ocr: bool, *, quiet: bool = False) -> OcrOptions | None:
    """The OCR options; says once, up front, when Tesseract cannot run (and how to fix it)."""
    if no_ocr:
        return None
    try:
        check_available(lang)
    except OcrUnavailable as exc:
        if not quiet:
            err_console.print(
                _(
                    "[yellow]Note:[/] {reason}. Scanned pages and images are kept and flagged, "
                    "but their text is not read yet."
                ).format(reason=escape(str(exc)))
            )
    return OcrOptions(lang=lang)


@handle_errors
def import_pdf(
    paths: PathsArgument,
    archive: ArchiveOption = None,
    json_: JsonOption = False,
    password_prompt: PasswordPromptOption = False,
    ocr_lang: OcrLangOption = DEFAULT_LANG,
    no_ocr: NoOcrOption = False,
    timeout: TimeoutOption = DEFAULT_SECONDS,
    memory_mb: MemoryOption = DEFAULT_MEMORY_MB,
    workers: WorkersOption = 0,
) -> None:
    """Import PDF agreements, statements and receipts: text per page, tables, metadata.

    Encrypted PDFs are kept and reported until you give the password. Scanned pages are
    OCR'd when Tesseract is installed.

    Example: evidence import pdf ~/Documents/loan-agreement.pdf ~/Documents/statements/
    """
    from .. import documents
    from ..reindex import reindex as run_reindex

    password = _password(password_prompt)
    limits = Limits(seconds=timeout, memory_mb=memory_mb, workers=workers)
    with open_archive(archive, create=True) as arch:
        total = documents.count_documents(paths, pdf_only=True)
        with progress_bar(_("Reading PDFs"), total, enabled=not json_) as advance:
            report = documents.import_pdfs(
                arch,
                paths,
                password=password,
                ocr=_ocr(ocr_lang, no_ocr, quiet=json_),
                limits=limits,
                progress=advance,
            )
        if password:
            # PDFs archived earlier without their password are duplicates now: open them too.
            reopened = run_reindex(arch, password=password, ocr=None, encrypted_only=True)
            if reopened.documents_updated and not json_:
                console.print(
                    ngettext(
                        "[green]Opened {n} encrypted PDF already in the archive[/] with the "
                        "password given.",
                        "[green]Opened {n} encrypted PDFs already in the archive[/] with the "
                        "password given.",
                        reopened.documents_updated,
                    ).format(n=reopened.documents_updated)
                )
    report_import(report, ", ".join(str(p) for p in paths), as_json=json_)


@handle_errors
def import_file(
    paths: PathsArgument,
    archive: ArchiveOption = None,
    json_: JsonOption = False,
    password_prompt: PasswordPromptOption = False,
    ocr_lang: OcrLangOption = DEFAULT_LANG,
    no_ocr: NoOcrOption = False,
    timeout: TimeoutOption = DEFAULT_SECONDS,
    memory_mb: MemoryOption = DEFAULT_MEMORY_MB,
    workers: WorkersOption = 0,
    tz: RecordingZoneOption = None,
    region: RecordingRegionOption = None,
) -> None:
    """Import any files: screenshots and photos (EXIF, OCR), call recordings, PDFs, others.

    The type is read from each file's content, not its name. Call recordings of Xiaomi
    (MIUI/HyperOS), Huawei/Honor, OPPO/OnePlus/realme (ColorOS) and vivo phones give the
    number, contact and start time in their names, and are linked to the call in an imported
    call log. Copy the phone's recordings folder as it is, e.g. MIUI/sound_recorder/call_rec.

    Example: evidence import file ~/Pictures/wechat-screenshots/ "Call recording 0305.m4a"

    Example: evidence import file ~/phone/MIUI/sound_recorder/call_rec/ --tz Asia/Shanghai
    """
    from .. import documents

    password = _password(password_prompt)
    zone = _zone(tz)
    limits = Limits(seconds=timeout, memory_mb=memory_mb, workers=workers)
    with open_archive(archive, create=True) as arch:
        total = documents.count_documents(paths, pdf_only=False)
        with progress_bar(_("Reading files"), total, enabled=not json_) as advance:
            report = documents.import_files(
                arch,
                paths,
                password=password,
                ocr=_ocr(ocr_lang, no_ocr, quiet=json_),
                limits=limits,
                progress=advance,
                zone=zone,
                region=region.upper() if region else None,
            )
    report_import(report, ", ".join(str(p) for p in paths), as_json=json_)


@handle_errors
def reindex(
    archive: ArchiveOption = None,
    json_: JsonOption = False,
    password_prompt: PasswordPromptOption = False,
    ocr_lang: OcrLangOption = DEFAULT_LANG,
    no_ocr: NoOcrOption = False,
    timeout: TimeoutOption = DEFAULT_SECONDS,
    memory_mb: MemoryOption = DEFAULT_MEMORY_MB,
    workers: WorkersOption = 0,
) -> None:
    """Read text again where it is missing, e.g. PDF attachments of older emails.

    Covers PDF attachments of emails, encrypted PDFs (with the password now given), scanned
    pages and screenshots (once Tesseract is installed). Originals never change; only their
    searchable text is filled in.

    Example: EVIDENCE_PDF_PASSWORD=123456 evidence reindex
    """
    from ..reindex import reindex as run_reindex

    password = _password(password_prompt)
    limits = Limits(seconds=timeout, memory_mb=memory_mb, workers=workers)
    with (
        open_archive(archive) as arch,
        progress_bar(_("Reading again"), None, enabled=not json_) as advance,
    ):
        report = run_reindex(
            arch,
            password=password,
            ocr=_ocr(ocr_lang, no_ocr, quiet=json_),
            limits=limits,
            progress=advance,
        )
    if json_:
        print_json(report.as_json())
    else:
        console.print(
            _(
                "[green]Filled in text for {attachments} attachment(s) and {documents} "
                "document(s)[/]; {unchanged} had nothing new."
            ).format(
                attachments=report.attachments_updated,
                documents=report.documents_updated,
                unchanged=report.unchanged,
            )
        )
        print_problems(list(report.failures), see_status=False)
    if report.failures:
        raise typer.Exit(EXIT_SOME_FAILED)
