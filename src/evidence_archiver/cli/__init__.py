"""The `evidence` command: a thin Typer layer over the library.

One Typer app per command group (``case``, ``import``), joined here; single commands are
registered from their modules. Every command opens the Archive, calls one library method and
prints the result (``--json`` for scripts).

A run of ``evidence`` loads only the module of the command it runs (:data:`COMMANDS`; in the
``import`` group, :func:`.importing.make_app` does the same): the modules of all commands
together (the export, the review app, IMAP and the phone readers, each with what they import)
take longer to load than a small import takes to run. ``evidence --help``, a mistyped command
and ``app`` (what the tests and the catalogue use) have them all.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from .. import __version__
from ..i18n import _
from .common import EXIT_ERROR, State, defined_in, err_console
from .localize import LocalizedGroup

#: Every command: its name, the module under ``cli/`` that defines it and the name it has
#: there (a Typer app is a group of commands, ``make_app`` makes a group with the commands it is
#: given, a function is one command), in the order ``evidence --help`` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("archive_cmds", "init"),
    "status": ("archive_cmds", "status"),
    "case": ("case", "app"),
    "fact": ("facts", "app"),
    "import": ("importing", "make_app"),
    "imap": ("imap", "app"),
    "search": ("browse", "search"),
    "timeline": ("browse", "timeline"),
    "show": ("browse", "show"),
    "tag": ("annotate", "tag"),
    "note": ("annotate", "note"),
    "demo": ("demo_cmd", "demo"),
    "reindex": ("documents", "reindex"),
    "export": ("export", "export"),
    "verify": ("export", "verify"),
    "timestamp": ("export", "timestamp"),
    "ui": ("ui_cmd", "ui"),
}
# The options of `evidence` itself; none takes a value.
_ROOT_OPTIONS = ("--debug", "--version")


def _version(value: bool) -> None:
    if value:
        print(f"evidence-archiver {__version__}")
        raise typer.Exit()


def root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks when something goes wrong.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Archive every written trace of a dispute with a lender."""
    State.debug = debug
    # Libraries we use (PDF fonts, PDF parsing) log warnings about details a user cannot act
    # on, e.g. an emoji missing from the CJK font; the summaries say what matters.
    logging.getLogger().setLevel(logging.WARNING if debug else logging.ERROR)


def build_app(path: Sequence[str] | None = None) -> typer.Typer:
    """The `evidence` app with the command ``path`` names (``["import", "mbox"]``, the
    ``import`` group with only its ``mbox``; ``["search"]``), every command when None."""
    app = typer.Typer(
        name="evidence",
        cls=LocalizedGroup,
        help="Archive every written trace of a dispute with a lender, search it, and export a "
        "tamper-evident evidence bundle.\n\nStart with: evidence demo",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode="rich",
    )
    app.callback()(root)
    for name in COMMANDS if path is None else path[:1]:
        module_name, attribute = COMMANDS[name]
        defined = defined_in(module_name, attribute)
        if isinstance(defined, typer.Typer):
            app.add_typer(defined, name=name)
        elif attribute == "make_app":
            app.add_typer(defined(path[1:] if path and len(path) > 1 else None), name=name)
        else:
            app.command(name)(defined)
    return app


def command_path(args: Sequence[str]) -> list[str] | None:
    """The command an argument list runs: ``["--debug", "import", "mbox", "x.mbox"]`` runs
    ``["import", "mbox"]``, ``["search", "逾期"]`` runs ``["search"]``; None (every command)
    when it asks for the help of `evidence` itself or names no command (a typo)."""
    words = list(args)
    while words and words[0] in _ROOT_OPTIONS:
        words.pop(0)
    if not words or words[0] not in COMMANDS:
        return None
    module_name, attribute = COMMANDS[words[0]]
    if (
        attribute == "make_app"
        and len(words) > 1
        and words[1] in defined_in(module_name, "COMMANDS")
    ):
        return words[:2]
    return words[:1]


def __getattr__(name: str) -> typer.Typer:
    # `app`, the whole command tree, is made when first asked for (tests, the catalogue).
    if name == "app":
        app = build_app()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point; usage errors exit 2, as Click does."""
    try:
        build_app(command_path(sys.argv[1:]))()
    except KeyboardInterrupt:
        err_console.print(_("[yellow]Stopped.[/]"))
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - never a traceback for a user
        err_console.print(_("[bold red]Unexpected error:[/] {message}").format(message=exc))
        sys.exit(EXIT_ERROR)
    finally:
        # The command is over and the process ends here. While Python shuts down, its cycle
        # collector walks every object left several times over, looking for cycles to clean
        # up: 40 ms after an import of 500 messages (measured), as long as the import's own
        # writing. Nothing needs that: every archive and file is closed by the command that
        # opened it, and atexit handlers (progress bars, worker processes, temporary folders)
        # still run. Frozen objects are only left out of those passes.
        gc.freeze()
