"""Pull a mailbox over IMAP into the archive: incrementally, safely, and fast.

Safety first. The connection is implicit TLS (port 993) by default, with the certificate and
the host name verified against the system's CAs or, with ``ca_file``, only against that CA.
STARTTLS (port 143) is all or nothing: a server that does not offer it, or a man in the middle
who strips it from the capability list, is an error, never a plaintext login. Plain text is for
a server on this machine only (``security="plaintext"`` with a loopback host). Folders are
opened read-only (``EXAMINE``) and bodies fetched with ``BODY.PEEK[]``, so the importer never
changes a flag or a message on the server. Every socket has a timeout.

Providers. :func:`resolve_account` finds the server from ``--provider`` or the address
(:mod:`connectors.imap_providers`). After login the client identifies itself with the RFC 2971
``ID`` command whenever the server offers it: NetEase (163.com, 126.com, yeah.net, 188.com)
answers every SELECT/EXAMINE with "Unsafe Login" until a client has, and when it still does,
:class:`ImapUnsafeLoginError` says what it means. A refused login says what that provider
needs (an authorisation code 授权码 for QQ and NetEase, an app password or OAuth2 for Gmail,
OAuth2 for Outlook), with the server's own words, cleaned of control characters.

Folder names. The client asks for the names as the server sends them and decodes them itself
(modified UTF-7: ``&XfJT0ZAB-`` is 已发送); a malformed name is shown as sent, never an error,
and a folder is opened by the server's own bytes. The sent folder is the one flagged
``\\Sent``, else the provider's own name for it, else a usual name (Sent, 已发送…).

Incremental. Per account and folder the archive keeps ``{"uidvalidity", "last_uid", "since"}``
(:meth:`Archive.source_state`). A run asks the server for UIDs above ``last_uid`` only. When the
folder's UIDVALIDITY changed (the folder was recreated, or the server renumbered it) the change
is reported and the whole folder is read again: originals are stored by SHA-256, so what was
already archived is neither duplicated nor dropped. A server that gives no UIDVALIDITY is read
whole every time, with a warning, and dedup by hash does the rest.

Fast. UIDs are grouped into batches by their ``RFC822.SIZE`` (a few MB per ``UID FETCH``). A
fetcher reads batches from the network into a bounded queue while they are fed to
:func:`connectors.email.prepare_many` (parsing in worker processes) and the archive writer (one
transaction per ``ingest`` batch): network, parsing and writing overlap. For a folder with 8 MB
of new mail or more the fetcher runs in a process of its own on a connection of its own
(imapclient spends about 100 µs of CPU per message reading the server's answer, which in a
thread would take the writer's GIL); for less, a thread on the planning connection does, so a
small folder costs no second login. ``last_uid`` is advanced only after the batch holding that
UID has committed, so a killed import keeps what it wrote and the next run resumes after it.

Faults. A dropped connection, a ``BYE`` or a socket timeout during a fetch makes the fetcher
reconnect (with exponential back-off, a bounded number of consecutive times), re-open the folder,
check that its UIDVALIDITY did not change, and fetch the batch again. When it gives up, what was
fetched before is still committed and the folder's report says why it stopped.
"""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import queue
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from imapclient import IMAPClient, imap_utf7
from imapclient import exceptions as imap_errors

from ..archive import Archive
from ..archive.ingest import PreparedCapture
from ..errors import SourceError
from ..i18n import _
from ..importing import read_pdf_attachments
from ..model import Capture, ImportProblem, SourceRef
from . import imap_providers
from .background import ReaderProcessError, in_child_process
from .email import SMALL_INPUT_BYTES, NotedMessage, prepare_many, workers_for
from .imap_auth import Credentials, OAuth2Token, source_name
from .imap_providers import Security as Security


def _package_version() -> str:
    try:
        return metadata.version("evidence-archiver")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0"


CONNECTOR = "imap"
DEFAULT_PORTS: dict[Security, int] = {"tls": 993, "starttls": 143, "plaintext": 143}
# Names servers without SPECIAL-USE give their sent folder (used only when no folder is flagged
# and the provider's own names found nothing).
SENT_NAMES = (
    "Sent", "Sent Items", "Sent Messages", "Sent Mail", "已发送", "已發送", "已发邮件",
    "已发送邮件", "已傳送郵件",
)  # fmt: skip
# What this client tells a server that asks who it is (RFC 2971 ID). NetEase opens no folder
# for a client that has not said it.
CLIENT_ID = {
    "name": "evidence-archiver",
    "version": _package_version(),
    "vendor": "evidence-archiver",
}
# Errors after which a fresh connection may succeed (dropped link, BYE, timeout, TLS EOF).
TRANSIENT: tuple[type[BaseException], ...] = (
    imaplib.IMAP4.abort,
    OSError,
    EOFError,
    imap_errors.ProtocolError,
)


class ImapError(SourceError):
    """The account or a folder cannot be read; the message says what to do."""


class ImapConnectError(ImapError):
    """The server could not be reached or dropped the link: trying again later may work."""


class ImapUnsafeLoginError(ImapError):
    """NetEase's "Unsafe Login": the server opens no folder for a client that did not send ID."""


RETRYABLE: tuple[type[BaseException], ...] = (ImapConnectError, *TRANSIENT)


@dataclass(frozen=True)
class ImapAccount:
    """Where and how to connect. ``port`` defaults to 993 for TLS and 143 otherwise."""

    host: str
    user: str
    port: int | None = None
    security: Security = "tls"
    ca_file: Path | None = None
    timeout: float = 60.0
    provider: str | None = None  # a key of imap_providers.PROVIDERS: its advice and folders
    send_id: bool = True  # identify with RFC 2971 ID when the server offers it (NetEase needs it)

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    def container(self, folder: str) -> str:
        """The archive's name for one folder of this account: ``user@host/folder``."""
        return f"{self.user}@{self.host.lower()}/{folder}"


