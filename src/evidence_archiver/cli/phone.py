"""`evidence import sms PATH…` (alias `evidence import phone`): texts, calls and chats.

A thin layer over :func:`evidence_archiver.connectors.sms.import_phone_export`: the format is
detected from each file unless ``--format`` says otherwise; numbers are normalised with
``--region``; ``--map`` names CSV columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..connectors.sms import FORMATS, PhoneExport
from ..errors import EvidenceError, UsageError
from ..i18n import _
from ..model import ImportFailure, ImportReport
from .common import (
    ArchiveOption,
    JsonOption,
    console,
    err_console,
    handle_errors,
    open_archive,
    print_json,
    progress_bar,
    report_import,
)

FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        help=f"The export's format when detection guesses wrong: {', '.join(FORMATS)}.",
        show_default=False,
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="Country for numbers written without +code, e.g. CN or US "
        "(default: EVIDENCE_REGION, else your locale).",
        show_default=False,
    ),
]
ZoneOption = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="Time zone the phone showed chat times in, e.g. Asia/Shanghai (chat exports carry "
        "no zone; default: EVIDENCE_TZ, else this computer's).",
        show_default=False,
    ),
]
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="CSV only: which column holds a field, as FIELD=COLUMN (fields: date, text, "
        "direction, sender, recipient, number, name, thread, kind, duration). Repeat for several.",
        show_default=False,
    ),
]


def parse_map(values: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for value in values or []:
        field, sep, column = value.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise UsageError(
                _("--map {value}: write it as FIELD=COLUMN, e.g. --map text=Message").format(
                    value=repr(value)
                )
            )
        mapping[field.strip().lower()] = column.strip()
    return mapping


@handle_errors
def import_sms(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Phone exports: SMS Backup & Restore .xml, SMS Import/Export .zip, a Google "
            "Voice Takeout folder, a WhatsApp/Signal chat .txt or .zip, or a .csv."
        ),
    ],
    archive: ArchiveOption = None,
    json_: JsonOption = False,
    format_: FormatOption = None,
    region: RegionOption = None,
    map_: MapOption = None,
    tz: ZoneOption = None,
) -> None:
    """Import texts (SMS, MMS), call logs and chat exports from a phone.

    A newer backup that overlaps an older one adds only the messages not yet archived.

    Example: evidence import sms sms-20240820.xml calls-20240820.xml --region CN
    """
    column_map = parse_map(map_)
    total = ImportReport(import_id=0)
    notes_by_file: dict[str, list[str]] = {}
    with open_archive(archive, create=True) as arch:
        for path in paths:
            try:
                with (
                    PhoneExport(
                        path,
                        format=format_,
                        region=region.upper() if region else None,
                        column_map=column_map or None,
                        zone=tz,
                    ) as export,
                    progress_bar(
                        _("Importing {name}").format(name=path.name),
                        export.expected,
                        enabled=not json_,
                    ) as advance,
                ):
                    report = arch.ingest(
                        export.captures(),
                        connector=export.connector,
                        container=str(export.path),
                        progress=advance,
                    )
                    notes = export.notes
            except EvidenceError as exc:
                if len(paths) == 1:
                    raise
                err_console.print(
                    _("[bold red]Error:[/] {name}: {message}").format(
                        name=escape(path.name), message=escape(str(exc))
                    )
                )
                total.failed += 1
                total.errors.append(ImportFailure(str(path), str(exc)))
                continue
            total.import_id = report.import_id
            total.added += report.added
            total.duplicates += report.duplicates
            total.failed += report.failed
            total.linked += report.linked
            total.errors.extend(report.errors)
            notes_by_file[str(path)] = [
                _("read as {format}").format(format=notes.format),
                *notes.lines,
            ]
    if json_:
        print_json({**total.as_json(), "notes": notes_by_file})
        if total.failed:
            raise typer.Exit(1)
        return
    for name, lines in notes_by_file.items():
        console.print(f"[dim]{escape(name)}: {escape('; '.join(lines))}[/]")
    report_import(total, ", ".join(str(p) for p in paths), as_json=False)
