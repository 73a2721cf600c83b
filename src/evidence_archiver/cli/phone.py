"""`evidence import sms PATH…` (alias `evidence import phone`): texts, calls and chats, and
`evidence import wechat PATH…` for WeChat chat exports (which `import sms` detects too).

A thin layer over :func:`evidence_archiver.connectors.sms.import_phone_export`: the format is
detected from each file unless ``--format`` says otherwise; numbers are normalised with
``--region``; ``--map`` names CSV columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..connectors.sms import FORMATS, WECHAT_FORMATS, PhoneExport
from ..connectors.sms.wechat import wechat_exports
from ..errors import EvidenceError, SourceError, UsageError
from ..i18n import _
from ..model import ImportFailure, ImportReport
from .common import (
    ArchiveOption,
    JsonOption,
    console,
    err_console,
    escape,
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
            "Voice Takeout folder, a WhatsApp/Signal chat .txt or .zip, a WeChat export "
            "(MemoTrace CSV/HTML, ChatLab JSON), or a .csv."
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
    run_imports(
        paths,
        archive=archive,
        json_=json_,
        format_=format_,
        region=region,
        column_map=parse_map(map_) or None,
        tz=tz,
    )


def run_imports(
    paths: list[Path],
    *,
    archive: Path | None,
    json_: bool,
    format_: str | None,
    region: str | None,
    column_map: dict[str, str] | None,
    tz: str | None,
    allowed: tuple[str, ...] | None = None,
) -> None:
    """Import each phone export in turn and print one summary (shared by ``import sms`` and
    ``import wechat``). ``allowed`` limits the formats a file may be detected as."""
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
                        column_map=column_map,
                        zone=tz,
                    ) as export,
                    progress_bar(
                        _("Importing {name}").format(name=path.name),
                        export.expected,
                        enabled=not json_,
                    ) as advance,
                ):
                    if allowed is not None and export.format not in allowed:
                        raise SourceError(
                            _(
                                "{name} reads as {format}, not as a WeChat export ({formats}); "
                                "import it with 'evidence import sms'"
                            ).format(
                                name=path.name, format=export.format, formats=", ".join(allowed)
                            )
                        )
                    report = arch.ingest(
                        export.for_archive(),
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


WeChatFormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        help=f"The export's layout when detection guesses wrong: {', '.join(WECHAT_FORMATS)}.",
        show_default=False,
    ),
]


WeChatZoneOption = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="Time zone to show times in when the export does not reveal it, e.g. "
        "Asia/Shanghai (WeChat times are exact; default: EVIDENCE_TZ, else this computer's).",
        show_default=False,
    ),
]


@handle_errors
def import_wechat(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="WeChat chat exports: a MemoTrace (留痕) CSV (…_utf8.csv) or HTML page, a "
            "ChatLab .json/.jsonl, or a folder of them (e.g. MemoTrace's 聊天记录 folder). "
            "Images, voice messages and files beside the export are kept with their message."
        ),
    ],
    archive: ArchiveOption = None,
    json_: JsonOption = False,
    format_: WeChatFormatOption = None,
    tz: WeChatZoneOption = None,
) -> None:
    """Import WeChat chats exported with MemoTrace (留痕 / WeChatMsg) or as ChatLab JSON.

    The export file is kept as it is, and each message records the line it came from.

    A newer or differently shaped export of a chat adds only the messages not yet archived.

    Link a chat to a case: evidence case new "乐贷" --counterparty wechat:wxid_abc123

    Example: evidence import wechat ~/Documents/MemoTrace/data/聊天记录/乐贷客服/
    """
    files: list[Path] = []
    for path in paths:
        files.extend(wechat_exports(path) if path.is_dir() else [path])
    if not files:
        raise UsageError(
            _(
                "no WeChat export found in {paths} (looked for MemoTrace …_utf8.csv and .html "
                "pages, and ChatLab .json/.jsonl files)"
            ).format(paths=", ".join(str(p) for p in paths))
        )
    run_imports(
        files,
        archive=archive,
        json_=json_,
        format_=format_,
        region=None,
        column_map=None,
        tz=tz,
        allowed=WECHAT_FORMATS,
    )