def resolve_account(
    user: str,
    *,
    host: str | None = None,
    provider: str | None = None,
    port: int | None = None,
    security: Security | None = None,
    ca_file: Path | None = None,
    timeout: float = 60.0,
) -> ImapAccount:
    """The account to connect to, from what the user gave (the order is in
    :mod:`connectors.imap_providers`).

    >>> resolve_account("wang@163.com").host
    'imap.163.com'
    >>> resolve_account("wang@163.com", host="127.0.0.1", port=1143).provider
    '163'
    """
    providers = imap_providers
    chosen = providers.get_provider(provider) if provider else None
    domain = providers.domain_of(user)
    chosen = chosen or providers.provider_for_host(host) or providers.provider_for_domain(domain)
    if host:
        server = host
    elif chosen is not None:
        server = chosen.host_for(domain)
    else:
        raise ImapError(
            _(
                "cannot tell which IMAP server holds {user}: give the server with --host (your "
                "provider's help pages call it the IMAP or 收件 server), or the provider with "
                "--provider ({providers})"
            ).format(user=user, providers=", ".join(providers.PROVIDERS))
        )
    # The preset's port and TLS apply to the preset's server, never to a host the user named.
    preset = chosen if chosen is not None and not host else None
    mode: Security = security or (preset.security if preset else "tls")
    if port is None and preset is not None and mode == preset.security:
        port = preset.port
    account = ImapAccount(
        host=server,
        user=user,
        port=port,
        security=mode,
        ca_file=ca_file,
        timeout=timeout,
        provider=chosen.key if chosen else None,
    )
    return account if account.port is not None else replace(account, port=DEFAULT_PORTS[mode])


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificate and host name verification on; with ``ca_file``, trust only that CA."""
    if ca_file is not None and not ca_file.is_file():
        raise ImapError(_("the CA file {ca_file} does not exist").format(ca_file=ca_file))
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except ssl.SSLError as exc:
        raise ImapError(
            _("cannot read the CA file {ca_file}: {error}").format(ca_file=ca_file, error=exc)
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _tls_failure(account: ImapAccount, exc: ssl.SSLError) -> ImapError:
    where = f"{account.host}:{account.effective_port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        hint = (
            _(
                "if the server uses a private certificate authority, pass its certificate with "
                "--ca-file"
            )
            if account.ca_file is None
            else _("it is not signed by the CA in {ca_file}").format(ca_file=account.ca_file)
        )
        return ImapError(
            _(
                "refusing {where}: its TLS certificate cannot be verified ({verify_message}); "
                "{hint}. Nothing was sent to it."
            ).format(where=where, verify_message=exc.verify_message, hint=hint)
        )
    # Anything else (EOF or reset during the handshake) may be a passing network fault.
    return ImapConnectError(
        _("TLS with {where} failed ({error}); nothing was sent to it").format(
            where=where, error=exc
        )
    )


def connect(account: ImapAccount, credentials: Credentials) -> IMAPClient:
    """Open a verified connection and log in; raise :class:`ImapError` with the reason if not.

    The one place a connection is made (a test seam: :func:`import_imap` takes another
    ``connect`` callable).
    """
    if account.security == "plaintext" and not is_loopback(account.host):
        raise ImapError(
            _(
                "refusing a plaintext connection to {host}: the password and the mail would cross "
                "the network unencrypted. Use TLS (the default) or --starttls"
            ).format(host=account.host)
        )
    context = tls_context(account.ca_file) if account.security != "plaintext" else None
    where = f"{account.host}:{account.effective_port}"
    try:
        client = IMAPClient(
            account.host,
            port=account.effective_port,
            ssl=account.security == "tls",
            ssl_context=context,
            timeout=account.timeout,
        )
    except ssl.SSLError as exc:
        raise _tls_failure(account, exc) from exc
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapConnectError(
            _("cannot connect to {where}: {error}").format(where=where, error=exc)
        ) from exc
    # INTERNALDATE as the server gave it (aware), not converted to naive local time.
    client.normalise_times = False
    try:
        if account.security == "starttls":
            _start_tls(client, account, context)
        _login(client, account, credentials)
        if account.send_id:
            identify(client)
    except BaseException:
        with contextlib.suppress(Exception):
            client.shutdown()
        raise
    return client


def _start_tls(client: IMAPClient, account: ImapAccount, context: ssl.SSLContext | None) -> None:
    where = f"{account.host}:{account.effective_port}"
    try:
        capabilities = client.capabilities()
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapConnectError(
            _("cannot talk to {where}: {error}").format(where=where, error=exc)
        ) from exc
    if b"STARTTLS" not in capabilities:
        raise ImapError(
            _(
                "refusing {where}: it does not offer STARTTLS (or something between you and it "
                "removed the offer), so the password would be sent unencrypted. Try the default "
                "implicit TLS on port 993"
            ).format(where=where)
        )
    try:
        client.starttls(context)
    except ssl.SSLError as exc:
        raise _tls_failure(account, exc) from exc
    except (OSError, imaplib.IMAP4.abort) as exc:
        raise ImapConnectError(
            _("STARTTLS with {where} failed ({error}); nothing was sent").format(
                where=where, error=exc
            )
        ) from exc
    except imaplib.IMAP4.error as exc:
        raise ImapError(
            _("STARTTLS with {where} failed ({error}); nothing was sent").format(
                where=where, error=exc
            )
        ) from exc


def _login(client: IMAPClient, account: ImapAccount, credentials: Credentials) -> None:
    try:
        if isinstance(credentials, OAuth2Token):
            client.oauth2_login(account.user, credentials.token)
        else:
            client.login(account.user, credentials.secret)
    except imap_errors.LoginError as exc:
        raise ImapError(login_refused_message(account, credentials, str(exc))) from exc
    except (OSError, imaplib.IMAP4.abort) as exc:
        raise ImapConnectError(
            _("login to {host} failed: {error}").format(host=account.host, error=exc)
        ) from exc
    except imaplib.IMAP4.error as exc:
        raise ImapError(
            _("login to {host} failed: {error}").format(
                host=account.host, error=server_text(str(exc))
            )
        ) from exc


def server_text(text: str, limit: int = 200) -> str:
    """What a server said, safe to show: one line, no control characters, at most ``limit``."""
    clean = "".join(c if c.isprintable() else " " for c in text)
    clean = " ".join(clean.split())
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def login_refused_message(account: ImapAccount, credentials: Credentials, said: str) -> str:
    """Why the login was refused and what the user's provider needs, in plain words."""
    said = server_text(said)
    advice = imap_providers.login_help(account.provider, account.user)
    source = source_name(credentials.source)
    if isinstance(credentials, OAuth2Token):
        return _(
            "{host} refused the login for {user} (the server said: {said}). The OAuth2 access "
            "token from the {source} was not accepted: it may have expired, or it was made for "
            "another account or without the IMAP permission: get a new one"
        ).format(host=account.host, user=account.user, said=said, source=source)
    if advice is None:
        return _(
            "{host} refused the login for {user} (the server said: {said}). Check the password "
            "(from the {source}). Many providers want an app password or an authorisation code "
            "made in their web settings rather than the web password; Gmail and Outlook need an "
            "app password or OAuth2 (EVIDENCE_IMAP_OAUTH2_TOKEN)"
        ).format(host=account.host, user=account.user, said=said, source=source)
    return _(
        "{host} refused the login for {user} (the server said: {said}). The password came from "
        "the {source}. {advice}"
    ).format(host=account.host, user=account.user, said=said, source=source, advice=advice)


