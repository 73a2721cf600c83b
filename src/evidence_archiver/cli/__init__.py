"""The `evidence` command: a thin Typer layer over the library.

One Typer app per command group (``case``, ``import``), joined here; single commands are
registered from their modules. Every command opens the Archive, calls one library method and
prints the result (``--json`` for scripts).
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from .. import __version__
from ..i18n import _
from . import annotate, archive_cmds, browse, case, demo_cmd, documents, importing, ui_cmd
from . import export as export_cmds
from . import facts as fact_cmds
from . import imap as imap_cmds
from .common import EXIT_ERROR, State, err_console
from .localize import LocalizedGroup

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


def _version(value: bool) -> None:
    if value:
        print(f"evidence-archiver {__version__}")
        raise typer.Exit()


@app.callback()
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


app.command("init")(archive_cmds.init)
app.command("status")(archive_cmds.status)
app.add_typer(case.app, name="case")
app.add_typer(fact_cmds.app, name="fact")
app.add_typer(importing.app, name="import")
app.add_typer(imap_cmds.app, name="imap")
app.command("search")(browse.search)
app.command("timeline")(browse.timeline)
app.command("show")(browse.show)
app.command("tag")(annotate.tag)
app.command("note")(annotate.note)
app.command("demo")(demo_cmd.demo)
app.command("reindex")(documents.reindex)
app.command("export")(export_cmds.export)
app.command("verify")(export_cmds.verify)
app.command("timestamp")(export_cmds.timestamp)
app.command("ui")(ui_cmd.ui)


def main() -> None:
    """Console-script entry point; usage errors exit 2, as Click does."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print(_("[yellow]Stopped.[/]"))
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - never a traceback for a user
        err_console.print(_("[bold red]Unexpected error:[/] {message}").format(message=exc))
        sys.exit(EXIT_ERROR)
