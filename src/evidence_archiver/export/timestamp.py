"""RFC 3161 trusted timestamps over a bundle's tag manifest.

The tag manifest lists the SHA-256 of ``manifest-sha256.txt`` (which lists every payload file)
and of ``bag-info.txt`` (which pins the custody chain head), so one timestamp over it covers the
whole bundle. The request carries a SHA-256 imprint, a nonce and ``certReq`` so that the TSA
sends its certificate. The answer is checked before anything is written: it must be a granted
TimeStampResp whose imprint and nonce are ours; with a CA file it must also verify against it.
A TSA that is down or answers garbage raises :class:`TimestampError`; nothing is added then.

What is added to the bag (a tag folder, outside ``data/``, so the manifests stay as they were):
``timestamp/manifest.tsr`` (the DER TimeStampResp, byte for byte as the TSA sent it),
``timestamp/tsa-chain.pem`` (the certificates the TSA sent) and, when the user gave one,
``timestamp/tsa-ca.pem`` (a copy of the CA certificate used to check it).

:func:`timestamp_bundle` works on a finished bundle, so a timestamp that failed during
``evidence export`` can be added later with ``evidence timestamp BUNDLE``.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerifierBuilder,
    decode_timestamp_response,
)

from ..errors import EvidenceError, UsageError
from ..i18n import _
from .bagit import TAGMANIFEST
from .reader import ZipBundle, open_bundle
from .zipio import ZipWriter, restore_interrupted_append

TSR = "timestamp/manifest.tsr"
CHAIN = "timestamp/tsa-chain.pem"
CA_COPY = "timestamp/tsa-ca.pem"
MAX_REPLY = 1 << 20


class TimestampError(EvidenceError):
    """The timestamp authority could not be reached, refused, or answered something unusable."""


@dataclass(frozen=True)
class TimestampInfo:
    tsa_url: str
    gen_time: datetime
    serial_number: int
    policy: str
    token_sha256: str
    tagmanifest_sha256: str
    checked_against_ca: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "tsa_url": self.tsa_url,
            "gen_time": self.gen_time.astimezone(UTC).isoformat(),
            "serial_number": str(self.serial_number),
            "policy": self.policy,
            "token_sha256": self.token_sha256,
            "tagmanifest_sha256": self.tagmanifest_sha256,
            "checked_against_ca": self.checked_against_ca,
        }


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """PEM (one or many) or a single DER certificate."""
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def certificates_pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(Encoding.PEM) for c in certs)


def _fingerprint(cert: x509.Certificate) -> bytes:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).digest()


def sorted_certs(certs: list[x509.Certificate]) -> list[x509.Certificate]:
    return sorted(certs, key=_fingerprint)


def request_token(data: bytes, tsa_url: str, timeout: float = 30) -> tuple[bytes, int]:
    """Ask the TSA for a token over ``data``; return ``(reply bytes, nonce)``."""
    request = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    http = urllib.request.Request(
        tsa_url,
        data=request.as_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(http, timeout=timeout) as reply:  # noqa: S310
            body = reply.read(MAX_REPLY + 1)
    except urllib.error.HTTPError as exc:
        raise TimestampError(
            _(
                "the timestamp authority {tsa_url} refused the request (HTTP {code}); check the "
                "URL, or try again later with 'evidence timestamp'"
            ).format(tsa_url=tsa_url, code=exc.code)
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise TimestampError(
            _(
                "cannot reach the timestamp authority {tsa_url}: {error}; check the URL and the "
                "network, then try again with 'evidence timestamp'"
            ).format(tsa_url=tsa_url, error=exc)
        ) from exc
    if len(body) > MAX_REPLY:
        raise TimestampError(
            _("the timestamp authority {tsa_url} sent an oversized answer").format(tsa_url=tsa_url)
        )
    nonce = request.nonce
    return body, int(nonce or 0)


def parse_reply(body: bytes, tsa_url: str) -> TimeStampResponse:
    try:
        response = decode_timestamp_response(body)
        status = PKIStatus(response.status)
    except Exception as exc:  # the parser raises several types for malformed DER
        raise TimestampError(
            _(
                "the timestamp authority {tsa_url} answered something that is not an RFC 3161 "
                "timestamp ({value} bytes): {error}"
            ).format(tsa_url=tsa_url, value=len(body), error=exc)
        ) from exc
    if status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        text = "; ".join(response.status_string) if response.status_string else status.name
        raise TimestampError(
            _("the timestamp authority {tsa_url} refused to timestamp: {text}").format(
                tsa_url=tsa_url, text=text
            )
        )
    return response


def verify_token(
    response: TimeStampResponse,
    data: bytes,
    roots: list[x509.Certificate],
    chain: list[x509.Certificate],
    nonce: int | None = None,
) -> None:
    """Raise if the token does not cover ``data`` or does not chain to one of ``roots``.

    ``chain`` are the other certificates known (the TSA's own, intermediates); when the reply
    carries no certificate, the TSA certificate is taken from ``chain`` (the one whose extended
    key usage is timeStamping).
    """
    builder = VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    root_fps = {_fingerprint(r) for r in roots}
    tsa_cert = None
    if not response.signed_data.certificates:
        for cert in chain:
            try:
                eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except x509.ExtensionNotFound:
                continue
            if ExtendedKeyUsageOID.TIME_STAMPING in eku:
                tsa_cert = cert
                break
    if tsa_cert is not None:
        builder = builder.tsa_certificate(tsa_cert)
    for cert in chain:
        if _fingerprint(cert) not in root_fps and cert is not tsa_cert:
            builder = builder.add_intermediate_certificate(cert)
    if nonce is not None:
        builder = builder.nonce(nonce)
    builder.build().verify_message(response, data)


def timestamp_bundle(
    path: Path, tsa_url: str, *, ca_file: Path | None = None, timeout: float = 30
) -> TimestampInfo:
    """Request a token over the bundle's tag manifest and add it to the bundle."""
    if path.is_file():
        restore_interrupted_append(path)  # an earlier attempt killed while it wrote
    with open_bundle(path) as bundle:
        if bundle.has(TSR):
            raise UsageError(
                _("{path} already has a timestamp ({TSR}); nothing to do").format(
                    path=path, TSR=TSR
                )
            )
        try:
            tagmanifest = bundle.read(TAGMANIFEST)
        except KeyError:
            raise UsageError(
                _("{path} has no {TAGMANIFEST}: it is not a complete bundle").format(
                    path=path, TAGMANIFEST=TAGMANIFEST
                )
            ) from None
        root = bundle.root
        is_zip = isinstance(bundle, ZipBundle)
    roots: list[x509.Certificate] = []
    if ca_file is not None:
        try:
            roots = load_certificates(ca_file.read_bytes())
        except (OSError, ValueError) as exc:
            raise UsageError(
                _("cannot read the CA certificate {ca_file}: {error}").format(
                    ca_file=ca_file, error=exc
                )
            ) from exc
    body, nonce = request_token(tagmanifest, tsa_url, timeout)
    response = parse_reply(body, tsa_url)
    digest = hashlib.sha256(tagmanifest).digest()
    if response.tst_info.message_imprint.message != digest:
        raise TimestampError(
            _("the timestamp authority {tsa_url} timestamped different data").format(
                tsa_url=tsa_url
            )
        )
    if nonce and response.tst_info.nonce != nonce:
        raise TimestampError(
            _("the timestamp authority {tsa_url} answered another request").format(tsa_url=tsa_url)
        )
    sent = sorted_certs(
        [x509.load_der_x509_certificate(c) for c in response.signed_data.certificates]
    )
    if roots:
        try:
            verify_token(response, tagmanifest, roots, sent, nonce)
        except Exception as exc:
            raise TimestampError(
                _("the timestamp from {tsa_url} does not verify against {ca_file}: {error}").format(
                    tsa_url=tsa_url, ca_file=ca_file, error=exc
                )
            ) from exc
    files = {TSR: body}
    if sent:
        files[CHAIN] = certificates_pem(sent)
    if roots:
        files[CA_COPY] = certificates_pem(roots)
    if is_zip:
        _add_to_zip(path, root, files, _zip_time(response))
    else:
        (path / "timestamp").mkdir(exist_ok=True)
        for name, data in files.items():
            (path / name).write_bytes(data)
    return TimestampInfo(
        tsa_url=tsa_url,
        gen_time=response.tst_info.gen_time,
        serial_number=response.tst_info.serial_number,
        policy=response.tst_info.policy.dotted_string,
        token_sha256=hashlib.sha256(body).hexdigest(),
        tagmanifest_sha256=hashlib.sha256(tagmanifest).hexdigest(),
        checked_against_ca=bool(roots),
    )


def _add_to_zip(
    path: Path, root: str, files: dict[str, bytes], when: tuple[int, int, int, int, int, int]
) -> None:
    """Append the token files after the bundle's entries, reading its central directory in
    chunks (see :mod:`.zipio`) rather than into memory."""
    try:
        writer = ZipWriter.append(path, when)
    except zipfile.BadZipFile:
        # Not laid out as our bundles are (e.g. data before the first entry, as some tools
        # leave): zipfile copes with that, at the cost of reading the directory into memory.
        with zipfile.ZipFile(path, "a") as zf:
            for name, data in files.items():
                info = zipfile.ZipInfo(f"{root}/{name}", date_time=when)
                info.external_attr = 0o100644 << 16
                info.create_system = 3
                zf.writestr(info, data, compress_type=zipfile.ZIP_STORED)
        return
    with writer:
        for name, data in files.items():
            writer.write_bytes(f"{root}/{name}", data, compress=False)


def _zip_time(response: TimeStampResponse) -> tuple[int, int, int, int, int, int]:
    t = response.tst_info.gen_time.astimezone(UTC)
    return (t.year, t.month, t.day, t.hour, t.minute, t.second)