def identify(client: IMAPClient) -> dict[str, str] | None:
    """Send RFC 2971 ID when the server offers it; return what the server says about itself.

    NetEase (163.com, 126.com, yeah.net, 188.com) answers SELECT and EXAMINE with "Unsafe
    Login" until the client has said who it is. A server that answers ID with a refusal or
    with garbage is not an error: ID is a courtesy everywhere else, and if the server really
    needed it the folder refusal says so (:func:`unsafe_login_message`).
    """
    try:
        if not client.has_capability("ID"):
            return None
        answer = client.id_(CLIENT_ID)
    except (imaplib.IMAP4.abort, OSError):
        raise
    except (imaplib.IMAP4.error, imap_errors.IMAPClientError, ValueError, TypeError):
        return None
    return _id_fields(answer)


def _id_fields(answer: object) -> dict[str, str]:
    """The server's ID answer as text pairs; anything malformed is dropped."""
    if isinstance(answer, tuple | list) and len(answer) == 1 and isinstance(answer[0], tuple):
        answer = answer[0]  # imapclient wraps the parenthesised list in a tuple
    if not isinstance(answer, tuple | list):
        return {}
    values = [server_text(_text(v), 100) for v in answer if isinstance(v, bytes | str | int)]
    return dict(zip(values[0::2], values[1::2], strict=False))


def is_unsafe_login(text: str) -> bool:
    return "unsafe login" in text.lower()


def unsafe_login_message(account: ImapAccount, folder: str, said: str) -> str:
    """NetEase's "Unsafe Login" explained: what it means and what the user can do."""
    said = server_text(said)
    if not account.send_id:
        return _(
            "{host} refused to open the folder {folder} ({said}). NetEase mail (163.com, "
            "126.com, yeah.net, 188.com) opens folders only for a mail program that first says "
            "who it is with the IMAP ID command, and sending it was turned off (send_id=False). "
            "Import again with it on (the default)"
        ).format(host=account.host, folder=folder, said=said)
    return _(
        "{host} refused to open the folder {folder} ({said}). NetEase mail (163.com, 126.com, "
        "yeah.net, 188.com) opens folders only for a mail program that first says who it is "
        "with the IMAP ID command; this one does so whenever the server offers ID, but this "
        "server did not offer it or did not accept it. Sign in to the web mailbox: if it shows "
        "a security notice about a new mail client, allow it; check that IMAP is on under 设置 "
        "(Settings) → POP3/SMTP/IMAP; then import again"
    ).format(host=account.host, folder=folder, said=said)


# -- folders ------------------------------------------------------------------------------------


ROLE_FLAGS = {
    "\\sent": "sent", "\\drafts": "drafts", "\\junk": "junk", "\\spam": "junk",
    "\\trash": "trash", "\\archive": "archive", "\\all": "all", "\\allmail": "all",
    "\\flagged": "flagged", "\\starred": "flagged", "\\inbox": "inbox",
}  # fmt: skip
# Folder names by role where the server flags nothing (NetEase, Sina, 139 and QQ use these).
ROLE_NAMES = {
    "drafts": ("Drafts", "草稿箱", "草稿", "草稿夹"),
    "junk": ("Junk", "Spam", "Junk E-mail", "Junk Email", "垃圾邮件", "垃圾箱", "广告邮件"),
    "trash": ("Trash", "Deleted Messages", "Deleted Items", "已删除", "已删除邮件", "废件箱"),
    "sent": SENT_NAMES,
}


