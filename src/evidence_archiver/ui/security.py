"""The guard in front of every request of the review app.

The app serves private evidence from a server on the user's own machine, so it must not be
reachable by anything but the browser the user opened it in:

- **Loopback only.** The server binds 127.0.0.1, and every request must carry a ``Host``
  header naming it (``127.0.0.1:PORT`` or ``localhost:PORT``). A web page on another site that
  rebinds its own domain name to 127.0.0.1 (DNS rebinding) sends its own name as the host and
  is refused.
- **A secret in the first URL.** ``evidence ui`` opens the browser at ``/?token=SECRET`` (a
  random 256-bit token, as Jupyter does; through a private local page that sends it there,
  so the secret is never in a program's arguments). A request carrying it is answered with a
  redirect to the same address without it, setting an HttpOnly, SameSite=Strict cookie that
  holds it; every later request must present the cookie. Anything else is refused with 403.
  The cookie's name carries the port, so two archives open at once (on two ports) do not
  overwrite each other.
- **Changes need POST and a CSRF token.** State-changing routes accept only POST (the router
  answers GET with 405) and check a token derived from the secret in a hidden form field
  (:func:`csrf_token`, checked by the routes); a POST whose ``Origin`` is another site is
  refused here before its body is read.
- **Bounded requests.** A query string over :data:`MAX_QUERY` bytes is refused with 414 and a
  body over the route's limit with 413, counted as it arrives (a missing or false
  ``Content-Length`` changes nothing).
- **Strict headers on every response**, refusals included: a Content-Security-Policy that
  allows no script at all and nothing from anywhere but the app itself, ``nosniff``, no
  framing, no referrer sent to any other site (``same-origin``: with ``no-referrer`` a browser
  sends ``Origin: null`` on form posts, which the origin check must refuse), no caching.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode

from markupsafe import escape
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..i18n import _

MAX_QUERY = 8 * 1024
MAX_FORM_BODY = 256 * 1024
MAX_UPLOAD = 2 * 1024**3

# No script, no plugin, no remote anything: styles, images and forms from the app alone.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
)


def csrf_token(secret: str) -> str:
    """The token every form of the app carries; derived from the secret, never sent alone."""
    return hmac.new(secret.encode(), b"evidence-ui csrf", hashlib.sha256).hexdigest()


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def cookie_name(port: int) -> str:
    return f"evidence-ui-{port}"


class Guard:
    """ASGI middleware applying the rules in the module docstring.

    ``upload_paths`` are the routes that take a file (their body limit is ``max_upload``; every
    other body is limited to :data:`MAX_FORM_BODY`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: str,
        port: int,
        upload_paths: Iterable[str] = (),
        max_upload: int = MAX_UPLOAD,
    ) -> None:
        self.app = app
        self.secret = secret
        self.port = port
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        self.origins = {f"http://{h}" for h in self.hosts}
        self.cookie = cookie_name(port)
        self.upload_paths = frozenset(upload_paths)
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets: the app has none
        send = _with_headers(send)
        headers = Headers(scope=scope)
        if headers.get("host", "").lower() not in self.hosts:
            await _refuse(send, 403, _("This address is not served here."))
            return
        query: bytes = scope.get("query_string", b"")
        if len(query) > MAX_QUERY:
            await _refuse(send, 414, _("The address is too long."))
            return
        params = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        given = next((v for k, v in params if k == "token"), None)
        if given is not None and same_secret(given, self.secret):
            await self._welcome(scope, send, [(k, v) for k, v in params if k != "token"])
            return
        cookies = cookie_parser(headers.get("cookie", ""))
        if not same_secret(cookies.get(self.cookie), self.secret):
            await _refuse(
                send,
                403,
                _("Open the review app from the link 'evidence ui' printed (it holds a secret)."),
            )
            return
        if scope["method"] not in ("GET", "HEAD"):
            origin = headers.get("origin")
            if origin is not None and origin.lower() not in self.origins:
                await _refuse(send, 403, _("Changes can only come from the review app itself."))
                return
        limit = self.max_upload if scope["path"] in self.upload_paths else MAX_FORM_BODY
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _refuse(send, 413, _("What was sent is too large."))
            return
        await self.app(scope, _bounded(receive, limit), send)

    async def _welcome(self, scope: Scope, send: Send, rest: list[tuple[str, str]]) -> None:
        """The first visit: keep the secret in a cookie and drop it from the address bar."""
        location = scope["path"] + ("?" + urlencode(rest) if rest else "")
        cookie = f"{self.cookie}={self.secret}; HttpOnly; SameSite=Strict; Path=/"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", location.encode("latin-1", "replace")),
                    (b"set-cookie", cookie.encode()),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


class BodyTooLarge(Exception):
    """Raised into the app when a body grows past its limit as it arrives."""


def _bounded(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(f"the request body is over {limit} bytes")
        return message

    return bounded


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {name.lower() for name, _value in message.get("headers", [])}
            extra = [(n, v) for n, v in SECURITY_HEADERS if n not in names]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


async def _refuse(send: Send, status: int, text: str) -> None:
    page = f"<!doctype html><meta charset=utf-8><title>evidence</title><p>{escape(text)}</p>"
    body = page.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
