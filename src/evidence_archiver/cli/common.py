"""What every command shares: the archive and JSON options, error handling, exit codes,
progress bars and how times and results are shown.

Exit codes: 0 success; 1 the job ran but some inputs failed (the summary says which); 2 a usage
or archive error. No traceback reaches a user unless ``--debug`` was given.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from ..archive import Archive, default_archive_path
from ..archive.facts import fact_kind_name as fact_kind_name
from ..errors import EvidenceError, UsageError
from ..i18n import N_, _, format_datetime, ngettext
from ..model import ImportReport

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_ERROR = 2


class LazyConsole:
    """A rich Console (stdout or stderr) made when it first prints.

    Loading rich takes about 30 ms; a command whose output is JSON (``--json``, for scripts)
    prints nothing through it and so starts without it.
    """

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None
        self._columns: str | None = None

    @property
    def rich(self) -> Console:
        """The Console itself (for a progress bar that draws on it)."""
        # A Console fixes its width from COLUMNS when it is made: made anew if that changed
        # (it does between runs in one process, as in the tests), else kept.
        columns = os.environ.get("COLUMNS")
        if self._console is None or columns != self._columns:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False)
            self._columns = columns
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self.rich.print(*objects, **options)

    def rule(self, *args: Any, **options: Any) -> None:
        self.rich.rule(*args, **options)


console = LazyConsole()
err_console = LazyConsole(stderr=True)


def escape(text: str) -> str:
    """Text with its rich markup (``[bold]``…) escaped, to be printed as it is."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


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
            err_console.print(_("[bold red]Error:[/] {message}").format(message=escape(str(exc))))
            raise typer.Exit(EXIT_ERROR) from None
        except KeyboardInterrupt:
            err_console.print(
                _(
                    "[yellow]Stopped.[/] Everything committed so far is kept; run the same "
                    "command again to continue."
                )
            )
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence for a user
            if State.debug:
                traceback.print_exc()
            err_console.print(
                _(
                    "[bold red]Unexpected error:[/] {kind}: {message}\nNothing committed before "
                    "this point is lost. Run again with 'evidence --debug …' for details, and "
                    "please report it."
                ).format(kind=escape(type(exc).__name__), message=escape(str(exc)))
            )
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper


def defined_in(module: str, name: str) -> Any:
    """What the module ``cli/<module>.py`` defines as ``name``, the module loaded on first use
    (the command tables of ``cli/__init__.py`` and ``cli/importing.py`` name their commands
    this way, so that a run loads only the command it runs)."""
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)


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
            _("unknown time zone {name} in EVIDENCE_TZ: use a name like Asia/Shanghai").format(
                name=repr(name)
            )
        ) from None


def show_time(moment: datetime | None) -> str:
    """A time in the user's zone, e.g. ``2024-03-05 09:30 CST`` (``2024年3月5日 09:30 CST``);
    "no date" when unknown."""
    if moment is None:
        return _("no date")
    return format_datetime(moment, user_zone(), show_zone=True)


# Words the archive stores (item kinds, import states), as a person reads them. The archive and
# --json keep the stored word.
_KIND_NAMES = {
    "email": N_("email"),
    "sms": N_("sms"),
    "mms": N_("mms"),
    "call": N_("call"),
    "chat": N_("chat"),
    "document": N_("document"),
    "file": N_("file"),
}
_IMPORT_STATES = {
    "running": N_("running"),
    "done": N_("done"),
    "interrupted": N_("interrupted"),
}


def kind_name(kind: str) -> str:
    """An item kind in the current language (``sms``: "sms" in English, "短信" in Chinese)."""
    return _(_KIND_NAMES[kind]) if kind in _KIND_NAMES else kind


def import_state(state: str) -> str:
    return _(_IMPORT_STATES[state]) if state in _IMPORT_STATES else state


def print_problems(
    problems: list[tuple[str, str]], *, limit: int = 20, see_status: bool = True
) -> None:
    """One line per problem (where, why), the first ``limit`` of them, and how many more."""
    for source, reason in problems[:limit]:
        console.print(f"  • {escape(source)}: {escape(reason)}")
    if len(problems) > limit:
        more = len(problems) - limit
        if see_status:
            console.print(_("  … and {n} more: see 'evidence status'").format(n=more))
        else:
            console.print(_("  … and {n} more").format(n=more))


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
    with Progress(*columns, console=err_console.rich, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def report_import(report: ImportReport, what: str, *, as_json: bool) -> None:
    """Print an import's summary and exit 1 when anything failed."""
    if as_json:
        print_json(report.as_json())
    else:
        values = {
            "added": report.added,
            "what": escape(what),
            "duplicates": report.duplicates,
            "linked": report.linked,
        }
        if report.linked:
            summary = ngettext(
                "[green]Imported {added} new item[/] from {what}; {duplicates} already in the "
                "archive; {linked} linked to cases.",
                "[green]Imported {added} new items[/] from {what}; {duplicates} already in the "
                "archive; {linked} linked to cases.",
                report.added,
            )
        else:
            summary = ngettext(
                "[green]Imported {added} new item[/] from {what}; {duplicates} already in the "
                "archive.",
                "[green]Imported {added} new items[/] from {what}; {duplicates} already in the "
                "archive.",
                report.added,
            )
        console.print(summary.format(**values))
        if report.failed:
            console.print(
                _(
                    "[yellow]{n} could not be read fully[/] (originals kept where there were any):"
                ).format(n=report.failed)
            )
            print_problems([(e.source, e.reason) for e in report.errors])
    if report.failed:
        raise typer.Exit(EXIT_SOME_FAILED)