@dataclass(frozen=True)
class Folder:
    """A folder as listed by the server.

    ``name`` is what the user sees and types (decoded from IMAP's modified UTF-7: ``已发送``
    for ``&XfJT0ZAB-``); ``raw`` is the name exactly as the server sent it, which is what
    this client sends back to open the folder, so that a name that does not survive decoding
    and encoding again (malformed, or a server's own variant) still opens.
    """

    name: str
    flags: tuple[str, ...]
    raw: str = ""

    @property
    def selectable(self) -> bool:
        return not {"\\noselect", "\\nonexistent"} & {f.lower() for f in self.flags}

    @property
    def wire_name(self) -> str:
        return self.raw or imap_utf7.encode(self.name).decode("ascii")

    def role(self, provider: str | None = None) -> str | None:
        """``inbox``, ``sent``, ``drafts``, ``junk``, ``trash``… by flag, else by known name."""
        if self.name.upper() == "INBOX":
            return "inbox"
        for flag in self.flags:
            if flag.lower() in ROLE_FLAGS:
                return ROLE_FLAGS[flag.lower()]
        if self.name in imap_providers.sent_names(provider):
            return "sent"
        leaf = _leaf(self.name)
        return next((role for role, names in ROLE_NAMES.items() if leaf in names), None)


def _leaf(name: str) -> str:
    return name.split("/")[-1].split(".")[-1]


def decode_folder_name(raw: bytes) -> str:
    """A folder name for people: modified UTF-7 decoded; hostile input never raises.

    >>> decode_folder_name(b"&XfJT0ZAB-"), decode_folder_name(b"&!!-")
    ('已发送', '&!!-')

    A name that is not valid modified UTF-7 is shown as the server sent it; a name in raw
    8-bit bytes (servers that ignore the encoding rule) is read as UTF-8, else GB18030.
    """
    if raw.isascii():
        try:
            decoded = imap_utf7.decode(raw)
        except (UnicodeError, ValueError):
            return raw.decode("ascii")
        # A decoded name with control characters is not a name anyone gave: show the original.
        return decoded if decoded.isprintable() else raw.decode("ascii")
    for charset in ("utf-8", "gb18030"):
        try:
            return raw.decode(charset)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


def list_folders(client: IMAPClient) -> list[Folder]:
    """Every folder the server lists, names decoded, each display name unique."""
    client.folder_encode = False  # names come back as the server's bytes; we decode them
    folders: list[Folder] = []
    seen: set[str] = set()
    for flags, _delimiter, name in client.list_folders():
        raw = name if isinstance(name, bytes) else str(name).encode("utf-8", "replace")
        shown = decode_folder_name(raw)
        if shown in seen:  # two server names that decode alike: keep them apart
            shown = f"{shown} [{raw.decode('ascii', 'backslashreplace')}]"
        seen.add(shown)
        wire = raw.decode("ascii") if raw.isascii() else ""
        folders.append(Folder(shown, tuple(_text(f) for f in flags), wire))
    return folders


def select(client: IMAPClient, folder: Folder) -> dict[bytes, Any]:
    """EXAMINE the folder (read-only) by the name the server gave it.

    (A name the server sent in raw 8-bit bytes cannot go back as it came without UTF8=ACCEPT;
    it is sent in modified UTF-7, which is what the standard says the server should accept.)
    """
    client.folder_encode = False
    return dict(client.select_folder(folder.wire_name, readonly=True))


def choose_folders(
    available: Sequence[Folder],
    wanted: Sequence[str] = (),
    *,
    all_folders: bool = False,
    provider: str | None = None,
) -> list[str]:
    """The folders to import: ``wanted`` (checked), everything, or INBOX plus the sent folders.

    The sent folder is the one flagged ``\\Sent`` (SPECIAL-USE); where none is flagged, the
    provider's own name for it (NetEase: 已发送; QQ: Sent Messages), else any usual name.

    >>> choose_folders([Folder("INBOX", ()), Folder("Sent", ("\\\\Sent",))])
    ['INBOX', 'Sent']
    >>> choose_folders([Folder("INBOX", ()), Folder("已发送", ()), Folder("垃圾邮件", ())])
    ['INBOX', '已发送']
    """
    selectable = [f for f in available if f.selectable]
    names = [f.name for f in selectable]
    if all_folders:
        return sorted(names, key=lambda n: (n.upper() != "INBOX", n))
    if wanted:
        by_lower = {n.lower(): n for n in names}
        chosen = []
        for name in wanted:
            found = name if name in names else by_lower.get(name.lower())
            if found is None:
                raise ImapError(
                    _("there is no folder {name} on the server; its folders are: {folders}").format(
                        name=repr(name), folders=", ".join(names)
                    )
                )
            chosen.append(found)
        return list(dict.fromkeys(chosen))
    chosen = [n for n in names if n.upper() == "INBOX"]
    sent = [f.name for f in selectable if "\\sent" in {x.lower() for x in f.flags}]
    if not sent:
        # The provider's own name first; one folder, not every look-alike.
        own = imap_providers.sent_names(provider)
        sent = [n for n in own if n in names][:1]
    if not sent:
        sent = [n for n in names if _leaf(n) in SENT_NAMES]
    return list(dict.fromkeys(chosen + sent))


# -- reports ------------------------------------------------------------------------------------


@dataclass
class FolderReport:
    """What happened to one folder. ``stopped`` is set when the import of it did not finish."""

    folder: str
    container: str
    uidvalidity: int | None = None
    to_fetch: int = 0
    fetched: int = 0
    bytes: int = 0
    added: int = 0
    duplicates: int = 0
    failed: int = 0
    vanished: int = 0
    linked: int = 0
    reconnects: int = 0
    import_id: int | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stopped: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "container": self.container,
            "uidvalidity": self.uidvalidity,
            "to_fetch": self.to_fetch,
            "fetched": self.fetched,
            "bytes": self.bytes,
            "added": self.added,
            "duplicates": self.duplicates,
            "failed": self.failed,
            "vanished": self.vanished,
            "linked": self.linked,
            "reconnects": self.reconnects,
            "import_id": self.import_id,
            "errors": self.errors,
            "warnings": self.warnings,
            "stopped": self.stopped,
        }


