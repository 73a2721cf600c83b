"""``verify_bundle``: re-check everything a bundle claims, and list what no longer holds.

Checks, all of them on every run (there is no "fast" mode):

* structure: no entry escapes the bag (``../``, absolute, backslash, symlink), no name appears
  twice, ``bagit.txt`` is BagIt 1.0, the four BagIt tag files are there;
* every file listed in ``manifest-sha256.txt`` (payload) and ``tagmanifest-sha256.txt`` (tag
  files) is present and hashes to the listed SHA-256 (each file is streamed, never held whole);
* no file is present that the manifests do not list (except the ``timestamp/`` files, which
  are checked by the token), and ``Payload-Oxum`` matches;
* ``data/custody.jsonl`` is an unbroken hash chain from the first event to a head equal to
  ``Custody-Chain-Head`` in ``bag-info.txt``;
* the RFC 3161 token, if any, is over this very tag manifest and verifies against the CA given
  by the user (or, failing that, the CA copy inside the bundle, which is said plainly).

Returns every problem with the file it concerns; an empty list means the bundle is intact.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from ..archive.custody import GENESIS, event_hash
from ..errors import UsageError
from .bagit import MANIFEST, TAGMANIFEST, parse_bag_info, parse_manifest
from .reader import Bundle, Entry, iter_chunks, open_bundle
from .timestamp import CA_COPY, CHAIN, TSR, load_certificates, parse_reply, verify_token

TIMESTAMP_FILES = {TSR, CHAIN, CA_COPY}
DAMAGED = "damaged"


@dataclass(frozen=True)
class Problem:
    """One thing that is wrong, and the file it concerns."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass
class VerifyReport:
    """The outcome of :func:`verify_bundle`; ``ok`` only when ``problems`` is empty."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0
    timestamp: dict[str, Any] | None = None
    custody_head: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, file: str, message: str) -> None:
        self.problems.append(Problem(file, message))

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ok": self.ok,
            "problems": [{"file": p.file, "message": p.message} for p in self.problems],
            "notes": self.notes,
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "timestamp": self.timestamp,
            "custody_head": self.custody_head,
        }


def _hash_entry(bundle: Bundle, entry: Entry) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with bundle.open(entry) as f:
        for chunk in iter_chunks(f):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_bundle(path: Path, *, tsa_ca_file: Path | None = None) -> VerifyReport:
    """Check the bundle at ``path`` (zip or folder); see the module docstring for what."""
    report = VerifyReport(path)
    roots: list[x509.Certificate] = []
    if tsa_ca_file is not None:
        try:
            roots = load_certificates(tsa_ca_file.read_bytes())
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read the CA certificate {tsa_ca_file}: {exc}") from exc
    with open_bundle(path) as bundle:
        _check(bundle, report, roots, tsa_ca_file)
    return report


def _check(
    bundle: Bundle, report: VerifyReport, roots: list[x509.Certificate], ca_file: Path | None
) -> None:
    for file, message in bundle.structural:
        report.add(file, message)
    counts = Counter(e.raw_name for e in bundle.entries)
    for name, n in sorted(counts.items()):
        if n > 1:
            report.add(name, f"appears {n} times in the bundle (a duplicate entry)")
    good: dict[str, Entry] = {}
    for e in bundle.entries:
        if e.unsafe:
            report.add(e.raw_name, f"unsafe entry: {e.unsafe}")
        elif e.symlink:
            report.add(e.raw_name, "is a symbolic link (a bundle holds only plain files)")
        elif counts[e.raw_name] == 1:
            good[e.name] = e

    # Hash every file once, streaming.
    digests: dict[str, str] = {}
    for name in sorted(good):
        try:
            digest, size = _hash_entry(bundle, good[name])
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            # A byte changed inside the zip itself (its CRC no longer matches), a truncated
            # file, or an unreadable entry: damaged, and said so, never a crash.
            report.add(good[name].raw_name, f"cannot be read from the bundle (damaged): {exc}")
            digests[name] = DAMAGED
            continue
        digests[name] = digest
        report.files_checked += 1
        report.bytes_checked += size
    payload_sizes = [e.size for n, e in good.items() if n.startswith("data/")]
    damaged = {name for name, digest in digests.items() if digest == DAMAGED}
    for name in damaged:
        del good[name]

    for required in ("bagit.txt", "bag-info.txt", MANIFEST, TAGMANIFEST):
        if required not in good and required not in damaged:
            report.add(required, "is missing: this is not a complete BagIt bag")
    if "bagit.txt" in good:
        lines = bundle.read("bagit.txt").decode("utf-8", errors="replace").splitlines()
        if not lines or not lines[0].startswith("BagIt-Version: "):
            report.add("bagit.txt", "does not declare a BagIt version")
        if len(lines) < 2 or lines[1].strip() != "Tag-File-Character-Encoding: UTF-8":
            report.add("bagit.txt", "does not declare UTF-8 tag files")

    payload = _check_manifest(bundle, report, good, digests, MANIFEST, payload=True)
    tags = _check_manifest(bundle, report, good, digests, TAGMANIFEST, payload=False)
    for name in sorted(good):
        if name.startswith("data/"):
            if name not in payload:
                report.add(name, f"is not listed in {MANIFEST} (added after the bundle was made)")
        elif name in (MANIFEST, TAGMANIFEST) or name in tags:
            continue
        elif name.startswith("timestamp/"):
            if name not in TIMESTAMP_FILES:
                report.add(name, "is not a file a timestamp adds (added afterwards)")
        else:
            report.add(name, f"is not listed in {TAGMANIFEST} (added after the bundle was made)")

    info: dict[str, list[str]] = {}
    if "bag-info.txt" in good:
        info = parse_bag_info(bundle.read("bag-info.txt"))
        oxum = (info.get("Payload-Oxum") or [""])[0]
        count = len(payload_sizes)
        octets = sum(payload_sizes)
        if oxum and oxum != f"{octets}.{count}":
            report.add(
                "bag-info.txt",
                f"Payload-Oxum {oxum} does not match the payload ({octets} bytes in {count} files)",
            )
    if "data/custody.jsonl" not in damaged:
        _check_custody(bundle, report, good, info)
    _check_timestamp(bundle, report, good, roots, ca_file)


def _check_manifest(
    bundle: Bundle,
    report: VerifyReport,
    good: dict[str, Entry],
    digests: dict[str, str],
    manifest: str,
    *,
    payload: bool,
) -> set[str]:
    if manifest not in good:
        return set()
    entries, problems = parse_manifest(bundle.read(manifest))
    for p in problems:
        report.add(manifest, p)
    listed: set[str] = set()
    for path, digest in entries:
        listed.add(path)
        if payload and not path.startswith("data/"):
            report.add(manifest, f"lists {path}, which is outside data/")
            continue
        if path not in digests:
            report.add(path, f"is listed in {manifest} but missing from the bundle")
        elif digests[path] == DAMAGED:
            continue
        elif digests[path] != digest:
            report.add(path, f"SHA-256 does not match {manifest}: the file was changed")
    return listed


def _check_custody(
    bundle: Bundle, report: VerifyReport, good: dict[str, Entry], info: dict[str, list[str]]
) -> None:
    name = "data/custody.jsonl"
    if name not in good:
        report.add(name, "is missing: the bundle has no custody log")
        return
    pinned = (info.get("Custody-Chain-Head") or [""])[0]
    prev = GENESIS
    expected_seq = 1
    text = bundle.read(name).decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            seq, row_prev, digest = int(row["seq"]), str(row["prev_hash"]), str(row["hash"])
        except (ValueError, KeyError, TypeError):
            report.add(name, f"line {number} is not a custody event")
            return
        if seq != expected_seq:
            report.add(name, f"line {number}: sequence jumps from {expected_seq - 1} to {seq}")
        if row_prev != prev:
            report.add(name, f"line {number} (event {seq}): does not follow the event before it")
        if not row.get("redacted"):
            try:
                recomputed = event_hash(
                    seq, row["at"], row["action"], row["subject"], row["details"], row_prev
                )
            except KeyError:
                report.add(name, f"line {number} (event {seq}): fields are missing")
            else:
                if recomputed != digest:
                    report.add(name, f"line {number} (event {seq}): content does not match hash")
        prev = digest
        expected_seq = seq + 1
    report.custody_head = prev
    if pinned and prev != pinned:
        report.add(
            name,
            f"the chain ends at {prev[:16]}…, but bag-info.txt pins Custody-Chain-Head "
            f"{pinned[:16]}…",
        )
    elif not pinned:
        report.add("bag-info.txt", "has no Custody-Chain-Head")


def _check_timestamp(
    bundle: Bundle,
    report: VerifyReport,
    good: dict[str, Entry],
    roots: list[x509.Certificate],
    ca_file: Path | None,
) -> None:
    if TSR not in good:
        if ca_file is not None:
            report.add(TSR, "is missing, but a timestamp was expected (--tsa-ca-file was given)")
        else:
            report.notes.append("this bundle has no trusted timestamp (RFC 3161)")
        return
    try:
        body = bundle.read(TSR)
        tagmanifest = bundle.read(TAGMANIFEST)
        chain = load_certificates(bundle.read(CHAIN)) if CHAIN in good else []
        if not roots:
            if CA_COPY not in good:
                report.add(
                    TSR,
                    "cannot be checked: no CA certificate; give the TSA's CA with --tsa-ca-file",
                )
                return
            roots = load_certificates(bundle.read(CA_COPY))
            report.notes.append(
                f"the timestamp was checked against the CA copy inside the bundle ({CA_COPY}); "
                "for independent proof give the TSA's own CA with --tsa-ca-file"
            )
        response = parse_reply(body, "this bundle's TSA")
        if response.tst_info.message_imprint.message != hashlib.sha256(tagmanifest).digest():
            report.add(
                TSR,
                f"does not cover this {TAGMANIFEST}: the manifests were changed after timestamping",
            )
            return
        verify_token(response, tagmanifest, roots, chain)
    except Exception as exc:  # any failure to verify the token is a failure of the bundle
        report.add(TSR, f"the timestamp does not verify: {exc}")
        return
    report.timestamp = {
        "gen_time": response.tst_info.gen_time.isoformat(),
        "serial_number": str(response.tst_info.serial_number),
        "token_sha256": hashlib.sha256(body).hexdigest(),
    }
