"""`evidence export`, `evidence verify` and `evidence timestamp`: the evidence bundle."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..archive.timeutil import parse_user_date
from ..errors import UsageError

# ``..export`` (X.509, the bundle writer) is imported inside each command that uses it, so that
# every other command starts without loading it.
from .common import (
    EXIT_SOME_FAILED,
    ArchiveOption,
    JsonOption,
    console,
    err_console,
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


def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"


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
        raise UsageError("--format must be zip or dir")
    if lang not in ("zh", "en", "both"):
        raise UsageError("--lang must be zh, en or both")
    moment: datetime | None = None
    if now:
        try:
            moment = datetime.fromisoformat(now)
        except ValueError:
            raise UsageError(f"cannot read --now {now!r}: use e.g. 2024-05-01T12:00:00Z") from None
        if moment.tzinfo is None:
            raise UsageError("--now needs a time zone, e.g. 2024-05-01T12:00:00Z")
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
            with Progress(*columns, console=err_console, transient=True) as bar:
                task = bar.add_task("Exporting", total=None)

                def progress(stage: str, done: int, total: int) -> None:
                    bar.update(task, description=f"Exporting {stage}", completed=done, total=total)

                result = export_bundle(arch, options, progress)
    if as_json:
        print_json(result.as_json())
        if result.pdf_left_out:
            raise typer.Exit(EXIT_SOME_FAILED)
        return
    console.print(f"[green]Bundle written:[/] {escape(str(result.path))}")
    console.print(
        f"  {result.items} items, {result.originals} originals, "
        f"{_size(result.payload_bytes)} of payload, {_size(result.bundle_bytes)} on disk"
    )
    console.print(f"  SHA-256 of tagmanifest-sha256.txt: {result.tagmanifest_sha256}")
    if result.timestamp:
        console.print(f"  Timestamped by {escape(result.timestamp['tsa_url'])} at "
                      f"{result.timestamp['gen_time']}")  # fmt: skip
    else:
        console.print(
            "  [yellow]No trusted timestamp.[/] Add one with: evidence timestamp "
            f"{escape(str(result.path))} --tsa-url URL"
        )
    console.print(f"  Check it any time with: evidence verify {escape(str(result.path))}")
    for warning in result.warnings:
        console.print(f"  [yellow]Key facts:[/] {escape(warning)}")
    if result.pdf_left_out:
        console.print(
            f"  [yellow]bundle.pdf left out:[/] {escape(result.pdf_left_out)}. The rest of the "
            "bundle is complete (open data/index.html); bag-info.txt records the reason."
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
                f"[green]✓ The bundle is intact:[/] {report.files_checked} files, "
                f"{_size(report.bytes_checked)} re-hashed; custody chain ends at "
                f"{(report.custody_head or '')[:16]}…"
            )
            if report.timestamp:
                console.print(
                    f"[green]✓ Trusted timestamp:[/] {report.timestamp['gen_time']} (UTC)"
                )
        else:
            console.print(
                f"[bold red]✗ {len(report.problems)} problem(s):[/] this bundle is not as it "
                "was exported."
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
        raise UsageError("give the timestamp authority with --tsa-url (or EVIDENCE_TSA_URL)")
    from ..export import timestamp_bundle

    info = timestamp_bundle(path, tsa_url, ca_file=tsa_ca_file)
    _record(archive, path, info.as_json())
    if as_json:
        print_json(info.as_json())
        return
    console.print(f"[green]Timestamped:[/] {escape(str(path))} at {info.gen_time.isoformat()}")
    console.print(f"  token SHA-256: {info.token_sha256}")
    if not info.checked_against_ca:
        console.print(
            "  [yellow]Not yet checked against a CA:[/] run evidence verify with --tsa-ca-file"
        )


def _record(archive_path: Path | None, bundle: Path, details: dict[str, object]) -> None:
    """Note the token in the custody log of the archive, when there is one."""
    from ..archive import default_archive_path

    where = archive_path or default_archive_path()
    if not where.exists():
        return
    with open_archive(where) as arch, arch.transaction():
        arch.custody.append(arch.clock(), "timestamped", f"bundle:{bundle.name}", details)
