"""What every command shares: the archive and JSON options, error handling, exit codes,
progress bars and how times and results are shown.

Exit codes: 0 success; 1 the job ran but some inputs failed (the summary says which); 2 a usage
or archive error. No traceback reaches a user unless ``--debug`` was given.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.markup import escape

from ..archive import Archive, default_archive_path
from ..errors import EvidenceError, UsageError
from ..model import ImportReport

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_ERROR = 2

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class State:
    debug = False


ArchiveOption = Annotated[
    Path | None,
    typer.Option(
        "--archive",
        envvar="EVIDENCE_ARCHIVE",
        help="The archive file (default: archive.db in your user data folder).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")]

P = ParamSpec("P")
R = TypeVar("R")


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn library errors into one red line and exit code 2; hide tracebacks unless --debug."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except EvidenceError as exc:
            if State.debug:
                traceback.print_exc()
            err_console.print(f"[bold red]Error:[/] {escape(str(exc))}")
            raise typer.Exit(EXIT_ERROR) from None
        except KeyboardInterrupt:
            err_console.print(
                "[yellow]Stopped.[/] Everything committed so far is kept; run the same command "
                "again to continue."
            )
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence for a user
            if State.debug:
                traceback.print_exc()
            err_console.print(
                f"[bold red]Unexpected error:[/] {escape(type(exc).__name__)}: {escape(str(exc))}"
                "\nNothing committed before this point is lost. Run again with "
                "'evidence --debug …' for details, and please report it."
            )
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper


def open_archive(path: Path | None, *, create: bool = False) -> Archive:
    return Archive(path or default_archive_path(), create=create)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def user_zone() -> tzinfo | None:
    """The zone times are shown in: ``EVIDENCE_TZ`` (e.g. Asia/Shanghai), else the system's."""
    name = os.environ.get("EVIDENCE_TZ")
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {name!r} in EVIDENCE_TZ: use a name like Asia/Shanghai"
        ) from None


def show_time(moment: datetime | None) -> str:
    """A time in the user's zone, e.g. ``2024-03-05 09:30 CST``; "no date" when unknown."""
    if moment is None:
        return "no date"
    local = moment.astimezone(user_zone())
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or local.strftime("%z"))


def highlight(snippet: str) -> str:
    """Rich markup for a snippet whose matches are wrapped in ``**``."""
    pieces = escape(snippet).split("**")
    return "".join(f"[bold yellow]{p}[/]" if i % 2 else p for i, p in enumerate(pieces))


@contextmanager
def progress_bar(
    description: str, total: int | None, *, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields ``advance(n)``. Silent for --json or when disabled."""
    if not enabled:
        yield lambda n: None
        return
    # Loaded only for a bar: --json runs and most commands never draw one.
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def report_import(report: ImportReport, what: str, *, as_json: bool) -> None:
    """Print an import's summary and exit 1 when anything failed."""
    if as_json:
        print_json(report.as_json())
    else:
        console.print(
            f"[green]Imported {report.added} new item{'s' if report.added != 1 else ''}[/] "
            f"from {escape(what)}; {report.duplicates} already in the archive"
            + (f"; {report.linked} linked to cases" if report.linked else "")
            + "."
        )
        if report.failed:
            console.print(
                f"[yellow]{report.failed} could not be read fully[/] "
                "(originals kept where there were any):"
            )
            for error in report.errors[:20]:
                console.print(f"  • {escape(error.source)}: {escape(error.reason)}")
            if len(report.errors) > 20:
                console.print(f"  … and {len(report.errors) - 20} more: see 'evidence status'")
    if report.failed:
        raise typer.Exit(EXIT_SOME_FAILED)
