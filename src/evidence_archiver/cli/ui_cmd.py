"""`evidence ui`: the review app in the browser (see ``evidence_archiver.ui``)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..archive import default_archive_path
from ..i18n import _
from .common import ArchiveOption, console, handle_errors


@handle_errors
def ui(
    port: Annotated[
        int, typer.Option("--port", help="The port to listen on (default: any free one).", min=0)
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open the browser; print the link only.")
    ] = False,
    archive: ArchiveOption = None,
) -> None:
    """Open the archive in your web browser: search, read, tag, build cases, export, verify.

    The app runs on this computer only (127.0.0.1) and nothing is sent anywhere. Stop it
    with Ctrl+C.

    Example: evidence ui --port 8765
    """
    from ..ui import UiConfig, serve

    config = UiConfig(archive=archive or default_archive_path(), port=port)

    def ready(url: str) -> None:
        console.print(_("The review app is open at:"))
        console.print(f"[bold]{url}[/]", soft_wrap=True)
        console.print(_("Keep this window open while you use it; press Ctrl+C to stop it."))

    serve(config, open_browser=not no_browser, on_ready=ready)