@dataclass
class ImapImportReport:
    account: str
    folders: list[FolderReport] = field(default_factory=list)
    not_imported: list[str] = field(default_factory=list)  # other folders, left as chosen

    @property
    def added(self) -> int:
        return sum(f.added for f in self.folders)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.folders)

    @property
    def failed(self) -> int:
        return sum(f.failed for f in self.folders)

    @property
    def linked(self) -> int:
        return sum(f.linked for f in self.folders)

    @property
    def complete(self) -> bool:
        return all(f.stopped is None for f in self.folders)

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "added": self.added,
            "duplicates": self.duplicates,
            "failed": self.failed,
            "linked": self.linked,
            "complete": self.complete,
            "folders": [f.as_json() for f in self.folders],
            "not_imported": self.not_imported,
        }


class ImapProgress(Protocol):
    """What the CLI shows while an import runs (all calls come from the calling thread)."""

    def folder_started(self, folder: str, messages: int, size: int) -> None: ...

    def advance(self, folder: str, messages: int, size: int) -> None: ...

    def folder_finished(self, report: FolderReport) -> None: ...

    def warn(self, message: str) -> None: ...


# -- fetching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes
    meta: dict[str, Any]


@dataclass(frozen=True)
class _GaveUp:
    reason: str


_DONE = object()
ConnectFn = Callable[[ImapAccount, Credentials], IMAPClient]


class _Session:
    """One logged-in connection that can be replaced after a fault."""

    def __init__(self, account: ImapAccount, credentials: Credentials, connect_fn: ConnectFn):
        self.account = account
        self.credentials = credentials
        self.connect_fn = connect_fn
        self.client: IMAPClient | None = None

    def open(self) -> IMAPClient:
        if self.client is None:
            self.client = self.connect_fn(self.account, self.credentials)
        return self.client

    def drop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.shutdown()
            self.client = None

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.logout()
        self.drop()


def _label(value: object) -> str:
    """A Gmail label: modified UTF-7 like a folder name (``[Gmail]/&XfJT0ZAB-``)."""
    return decode_folder_name(value) if isinstance(value, bytes) else str(value)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def batches_by_size(
    sizes: Iterable[tuple[int, int]], *, max_bytes: int, max_messages: int
) -> list[list[int]]:
    """Group ``(uid, size)`` into UID batches of at most ``max_bytes`` (a bigger message goes
    alone) and ``max_messages``.

    >>> batches_by_size([(1, 10), (2, 10), (3, 50), (4, 1)], max_bytes=25, max_messages=10)
    [[1, 2], [3], [4]]
    """
    out: list[list[int]] = []
    current: list[int] = []
    total = 0
    for uid, size in sizes:
        if current and (total + size > max_bytes or len(current) >= max_messages):
            out.append(current)
            current, total = [], 0
        current.append(uid)
        total += size
    if current:
        out.append(current)
    return out


def message_meta(
    folder: str, uidvalidity: int | None, uid: int, data: dict[bytes, Any]
) -> dict[str, Any]:
    """The IMAP facts about one message, from imapclient's FETCH response, as kept in the item:

    ``{"folder": "INBOX", "uid": 5, "uidvalidity": 1795874481, "internaldate":
    "2024-03-01T09:30:00+08:00", "flags": ["\\Seen"], "size": 4242, "gmail": {"msgid":
    "1278455344230334865", "thrid": "…", "labels": ["\\Inbox", "Loans/LenderX"]}}``
    (``gmail`` only when the server offers X-GM-EXT-1).
    """
    meta: dict[str, Any] = {"folder": folder, "uid": uid, "uidvalidity": uidvalidity}
    internal = data.get(b"INTERNALDATE")
    if isinstance(internal, datetime):
        meta["internaldate"] = internal.isoformat()
    meta["flags"] = [_text(f) for f in data.get(b"FLAGS", ())]
    if b"RFC822.SIZE" in data:
        meta["size"] = int(data[b"RFC822.SIZE"])
    if b"X-GM-MSGID" in data:
        meta["gmail"] = {
            "msgid": str(data[b"X-GM-MSGID"]),
            "thrid": str(data.get(b"X-GM-THRID", "")),
            "labels": [_label(label) for label in data.get(b"X-GM-LABELS", ())],
        }
    return meta


