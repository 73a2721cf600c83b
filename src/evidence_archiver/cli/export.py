"""`evidence export`, `evidence verify` and `evidence timestamp`: the evidence bundle."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from ..archive.timeutil import parse_user_date
from ..errors import UsageError
from ..i18n import N_, _, format_number, ngettext

# ``..export`` (X.509, the bundle writer) is imported inside each command that uses it, so that
# every other command starts without loading it.
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
    user_zone,
)

TsaUrlOption = Annotated[
    str | None,
    typer.Option(
        "--tsa-url",
        envvar="EVIDENCE_TSA_URL",
        help="An RFC 3161 timestamp authority to timestamp the bundle's manifests "
        "(default: $EVIDENCE_TSA_URL; none means no trusted timestamp).",
        show_default=False,
    ),
]
CaFileOption = Annotated[
    Path | None,
    typer.Option(
        "--tsa-ca-file",
        help="The timestamp authority's CA certificate (PEM), to check its timestamp.",
        exists=True,
        dir_okay=False,
    ),
]


# The stages the bundle writer reports, as the progress bar names them.
_STAGES = {
    "originals": N_("originals"),
    "thumbnails": N_("thumbnails"),
    "index and data files": N_("index and data files"),
    "bundle.pdf": N_("bundle.pdf"),
    "manifests": N_("manifests"),
    "renderings": N_("renderings"),
}


def export_stage(stage: str) -> str:
    return _(_STAGES[stage]) if stage in _STAGES else stage


def _size(n: int) -> str:
    value = float(n)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    if n < 1024:
        return ngettext("{n} byte", "{n} bytes", n).format(n=format_number(n))
    return f"{value:.1f} {unit}"


@handle_errors
def export(
    case: Annotated[str, typer.Argument(help="The case to export (its short name).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the bundle (default: <case>_<UTC time>.zip)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="zip (one file) or dir (a folder).")] = "zip",
    since: Annotated[
        str | None, typer.Option("--since", help="Only items from this date on (YYYY-MM-DD).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Only items up to this date (YYYY-MM-DD).")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Only items with this tag (repeatable).")
    ] = None,
    exclude_tag: Annotated[
        list[str] | None,
        typer.Option("--exclude-tag", help="Leave out items with this tag (repeatable)."),
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the readable views: zh, en or both.")
    ] = "both",
    tsa_url: TsaUrlOption = None,
    tsa_ca_file: CaFileOption = None,
    no_pdf: Annotated[
        bool, typer.Option("--no-pdf", help="Leave out bundle.pdf (quicker for a large case).")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Fix the export time (ISO 8601 with zone): the same archive and the same "
            "--now give a byte-identical bundle.",
        ),
    ] = None,
    archive: ArchiveOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export a case as a tamper-evident evidence bundle (BagIt zip or folder).

    Example: evidence export lenderx --tsa-url https://freetsa.org/tsr
    """
    if fmt not in ("zip", "dir"):
        raise UsageError(_("--format must be zip or dir"))
    if lang not in ("zh", "en", "both"):
        raise UsageError(_("--lang must be zh, en or both"))
    moment: datetime | None = None
    if now:
        try:
            moment = datetime.fromisoformat(now)
        except ValueError:
            raise UsageError(
                _("cannot read --now {value}: use e.g. 2024-05-01T12:00:00Z").format(
                    value=repr(now)
                )
            ) from None
        if moment.tzinfo is None:
            raise UsageError(_("--now needs a time zone, e.g. 2024-05-01T12:00:00Z"))
    from ..export import ExportOptions, export_bundle

    options = ExportOptions(
        case=case,
        out=out,
        fmt=fmt,  # type: ignore[arg-type]
        since=parse_user_date(since) if since else None,
        until=parse_user_date(until, end_of_day=True) if until else None,
        tags=tuple(tag or ()),
        exclude_tags=tuple(exclude_tag or ()),
        lang=lang,  # type: ignore[arg-type]
        pdf=not no_pdf,
        now=moment,
        tz=user_zone(),
        tsa_url=tsa_url or None,
        tsa_ca_file=tsa_ca_file,
    )
    with open_archive(archive) as arch:
        if as_json:
            result = export_bundle(arch, options)
        else:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn()]  # fmt: skip
            with Progress(*columns, console=err_console.rich, transient=True) as bar:
                task = bar.add_task(_("Exporting"), total=None)

                def progress(stage: str, done: int, total: int) -> None:
                    bar.update(
                        task,
                        description=_("Exporting {stage}").format(stage=export_stage(stage)),
                        completed=done,
                        total=total,
                    )

                result = export_bundle(arch, options, progress)
    if as_json:
        print_json(result.as_json())
        if result.pdf_left_out:
            raise typer.Exit(EXIT_SOME_FAILED)
        return
    path = escape(str(result.path))
    console.print(_("[green]Bundle written:[/] {path}").format(path=path))
    console.print(
        _("  {items} items, {originals} originals, {payload} of payload, {size} on disk").format(
            items=result.items,
            originals=result.originals,
            payload=_size(result.payload_bytes),
            size=_size(result.bundle_bytes),
        )
    )
    console.print(
        _("  SHA-256 of tagmanifest-sha256.txt: {sha256}").format(sha256=result.tagmanifest_sha256)
    )
    if result.timestamp:
        console.print(
            _("  Timestamped by {tsa} at {time}").format(
                tsa=escape(result.timestamp["tsa_url"]), time=result.timestamp["gen_time"]
            )
        )
    else:
        console.print(
            _(
                "  [yellow]No trusted timestamp.[/] Add one with: evidence timestamp {path} "
                "--tsa-url URL"
            ).format(path=path)
        )
    console.print(_("  Check it any time with: evidence verify {path}").format(path=path))
    for warning in result.warnings:
        console.print(_("  [yellow]Key facts:[/] {warning}").format(warning=escape(warning)))
    if result.pdf_left_out:
        console.print(
            _(
                "  [yellow]bundle.pdf left out:[/] {reason}. The rest of the bundle is complete "
                "(open data/index.html); bag-info.txt records the reason."
            ).format(reason=escape(result.pdf_left_out))
        )
        raise typer.Exit(EXIT_SOME_FAILED)


