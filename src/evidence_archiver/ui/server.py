"""Running the review app: a uvicorn server on a loopback socket the app binds itself.

The socket is bound here, to 127.0.0.1 only (never all interfaces), before the app is made,
so that with port 0 the port the system chose is known to the app's Host check and to the
URL the browser is opened at.
"""

from __future__ import annotations

import html
import os
import shutil
import socket
import tempfile
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import uvicorn

from ..errors import UsageError
from ..i18n import _
from .app import UiConfig, create_app

HOST = "127.0.0.1"


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0: any free port)."""
    # IPPROTO_TCP named explicitly: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # sockets that say they are TCP, and with it on every response waited 40 ms for an ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise UsageError(
            _(
                "cannot listen on {host}:{port} ({reason}): another program uses it; choose "
                "another --port, or leave it out to take any free one"
            ).format(host=HOST, port=port, reason=exc.strerror)
        ) from exc
    sock.listen(64)
    return sock


@dataclass
class Prepared:
    """A server ready to run on its bound socket; ``config.port`` is the real port."""

    server: uvicorn.Server
    sock: socket.socket
    config: UiConfig

    def run(self) -> None:
        """Serve until :meth:`stop` (or Ctrl+C in the main thread)."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def stop(self) -> None:
        self.server.should_exit = True


def prepare(config: UiConfig) -> Prepared:
    """Bind the socket, make the app for the port it got and the uvicorn server for it."""
    sock = bind(config.port)
    try:
        config = replace(config, port=sock.getsockname()[1])
        app = create_app(config)
    except BaseException:
        sock.close()
        raise
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            server_header=False,
            # Headers (the request line with its query string included) are capped at 16 KiB
            # by h11: a huge address is refused before it reaches the app.
            h11_max_incomplete_event_size=16 * 1024,
        )
    )
    return Prepared(server, sock, config)


def launch_page(url: str, folder: Path) -> Path:
    """A local page that sends the browser on to ``url``, in a folder only this user can read.

    The browser is opened at this file, not at the URL itself: a program's arguments can be
    seen by every user of the computer (``ps``), and the URL holds the secret (Jupyter does
    the same)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    page = folder / "open-evidence-ui.html"
    link = html.escape(url, quote=True)
    descriptor = os.open(page, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(
            "<!doctype html><meta charset=utf-8>"
            f'<meta http-equiv="refresh" content="0;url={link}">'
            f'<title>evidence ui</title><p><a href="{link}">evidence ui</a></p>\n'
        )
    return page


def serve(
    config: UiConfig,
    *,
    open_browser: bool = True,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until interrupted (Ctrl+C). ``on_ready(url)`` is called once it accepts requests;
    the browser is opened at that URL unless ``open_browser`` is false."""
    prepared = prepare(config)
    server, url = prepared.server, prepared.config.url

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            if on_ready is not None:
                on_ready(url)
            if open_browser:
                webbrowser.open(launch_page(url, folder).as_uri())

    folder = Path(tempfile.mkdtemp(prefix="evidence-ui-open-"))
    threading.Thread(target=announce, name="evidence-ui-announce", daemon=True).start()
    try:
        prepared.run()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
