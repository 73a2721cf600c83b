"""A real Dovecot IMAP server on 127.0.0.1 for the IMAP tests, plus a TCP proxy that misbehaves.

The ``dovecot`` fixture (one server per test session) writes a complete Dovecot configuration
into a fresh temporary directory (no system configuration is read), makes a test CA and a server
certificate for ``localhost``/``127.0.0.1`` with ``openssl``, and starts ``dovecot -F -c CONF``
with two listeners on free ports: implicit TLS (imaps) and plain IMAP that offers STARTTLS.
A pool of users is written into a passwd-file before the server starts, and every test takes a
fresh, empty account of its own (``imap_user``) without restarting the server.

Running as root (as CI does) needs care: Dovecot refuses to run its login processes as root and
refuses mail access with UID 0. So as root the login processes run as ``dovenull``, the internal
services and the mail store as ``dovecot`` (both users are made by Debian's dovecot-core), and
the server directory is made outside pytest's private (mode 0700) temp dir so that those users
can reach it. As an ordinary user everything runs as that user.

When Dovecot or openssl is missing the tests are skipped on a developer's machine and fail in CI
(``CI=true``): a CI run that silently skips its server tests would prove nothing.

:class:`FaultProxy` sits between the importer and Dovecot to cut a connection after some bytes,
to stop answering (so the client's socket timeout fires), to slow a transfer down, or to strip
STARTTLS from what the server offers (a downgrade attack).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import re
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from imapclient import IMAPClient

USER_POOL = 400
HOST = "127.0.0.1"


def need_tool(tool: str, *extra_dirs: str) -> str:
    """The path of a tool; skip the test without it, or fail it in CI (``CI=true``)."""
    path = shutil.which(tool) or next(
        (
            str(Path(d) / tool)
            for d in extra_dirs
            if (Path(d) / tool).is_file() and os.access(Path(d) / tool, os.X_OK)
        ),
        None,
    )
    if path is None:
        message = f"{tool} is not installed (Debian: see .ci/debian-packages.txt)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _password(n: int) -> str:
    return f"pw-{n}-not-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it signed; return ``(ca.crt, server.crt, server.key)``."""
    openssl = need_tool("openssl")
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "server.ext"
    ext.write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n"
    )
    # Python 3.13 verifies in X.509 strict mode: a CA needs key usage, a leaf an authority key
    # identifier, as real CAs issue them.
    _run(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
         "-out", ca_crt, "-days", "3", "-subj", "/CN=evidence-archiver test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    _run(openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
         "-subj", "/CN=localhost")  # fmt: skip
    _run(openssl, "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
         "-CAcreateserial", "-out", crt, "-days", "3", "-extfile", ext)  # fmt: skip
    return ca_crt, crt, key


CONFIG = """\
# Written by tests/dovecot.py: a private server for the test suite, no system config is read.
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/server.crt
ssl_key = <{root}/server.key
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
mail_fsync = never
disable_plaintext_auth = yes
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
  default_fields = uid={mail_user} gid={mail_group} home={root}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}
}}
protocol imap {{
  mail_max_userip_connections = 100
{imap_extra}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
"""


@dataclass
class ImapUser:
    """An account on the test server, with an admin connection for putting mail in place."""

    server: DovecotServer
    name: str
    password: str

    def connect(self) -> IMAPClient:
        context = ssl.create_default_context(cafile=str(self.server.ca_file))
        client = IMAPClient(
            HOST, port=self.server.imaps_port, ssl=True, ssl_context=context, timeout=30
        )
        client.login(self.name, self.password)
        return client

    def append(
        self,
        folder: str,
        messages: list[bytes],
        *,
        flags: tuple[bytes, ...] = (),
        create: bool = True,
    ) -> None:
        with self.connect() as client:
            if create and not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in messages:
                client.append(folder, raw, flags=flags)

    def delete_folder(self, folder: str) -> None:
        with self.connect() as client:
            client.delete_folder(folder)

    def uidvalidity(self, folder: str) -> int:
        with self.connect() as client:
            return int(client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])


# The standard layout: English folder names flagged with SPECIAL-USE.
STANDARD_MAILBOXES = """\
  mailbox Sent {
    special_use = \\Sent
    auto = create
  }
  mailbox Drafts {
    special_use = \\Drafts
  }"""