@handle_errors
def verify(
    path: Annotated[Path, typer.Argument(help="The bundle: a .zip file or its folder.")],
    tsa_ca_file: CaFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a bundle: every hash, no file missing or added, custody chain, timestamp.

    Example: evidence verify lenderx_20240501T120000Z.zip --tsa-ca-file tsa-ca.pem
    """
    from ..export import verify_bundle

    report = verify_bundle(path, tsa_ca_file=tsa_ca_file)
    if as_json:
        print_json(report.as_json())
    else:
        for problem in report.problems:
            console.print(f"[red]✗[/] {escape(problem.file)}: {escape(problem.message)}")
        for note in report.notes:
            console.print(f"[yellow]![/] {escape(note)}")
        if report.ok:
            console.print(
                _(
                    "[green]✓ The bundle is intact:[/] {files} files, {size} re-hashed; custody "
                    "chain ends at {head}…"
                ).format(
                    files=report.files_checked,
                    size=_size(report.bytes_checked),
                    head=(report.custody_head or "")[:16],
                )
            )
            if report.timestamp:
                console.print(
                    _("[green]✓ Trusted timestamp:[/] {time} (UTC)").format(
                        time=report.timestamp["gen_time"]
                    )
                )
        else:
            console.print(
                ngettext(
                    "[bold red]✗ {n} problem:[/] this bundle is not as it was exported.",
                    "[bold red]✗ {n} problems:[/] this bundle is not as it was exported.",
                    len(report.problems),
                ).format(n=len(report.problems))
            )
    if not report.ok:
        raise typer.Exit(EXIT_SOME_FAILED)


@handle_errors
def timestamp(
    path: Annotated[Path, typer.Argument(help="The bundle: a .zip file or its folder.")],
    tsa_url: TsaUrlOption = None,
    tsa_ca_file: CaFileOption = None,
    archive: ArchiveOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add an RFC 3161 timestamp to a bundle made earlier, without rebuilding it.

    Example: evidence timestamp lenderx_20240501T120000Z.zip --tsa-url https://freetsa.org/tsr
    """
    if not tsa_url:
        raise UsageError(_("give the timestamp authority with --tsa-url (or EVIDENCE_TSA_URL)"))
    from ..export import timestamp_bundle

    info = timestamp_bundle(path, tsa_url, ca_file=tsa_ca_file)
    _record(archive, path, info.as_json())
    if as_json:
        print_json(info.as_json())
        return
    console.print(
        _("[green]Timestamped:[/] {path} at {time}").format(
            path=escape(str(path)), time=info.gen_time.isoformat()
        )
    )
    console.print(_("  token SHA-256: {sha256}").format(sha256=info.token_sha256))
    if not info.checked_against_ca:
        console.print(
            _("  [yellow]Not yet checked against a CA:[/] run evidence verify with --tsa-ca-file")
        )


def _record(archive_path: Path | None, bundle: Path, details: dict[str, object]) -> None:
    """Note the token in the custody log of the archive, when there is one."""
    from ..archive import default_archive_path

    where = archive_path or default_archive_path()
    if not where.exists():
        return
    with open_archive(where) as arch, arch.transaction():
        arch.custody.append(arch.clock(), "timestamped", f"bundle:{bundle.name}", details)