class _Fetcher(threading.Thread):
    """Fetch the batches of one folder into a bounded queue, reconnecting after faults."""

    def __init__(
        self,
        session: _Session,
        listing: Folder,
        uidvalidity: int | None,
        batches: list[list[int]],
        items: list[str],
        *,
        retries: int,
        backoff: float,
        depth: int = 4,
    ) -> None:
        super().__init__(name=f"imap-fetch {listing.name}", daemon=True)
        self.session = session
        self.listing = listing
        self.folder = listing.name
        self.uidvalidity = uidvalidity
        self.batches = batches
        self.items = items
        self.retries = retries
        self.backoff = backoff
        self.out: queue.Queue[object] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.reconnects = 0
        self.vanished = 0

    def _put(self, value: object) -> bool:
        while not self.stop.is_set():
            try:
                self.out.put(value, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            for batch in self.batches:
                fetched = self._fetch(batch)
                if isinstance(fetched, _GaveUp):
                    self._put(fetched)
                    return
                if not self._put(fetched):
                    return
            self._put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - reported to the consumer, never lost
            self._put(
                _GaveUp(
                    _("unexpected error while fetching: {kind}: {error}").format(
                        kind=type(exc).__name__, error=exc
                    )
                )
            )

    def _reopen(self) -> None:
        self.session.drop()
        client = self.session.open()
        info = select(client, self.listing)
        now = info.get(b"UIDVALIDITY")
        if self.uidvalidity is not None and now is not None and int(now) != self.uidvalidity:
            raise ImapError(
                _(
                    "the folder {folder} was renumbered on the server during the import "
                    "(UIDVALIDITY {uidvalidity} became {now}): run the import again"
                ).format(folder=self.folder, uidvalidity=self.uidvalidity, now=now)
            )

    def _fetch(self, batch: list[int]) -> list[Fetched] | _GaveUp:
        failures = 0
        while True:
            try:
                if failures or self.session.client is None:
                    # After a fault, or on a connection of its own (a fetching process): log in,
                    # send ID, open the folder and check it was not renumbered.
                    self._reopen()
                client = self.session.open()
                response = client.fetch(batch, self.items)
                break
            except RETRYABLE as exc:
                failures += 1
                self.session.drop()
                if failures > self.retries or self.stop.is_set():
                    return _GaveUp(
                        _(
                            "the connection to {host} kept failing ({kind}: {error}); gave up "
                            "after {failures} attempts. What was fetched before is saved: run the "
                            "import again to resume"
                        ).format(
                            host=self.session.account.host,
                            kind=type(exc).__name__,
                            error=exc,
                            failures=failures,
                        )
                    )
                self.reconnects += 1
                if self.stop.wait(self.backoff * 2 ** (failures - 1)):
                    return _GaveUp("stopped")
            except ImapError as exc:
                return _GaveUp(str(exc))
            except imaplib.IMAP4.error as exc:
                # A refusal (NO/BAD), e.g. the folder was deleted while we were importing it.
                if is_unsafe_login(str(exc)):
                    account = self.session.account
                    return _GaveUp(unsafe_login_message(account, self.folder, str(exc)))
                return _GaveUp(
                    _("the server refused to go on with {folder}: {error}").format(
                        folder=self.folder, error=server_text(str(exc))
                    )
                )
        out = []
        for uid in batch:
            data = response.get(uid)
            raw = data.get(b"BODY[]") if data else None
            if raw is None:
                # Expunged between the search and the fetch: nothing to keep.
                self.vanished += 1
                continue
            out.append(
                Fetched(uid, bytes(raw), message_meta(self.folder, self.uidvalidity, uid, data))
            )
        return out


@dataclass(frozen=True)
class _FolderJob:
    """What fetching one folder needs; picklable, so that a process of its own can do it."""

    account: ImapAccount
    credentials: Credentials
    connect_fn: ConnectFn
    listing: Folder
    uidvalidity: int | None
    container: str
    batches: list[list[int]]
    items: list[str]
    retries: int
    backoff: float


@dataclass(frozen=True)
class _Outcome:
    """How the fetching of a folder ended: reconnections, messages gone, why it gave up."""

    reconnects: int
    vanished: int
    gave_up: str | None


def _fetched(fetcher: _Fetcher) -> Generator[list[Fetched], None, _Outcome]:
    """The batches a running :class:`_Fetcher` fetches, in UID order, then how it ended."""
    gave_up: str | None = None
    while True:
        got = fetcher.out.get()
        if got is _DONE:
            break
        if isinstance(got, _GaveUp):
            gave_up = got.reason
            break
        assert isinstance(got, list)
        yield got
    return _Outcome(fetcher.reconnects, fetcher.vanished, gave_up)


def _fetch_here(session: _Session, job: _FolderJob) -> Generator[list[Fetched], None, _Outcome]:
    """Fetch the folder in a thread of this process, on ``session`` (the folder selected)."""
    fetcher = _Fetcher(
        session,
        job.listing,
        job.uidvalidity,
        job.batches,
        job.items,
        retries=job.retries,
        backoff=job.backoff,
    )
    fetcher.start()
    try:
        return (yield from _fetched(fetcher))
    finally:
        fetcher.stop.set()
        fetcher.join(30)


def _fetch_on_own_connection(job: _FolderJob) -> Generator[list[Fetched], None, _Outcome]:
    """:func:`_fetch_here` on a connection of its own: what the fetching process runs
    (:func:`~.background.in_child_process`).

    imapclient reads a FETCH response in pure Python, about 100 µs of CPU per message: in a
    process of its own that leaves the writer's process, whose GIL it would otherwise share
    with the writer and with the thread that feeds the parsing workers. The connection logs in,
    sends ID and opens the folder (checking its UIDVALIDITY) before the first fetch.
    """
    session = _Session(job.account, job.credentials, job.connect_fn)
    try:
        return (yield from _fetch_here(session, job))
    finally:
        session.close()


# -- the import ---------------------------------------------------------------------------------


@dataclass
class _Plan:
    folder: str
    uidvalidity: int | None
    uids_with_sizes: list[tuple[int, int]]
    warnings: list[str]
    highest_uid: int


def _plan_folder(
    client: IMAPClient, listing: Folder, state: dict[str, Any], since: date | None
) -> _Plan:
    folder = listing.name
    info = select(client, listing)
    raw_validity = info.get(b"UIDVALIDITY")
    uidvalidity = int(raw_validity) if raw_validity is not None else None
    warnings: list[str] = []
    start = 1
    if uidvalidity is None:
        warnings.append(
            _(
                "{folder}: the server gives no UIDVALIDITY, so the whole folder is read every "
                "time; duplicates are recognised by their SHA-256 and stored once"
            ).format(folder=folder)
        )
    elif state.get("uidvalidity") not in (None, uidvalidity):
        warnings.append(
            _(
                "{folder}: UIDVALIDITY changed from {old} to {uidvalidity} (the folder was "
                "recreated or renumbered on the server); reading it all again. Messages already "
                "archived are kept and not duplicated"
            ).format(folder=folder, old=state["uidvalidity"], uidvalidity=uidvalidity)
        )
    elif state.get("uidvalidity") == uidvalidity and _covers(state.get("since"), since):
        start = int(state.get("last_uid", 0)) + 1
    exists = int(info.get(b"EXISTS", 0))
    uids: list[int] = []
    if exists:
        criteria: list[Any] = ["UID", f"{start}:*"]
        if since is not None:
            criteria += ["SINCE", since]
        # "N:*" always matches the highest UID, even below N: filter.
        uids = sorted(u for u in client.search(criteria) if u >= start)
    sizes: list[tuple[int, int]] = []
    for i in range(0, len(uids), 1000):
        chunk = uids[i : i + 1000]
        response = client.fetch(chunk, ["RFC822.SIZE"])
        # A server that leaves the size out still gets its messages fetched (in count batches).
        sizes += [(u, int(response[u].get(b"RFC822.SIZE", 0))) for u in chunk if u in response]
    highest = max(uids[-1] if uids else 0, start - 1)
    return _Plan(folder, uidvalidity, sizes, warnings, highest)


def _covers(stored_since: str | None, since: date | None) -> bool:
    """Did the stored scan (from ``stored_since``, None = everything) cover ``since``?"""
    if stored_since is None:
        return True
    return since is not None and since.isoformat() >= stored_since


def import_imap(
    archive: Archive,
    account: ImapAccount,
    credentials: Credentials,
    *,
    folders: Sequence[str] = (),
    all_folders: bool = False,
    since: date | None = None,
    case: str | None = None,
    batch_bytes: int = 8 << 20,
    batch_messages: int = 500,
    ingest_batch: int = 500,
    retries: int = 5,
    backoff: float = 1.0,
    workers: int | None = None,
    fetch_process: bool | None = None,
    progress: ImapProgress | None = None,
    connect_fn: ConnectFn = connect,
) -> ImapImportReport:
    """Import the chosen folders of an account; return a report per folder.

    Raises :class:`ImapError` only when the account cannot be used at all (connection, TLS,
    login, unknown folder); a folder that fails half way is reported in its
    :class:`FolderReport` (``stopped``) and the other folders still run. With ``case``, every
    message this run found (new, or already archived but seen in a new folder) is linked to
    that case, besides what the case's own rules link.

    ``fetch_process``: fetch each folder in a process of its own, on a connection of its own
    (:func:`_fetch_on_own_connection`), rather than in a thread of this one. None: for folders
    with 8 MB of new mail or more, where that pays for the second login and the process.
    ``workers`` parse, as :func:`~.email.workers_for` decides when None.
    """
    if case is not None:
        archive.case(case)  # an unknown case is an error before anything is fetched
    report = ImapImportReport(account=f"{account.user}@{account.host.lower()}")
    session = _Session(account, credentials, connect_fn)
    linked: set[int] = set()  # one message in several folders is linked (and counted) once
    try:
        client = session.open()
        try:
            listed = list_folders(client)
            chosen = choose_folders(
                listed, folders, all_folders=all_folders, provider=account.provider
            )
            gmail = b"X-GM-EXT-1" in client.capabilities()
        except TRANSIENT as exc:
            raise ImapError(
                _("lost the connection to {host}: {error}").format(host=account.host, error=exc)
            ) from exc
        items = ["BODY.PEEK[]", "INTERNALDATE", "FLAGS", "RFC822.SIZE"]
        if gmail:
            items += ["X-GM-MSGID", "X-GM-THRID", "X-GM-LABELS"]
        by_name = {f.name: f for f in listed}
        report.not_imported = [f.name for f in listed if f.selectable and f.name not in chosen]
        for folder in chosen:
            folder_report = _import_folder(
                archive,
                session,
                account,
                by_name[folder],
                items,
                since,
                batch_bytes=batch_bytes,
                batch_messages=batch_messages,
                ingest_batch=ingest_batch,
                retries=retries,
                backoff=backoff,
                workers=workers,
                fetch_process=fetch_process,
                progress=progress,
            )
            report.folders.append(folder_report)
            if folder_report.import_id is not None:
                # PDF attachments get their text now, as in the other e-mail imports.
                read_pdf_attachments(archive, folder_report.import_id)
            if case is not None and folder_report.import_id is not None:
                seen = set(archive.items_seen_in_import(folder_report.import_id)) - linked
                if seen:
                    folder_report.linked += archive.link(case, sorted(seen))
                    linked |= seen
            if progress:
                progress.folder_finished(folder_report)
    finally:
        session.close()
    return report


def _import_folder(
    archive: Archive,
    session: _Session,
    account: ImapAccount,
    listing: Folder,
    items: list[str],
    since: date | None,
    *,
    batch_bytes: int,
    batch_messages: int,
    ingest_batch: int,
    retries: int,
    backoff: float,
    workers: int | None,
    fetch_process: bool | None,
    progress: ImapProgress | None,
) -> FolderReport:
    folder = listing.name
    container = account.container(folder)
    result = FolderReport(folder=folder, container=container)
    state = archive.source_state(CONNECTOR, container)
    plan: _Plan | None = None
    for attempt in range(retries + 1):
        try:
            plan = _plan_folder(session.open(), listing, state, since)
            break
        except RETRYABLE as exc:
            session.drop()
            if attempt == retries:
                result.stopped = _("could not read the folder list of UIDs: {error}").format(
                    error=exc
                )
                return result
            result.reconnects += 1
            time.sleep(backoff * 2**attempt)
        except ImapError as exc:
            result.stopped = str(exc)
            return result
        except imaplib.IMAP4.error as exc:
            if is_unsafe_login(str(exc)):
                # NetEase refuses every folder alike: the account cannot be read at all.
                raise ImapUnsafeLoginError(unsafe_login_message(account, folder, str(exc))) from exc
            result.stopped = _("the server refused to open {folder}: {error}").format(
                folder=folder, error=server_text(str(exc))
            )
            return result
    assert plan is not None
    result.uidvalidity = plan.uidvalidity
    result.warnings += plan.warnings
    for warning in plan.warnings:
        if progress:
            progress.warn(warning)
    result.to_fetch = len(plan.uids_with_sizes)
    if progress:
        progress.folder_started(folder, result.to_fetch, sum(s for _, s in plan.uids_with_sizes))
    new_state: dict[str, Any] = {
        "uidvalidity": plan.uidvalidity,
        "since": since.isoformat() if since else None,
    }
    if not plan.uids_with_sizes:
        if plan.uidvalidity is not None:
            archive.set_source_state(
                CONNECTOR, container, {**new_state, "last_uid": plan.highest_uid}
            )
        return result
    batches = batches_by_size(
        plan.uids_with_sizes, max_bytes=batch_bytes, max_messages=batch_messages
    )
    folder_bytes = sum(size for _, size in plan.uids_with_sizes)
    job = _FolderJob(
        account=session.account,
        credentials=session.credentials,
        connect_fn=session.connect_fn,
        listing=listing,
        uidvalidity=plan.uidvalidity,
        container=container,
        batches=batches,
        items=items,
        retries=retries,
        backoff=backoff,
    )
    in_child = fetch_process if fetch_process is not None else folder_bytes >= SMALL_INPUT_BYTES
    yielded: list[int] = []
    committed = 0
    outcome: list[_Outcome] = []
    pending: deque[tuple[int, int]] = deque()  # UID and size of each message sent to parse
    unreported = [0, 0]  # messages and bytes fetched and not yet shown as progress
    suffix = f" UIDVALIDITY {plan.uidvalidity}" if plan.uidvalidity is not None else ""

    def show_progress(final: bool = False) -> None:
        if unreported[0] and (final or unreported[0] >= 100):
            result.fetched += unreported[0]
            result.bytes += unreported[1]
            if progress:
                progress.advance(folder, *unreported)
            unreported[:] = [0, 0]

    source: Generator[list[Fetched], None, _Outcome]
    if in_child:
        # Each UID FETCH batch crosses as it is (at most batch_bytes), so that what is fetched
        # is written, and shown, as soon as it arrives, however slow the link. The fetcher's
        # own queue already holds batches ahead in the child, so two waiting here are enough
        # (each is up to batch_bytes of this process's memory).
        source = in_child_process(_fetch_on_own_connection, job, batch_size=1, lookahead=2)
    else:
        source = _fetch_here(session, job)

    def raw_messages() -> Iterator[NotedMessage]:
        # Runs where prepare_many reads its input (a thread of its own when workers parse).
        while True:
            try:
                batch = next(source)
            except StopIteration as stop:
                outcome.append(stop.value)
                return
            except ReaderProcessError as exc:
                # The fetching process died (out of memory, killed): what arrived is kept.
                again = _("{error}. What was fetched before is saved: run the import again")
                reason = again.format(error=exc)
                outcome.append(_Outcome(0, 0, reason))
                return
            for message in batch:
                pending.append((message.uid, len(message.raw)))
                locator = SourceRef(CONNECTOR, container, f"UID {message.uid}{suffix}")
                yield message.raw, locator, message.meta

    def counted() -> Generator[PreparedCapture | ImportProblem, None, None]:
        parsed = prepare_many(
            raw_messages(), workers=workers_for(folder_bytes, workers), amend=with_imap_details
        )
        try:
            for prepared in parsed:
                uid, message_size = pending.popleft()
                yielded.append(uid)
                unreported[0] += 1
                unreported[1] += message_size
                show_progress()
                yield prepared
            show_progress(final=True)
        finally:
            # Stopped early: the parsing (and the thread reading the source) ends here, before
            # the source itself is closed.
            close = getattr(parsed, "close", None)
            if close is not None:
                close()

    def on_commit(count: int) -> None:
        nonlocal committed
        committed += count
        if plan.uidvalidity is not None and committed:
            last = yielded[committed - 1]
            archive.set_source_state(CONNECTOR, container, {**new_state, "last_uid": last})

    feed = counted()
    try:
        ingest_report = archive.ingest(
            feed,
            connector=CONNECTOR,
            container=container,
            batch_size=ingest_batch,
            progress=on_commit,
        )
    finally:
        # If the writer stopped early: the parsing first (it reads from the source), then the
        # fetcher (thread or process).
        feed.close()
        source.close()
    done = outcome[0] if outcome else _Outcome(0, 0, "the import was interrupted")
    result.import_id = ingest_report.import_id
    result.added = ingest_report.added
    result.duplicates = ingest_report.duplicates
    result.failed = ingest_report.failed
    result.linked = ingest_report.linked
    result.errors = [{"source": e.source, "reason": e.reason} for e in ingest_report.errors]
    result.reconnects += done.reconnects
    result.vanished = done.vanished
    if done.gave_up is not None:
        result.stopped = done.gave_up
    elif plan.uidvalidity is not None:
        # Everything up to the highest UID planned is in (vanished messages included).
        archive.set_source_state(CONNECTOR, container, {**new_state, "last_uid": plan.highest_uid})
    return result


def with_imap_details(capture: Capture, meta: dict[str, Any]) -> Capture:
    """Keep folder, UID, INTERNALDATE, flags and Gmail labels with the parsed item."""
    if capture.item is None:
        return capture
    item = capture.item
    flags = tuple(dict.fromkeys([*item.flags, *meta.get("flags", [])]))
    labels = meta.get("gmail", {}).get("labels")
    details = {**item.details, "imap": meta}
    if labels is not None:
        details["labels"] = labels
    return replace(capture, item=replace(item, flags=flags, details=details))