# A NetEase-style account: the folders a new 163.com mailbox has, named in Chinese, none of
# them flagged, and no SPECIAL-USE capability at all.
NETEASE_MAILBOXES = "\n".join(
    f'  mailbox "{name}" {{\n    auto = subscribe\n  }}'
    for name in ("已发送", "草稿箱", "已删除", "垃圾邮件", "病毒文件夹")
)
NETEASE_CAPABILITY = (
    "  imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UIDPLUS"
)


class DovecotServer:
    """A running Dovecot; see the module docstring.

    ``netease=True`` gives every account NetEase's Chinese folder names without SPECIAL-USE,
    and account names that are 163.com addresses (``user1@163.com``).
    """

    def __init__(self, root: Path, *, netease: bool = False) -> None:
        self.root = root
        self.netease = netease
        self.imaps_port = free_port()
        self.imap_port = free_port()
        self.passwd = root / "passwd"
        self.log = root / "dovecot.log"
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        dovecot = need_tool("dovecot", "/usr/sbin", "/usr/local/sbin")
        root = self.root
        self.ca_file, _, _ = make_certificates(root)
        if os.geteuid() == 0:
            login_user, internal_user, mail_user = "dovenull", "dovecot", "dovecot"
            for name in (login_user, internal_user):
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    pytest.fail(f"user {name} is missing: it comes with Debian's dovecot-core")
        else:
            login_user = internal_user = mail_user = pwd.getpwuid(os.getuid()).pw_name
        entry = pwd.getpwnam(mail_user)
        for sub in ("mail", "home"):
            (root / sub).mkdir()
            os.chown(root / sub, entry.pw_uid, entry.pw_gid)
        # Dovecot re-reads a passwd-file at most once a second, so accounts added on the fly
        # could be missed: every test account is written before the server starts.
        self.passwd.write_text(
            "".join(
                f"{self._name(n)}:{{PLAIN}}{_password(n)}::::::\n" for n in range(1, USER_POOL + 1)
            )
        )
        self.passwd.chmod(0o644)
        config = root / "dovecot.conf"
        config.write_text(
            CONFIG.format(
                root=root,
                login_user=login_user,
                internal_user=internal_user,
                mail_user=entry.pw_uid,
                mail_group=entry.pw_gid,
                imap_port=self.imap_port,
                imaps_port=self.imaps_port,
                mailboxes=NETEASE_MAILBOXES if self.netease else STANDARD_MAILBOXES,
                imap_extra=NETEASE_CAPABILITY if self.netease else "",
            )
        )
        with (root / "dovecot.stderr").open("wb") as stderr:
            self.process = subprocess.Popen(
                [dovecot, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=stderr
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection((HOST, self.imap_port), timeout=2) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Dovecot did not start:\n{self.diagnostics()}")

    def diagnostics(self) -> str:
        parts = []
        for name in ("dovecot.stderr", "dovecot.log"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def kick(self, user: str) -> None:
        """Disconnect the user's sessions: Dovecot sends ``* BYE Server shutting down.``."""
        doveadm = need_tool("doveadm", "/usr/bin", "/usr/sbin")
        _run(doveadm, "-c", self.root / "dovecot.conf", "kick", user)

    def add_user(self) -> ImapUser:
        """A new, empty account from the pool written at start-up."""
        with self._lock:
            n = next(self._counter)
        if n > USER_POOL:
            raise RuntimeError(f"the test server has only {USER_POOL} accounts: raise USER_POOL")
        return ImapUser(self, self._name(n), _password(n))

    def _name(self, n: int) -> str:
        return f"user{n}@163.com" if self.netease else f"user{n}"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    root = Path(tempfile.mkdtemp(prefix="evidence-dovecot-"))
    # Reachable by the unprivileged users Dovecot switches to when started as root.
    root.chmod(0o755)
    server = DovecotServer(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap_user(dovecot: DovecotServer) -> ImapUser:
    return dovecot.add_user()


@pytest.fixture(scope="session")
def netease_dovecot() -> Iterator[DovecotServer]:
    """A second server, laid out like a NetEase mailbox (see :class:`DovecotServer`)."""
    root = Path(tempfile.mkdtemp(prefix="evidence-dovecot-163-"))
    root.chmod(0o755)
    server = DovecotServer(root, netease=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def netease_user(netease_dovecot: DovecotServer) -> ImapUser:
    return netease_dovecot.add_user()


# -- test messages ------------------------------------------------------------------------------


def make_message(
    n: int,
    *,
    subject: str | None = None,
    sender: str = "loans@lender.example",
    to: str = "me@borrower.example",
    body: str | None = None,
    attachment: bytes | None = None,
    date: datetime | None = None,
) -> bytes:
    """A small, valid, unique message (its Message-ID and body carry ``n``)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject if subject is not None else f"Repayment notice {n}"
    msg["Message-ID"] = make_msgid(idstring=f"m{n}", domain="lender.example")
    if date is not None:
        msg["Date"] = format_datetime(date)
    msg.set_content(body if body is not None else f"Your instalment number {n} is due.\n")
    if attachment is not None:
        msg.add_attachment(
            attachment, maintype="application", subtype="pdf", filename=f"statement-{n}.pdf"
        )
    # IMAP is CRLF on the wire; Dovecot hands back exactly these bytes.
    return msg.as_bytes(policy=SMTP)


_LOOPBACK = itertools.count(20)


def fresh_loopback() -> str:
    """A loopback address no test used before (127.0.0.20, .21, …): Dovecot delays each
    failed login from one address longer than the last, so tests that fail logins on purpose
    each connect from an address of their own (see :class:`FaultProxy` ``source``)."""
    n = next(_LOOPBACK)
    return f"127.0.{n // 250}.{n % 250 + 2}"


# -- a misbehaving TCP proxy --------------------------------------------------------------------


class FaultProxy:
    """Forward 127.0.0.1:``port`` to ``target_port``, misbehaving on the first connection(s).

    - ``cut_after``: close both sides once this many server-to-client bytes have passed;
    - ``stall_after``: stop forwarding (but keep the sockets open) after that many bytes;
    - ``strip_starttls``: remove ``STARTTLS`` from what the server says (plain IMAP only);
    - ``delay``: sleep this long before forwarding each server-to-client chunk;
    - ``rewrite``: a function applied to each server-to-client chunk (plain IMAP only).

    ``faulty_connections`` connections misbehave; later ones pass through untouched, so a
    client that reconnects can finish, unless ``refuse_after`` is set: connections after that
    many are closed as soon as they are accepted. ``connections`` counts the connections
    accepted and ``from_client`` holds every byte the client sent.

    ``source`` is the loopback address (``127.0.0.N``) the proxy connects to the server from.
    Dovecot delays every failed login from one address longer than the last (up to 15 s):
    tests that fail logins on purpose each come from an address of their own.
    """

    def __init__(
        self,
        target_port: int,
        *,
        cut_after: int | None = None,
        stall_after: int | None = None,
        strip_starttls: bool = False,
        delay: float = 0.0,
        faulty_connections: int = 1,
        refuse_after: int | None = None,
        rewrite: Callable[[bytes], bytes] | None = None,
        source: str | None = None,
    ) -> None:
        self.target_port = target_port
        self.source = source
        self.cut_after = cut_after
        self.stall_after = stall_after
        self.strip_starttls = strip_starttls
        self.delay = delay
        self.faulty_connections = faulty_connections
        self.refuse_after = refuse_after
        self.rewrite = rewrite
        self.connections = 0
        self.from_client = bytearray()
        self.listener = socket.create_server((HOST, 0))
        self.port = int(self.listener.getsockname()[1])
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> FaultProxy:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.listener.close()
        for s in self._sockets:
            with contextlib.suppress(OSError):
                s.close()
        for thread in self._threads:
            thread.join(5)

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            if self.refuse_after is not None and self.connections > self.refuse_after:
                client.close()
                continue
            faulty = self.connections <= self.faulty_connections
            source = (self.source, 0) if self.source else None
            upstream = socket.create_connection((HOST, self.target_port), source_address=source)
            self._sockets += [client, upstream]
            thread = threading.Thread(
                target=self._pump, args=(client, upstream, faulty), daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _pump(self, client: socket.socket, upstream: socket.socket, faulty: bool) -> None:
        sent = 0
        stalled = False
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select([client, upstream], [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if stalled:
                        continue
                    if sock is client:
                        self.from_client += data
                        upstream.sendall(data)
                        continue
                    if self.delay:
                        time.sleep(self.delay)
                    if faulty and self.rewrite is not None:
                        data = self.rewrite(data)
                    if faulty and self.strip_starttls:
                        data = data.replace(b" STARTTLS", b"")
                    if faulty and self.cut_after is not None and sent + len(data) > self.cut_after:
                        client.sendall(data[: max(0, self.cut_after - sent)])
                        return
                    if (
                        faulty
                        and self.stall_after is not None
                        and sent + len(data) > self.stall_after
                    ):
                        client.sendall(data[: max(0, self.stall_after - sent)])
                        stalled = True
                        continue
                    client.sendall(data)
                    sent += len(data)
        except OSError:
            return
        finally:
            if not stalled:
                for s in (client, upstream):
                    with contextlib.suppress(OSError):
                        s.close()


# -- NetEase's "Unsafe Login" -------------------------------------------------------------------

UNSAFE_LOGIN = b"Unsafe Login. Please contact kefu@188.com for help"
_LITERAL = re.compile(rb"\{(\d+)(\+?)\}\r\n$")


class NetEaseProxy:
    """Forward 127.0.0.1:``port`` to Dovecot's plain IMAP port, refusing to open folders the
    way NetEase's servers (163.com, 126.com, yeah.net, 188.com) do: ``SELECT`` and
    ``EXAMINE`` get ``<tag> NO SELECT Unsafe Login. Please contact kefu@188.com for help``
    until the client has sent the ``ID`` command (RFC 2971) on that connection; everything
    else passes through to Dovecot untouched.

    The client side is plain IMAP on the loopback interface (the importer allows that for
    127.0.0.1 only); TLS has nothing to do with this behaviour. With ``hide_id`` the proxy
    also removes ``ID`` from the capabilities Dovecot announces, like a server that needs ID
    without offering it. ``commands`` lists, per connection, the command names the client
    sent, in order, and ``id_arguments`` the arguments of each ID command.
    """

    def __init__(self, target_port: int, *, hide_id: bool = False) -> None:
        self.target_port = target_port
        self.hide_id = hide_id
        self.commands: list[list[str]] = []
        self.id_arguments: list[bytes] = []
        self.listener = socket.create_server((HOST, 0))
        self.port = int(self.listener.getsockname()[1])
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> NetEaseProxy:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.listener.close()
        for s in self._sockets:
            with contextlib.suppress(OSError):
                s.close()
        for thread in self._threads:
            thread.join(5)

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection((HOST, self.target_port))
            self._sockets += [client, upstream]
            commands: list[str] = []
            self.commands.append(commands)
            thread = threading.Thread(
                target=self._pump, args=(client, upstream, commands), daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _hide_id(self, data: bytes) -> bytes:
        if not self.hide_id:
            return data
        return re.sub(rb"(CAPABILITY[^\r\n]*?) ID(?=[ \]\r])", rb"\1", data)

    def _pump(self, client: socket.socket, upstream: socket.socket, commands: list[str]) -> None:
        buffer = b""
        literal_left = 0  # bytes of a literal still to pass (or swallow) unparsed
        at_start = True  # the next line begins a command
        refusing: tuple[bytes, bytes] | None = None  # (tag, command) being refused
        identified = False
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select([client, upstream], [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is upstream:
                        client.sendall(self._hide_id(data))
                        continue
                    buffer += data
                    while buffer:
                        if literal_left:
                            part, buffer = buffer[:literal_left], buffer[literal_left:]
                            literal_left -= len(part)
                            if refusing is None:
                                upstream.sendall(part)
                            continue
                        end = buffer.find(b"\r\n")
                        if end < 0:
                            break
                        line, buffer = buffer[: end + 2], buffer[end + 2 :]
                        if at_start:
                            words = line.split(None, 2)
                            name = words[1].upper() if len(words) > 1 else b""
                            commands.append(name.decode("ascii", "replace"))
                            if name == b"ID":
                                identified = True
                                self.id_arguments.append(words[2] if len(words) > 2 else b"")
                            if name in (b"SELECT", b"EXAMINE") and not identified:
                                refusing = (words[0], name)
                        literal = _LITERAL.search(line)
                        if refusing is None:
                            upstream.sendall(line)
                        if literal:
                            literal_left = int(literal[1])
                            at_start = False
                            if refusing is not None and not literal[2]:
                                client.sendall(b"+ go ahead\r\n")
                            continue
                        at_start = True
                        if refusing is not None:
                            tag, name = refusing
                            client.sendall(tag + b" NO " + name + b" " + UNSAFE_LOGIN + b"\r\n")
                            refusing = None
        except OSError:
            return
        finally:
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.close()
