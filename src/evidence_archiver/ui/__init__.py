"""``evidence ui``: the archive in the browser, for people who do not use a terminal.

A local review app: :func:`create_app` builds it for one archive file, :func:`serve` runs it
on 127.0.0.1 and returns when it is stopped. Pages (:mod:`.app`) call the same library as the
command line; :mod:`.security` keeps it to the browser that was given its secret;
:mod:`.work` runs the archive calls and the exports.
"""

from __future__ import annotations

from .app import UiConfig, create_app
from .server import serve

__all__ = ["UiConfig", "create_app", "serve"]
