"""A throwaway RFC 3161 timestamp authority on 127.0.0.1, for the demo and the tests.

:func:`local_tsa` makes a test CA and a TSA certificate (extendedKeyUsage critical
timeStamping) with the ``openssl`` command in a temporary folder, and serves
``application/timestamp-query`` requests over HTTP on 127.0.0.1 by running
``openssl ts -reply``. Replies carry the TSA's own certificate when the request asks for it
(``certReq``) but never the CA chain, like many public TSAs.

Its timestamps prove nothing to anyone else: the CA exists only for as long as the context is
open. It shows how a bundle is timestamped and verified without sending anything off the
machine.

>>> with local_tsa() as tsa:                  # doctest: +SKIP
...     export_bundle(archive, ExportOptions(case="x", tsa_url=tsa.url, tsa_ca_file=tsa.ca_file))
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..errors import EvidenceError
from ..i18n import _

TSA_CONF = """\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.57264.9.1
other_policies = 1.3.6.1.4.1.57264.9.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

TSA_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


@dataclass(frozen=True)
class LocalTSA:
    url: str
    ca_file: Path  # the test CA certificate (PEM): the trust anchor for verification
    tsa_cert: Path  # the TSA's own certificate (PEM)
    folder: Path


def _openssl(*args: str, cwd: Path, data: bytes | None = None) -> bytes:
    exe = shutil.which("openssl")
    if exe is None:
        raise EvidenceError(
            _(
                "the 'openssl' command is needed for the local timestamp authority: install it "
                "(Debian/Ubuntu: apt install openssl; macOS: brew install openssl)"
            )
        )
    proc = subprocess.run(
        [exe, *args], cwd=cwd, input=data, capture_output=True, check=False, timeout=60
    )
    if proc.returncode != 0:
        raise EvidenceError(
            _("openssl {args} failed: {value}").format(
                args=args[0], value=proc.stderr.decode(errors="replace").strip()
            )
        )
    return proc.stdout


def make_tsa_certificates(folder: Path) -> None:
    """Write ca.key/ca.crt, tsa.key/tsa.crt, tsa.cnf and a serial file into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=Evidence Archiver Test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout", "tsa.key",
        "-out", "tsa.csr", "-subj", "/CN=Evidence Archiver Test TSA",
        cwd=folder,
    )  # fmt: skip
    (folder / "tsa.ext").write_text(TSA_EXT)
    _openssl(
        "x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "3650", "-sha256", "-extfile", "tsa.ext", "-out", "tsa.crt",
        cwd=folder,
    )  # fmt: skip
    (folder / "tsa.cnf").write_text(TSA_CONF.format(dir=folder))
    (folder / "serial").write_text("01\n")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        if self.headers.get("Content-Type", "").split(";")[0].strip() != (
            "application/timestamp-query"
        ):
            self.send_error(415, "expected application/timestamp-query")
            return
        length = int(self.headers.get("Content-Length") or 0)
        query = self.rfile.read(min(length, 1 << 16))
        try:
            reply = self.server.sign(query)
        except EvidenceError as exc:
            self.send_error(400, str(exc)[:200])
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: the demo prints its own progress


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, folder: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.folder = folder
        self.lock = threading.Lock()

    def sign(self, query: bytes) -> bytes:
        # openssl increments the serial file; one signer at a time.
        with self.lock:
            qfile = self.folder / "query.tsq"
            qfile.write_bytes(query)
            return _openssl(
                "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "query.tsq",
                "-out", "-",
                cwd=self.folder,
            )  # fmt: skip


@contextmanager
def serve_tsa(folder: Path) -> Iterator[str]:
    """Serve the TSA whose files are in ``folder``; yield its URL."""
    server = _Server(folder)
    thread = threading.Thread(target=server.serve_forever, name="local-tsa", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def local_tsa(folder: Path | None = None) -> Iterator[LocalTSA]:
    """A fresh CA + TSA served on 127.0.0.1 until the context ends."""
    with tempfile.TemporaryDirectory(prefix="evidence-tsa-") as tmp:
        where = folder or Path(tmp)
        make_tsa_certificates(where)
        with serve_tsa(where) as url:
            yield LocalTSA(url, where / "ca.crt", where / "tsa.crt", where)
