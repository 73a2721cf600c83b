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
* ``data/facts.json``, when there is one, cites only exhibits the bundle holds;
* the RFC 3161 token, if any, is over this very tag manifest and verifies against the CA given
  by the user (or, failing that, the CA copy inside the bundle, which is said plainly).

Returns every problem with the file it concerns; an empty list means the bundle is intact.

Memory does not grow with the bundle: the listing, the SHA-256 of every file and the manifest
lines go into the bundle's temporary database (see :mod:`.reader`) and are compared there with
SQL; the manifests and the custody log are read line by line.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from ..archive.custody import GENESIS, event_hash
from ..errors import UsageError
from ..i18n import _
from .bagit import MANIFEST, TAGMANIFEST, manifest_entries, parse_bag_info
from .reader import (
    BATCH,
    ENTRY_COLUMNS,
    Bundle,
    Entry,
    entry_from_row,
    iter_chunks,
    iter_lines,
    open_bundle,
)
from .timestamp import CA_COPY, CHAIN, TSR, load_certificates, parse_reply, verify_token
from .zipio import journal_path, restore_interrupted_append

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
            raise UsageError(
                _("cannot read the CA certificate {tsa_ca_file}: {error}").format(
                    tsa_ca_file=tsa_ca_file, error=exc
                )
            ) from exc
    if path.is_file():
        _undo_interrupted_append(path, report)
    with open_bundle(path) as bundle:
        _check(bundle, report, roots, tsa_ca_file)
    return report


def _undo_interrupted_append(path: Path, report: VerifyReport) -> None:
    """A timestamp that was being added when its process died leaves a journal beside the zip
    (see ``zipio``); the zip is put back as it was before, so that it can be checked."""
    try:
        undone = restore_interrupted_append(path)
    except OSError as exc:
        report.add(
            journal_path(path).name,
            _(
                "adding a timestamp to this bundle was interrupted and it cannot be put back here "
                "({value}); run 'evidence timestamp' on it where it is writable"
            ).format(value=exc.strerror or exc),
        )
        return
    if undone:
        report.notes.append(
            _(
                "adding a timestamp to this bundle had been interrupted: the bundle was put back "
                "exactly as it was before; run 'evidence timestamp' again to add one"
            )
        )


_TABLES = """
CREATE TABLE good (name TEXT PRIMARY KEY, entry INTEGER NOT NULL, size INTEGER NOT NULL,
                   digest TEXT);
CREATE TABLE listed (manifest TEXT NOT NULL, line INTEGER NOT NULL, path TEXT NOT NULL,
                     digest TEXT NOT NULL);
CREATE INDEX listed_path ON listed (manifest, path);
CREATE INDEX good_entry ON good (entry);
"""


class _State:
    """What is known of the bag's files, in the bundle's temporary database: ``good`` holds
    the plain, safe, unique files with their SHA-256 (or ``damaged``), ``listed`` the lines
    of the two manifests. Nothing here grows with the bundle in memory."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.db = bundle.db
        self.db.executescript(_TABLES)

    def digest(self, name: str) -> str | None:
        """The file's SHA-256, :data:`DAMAGED`, or None when the bag has no such good file."""
        row = self.db.execute("SELECT digest FROM good WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def readable(self, name: str) -> bool:
        return self.digest(name) not in (None, DAMAGED)

    def entry(self, name: str) -> Entry:
        (entry_id,) = self.db.execute("SELECT entry FROM good WHERE name = ?", (name,)).fetchone()
        return self.bundle.entry(entry_id)

    def lines(self, name: str) -> Iterator[str]:
        """A good file's lines (split at LF only, as ``sha256sum`` reads a manifest), streamed."""
        with self.bundle.open(self.entry(name)) as f:
            for line in iter_lines(f):
                yield line.rstrip(b"\n").removesuffix(b"\r").decode("utf-8", errors="strict")


def _check(
    bundle: Bundle, report: VerifyReport, roots: list[x509.Certificate], ca_file: Path | None
) -> None:
    db = bundle.db
    state = _State(bundle)
    for file, message in bundle.structural:
        report.add(file, message)
    for name, n in db.execute(
        "SELECT raw_name, count(*) FROM entries GROUP BY raw_name HAVING count(*) > 1 "
        "ORDER BY raw_name"
    ):
        report.add(name, _("appears {n} times in the bundle (a duplicate entry)").format(n=n))
    for e in bundle.entries():
        if e.unsafe:
            report.add(e.raw_name, _("unsafe entry: {unsafe}").format(unsafe=e.unsafe))
        elif e.symlink:
            report.add(e.raw_name, _("is a symbolic link (a bundle holds only plain files)"))
    db.execute(
        "INSERT OR REPLACE INTO good (name, entry, size) SELECT name, id, size FROM entries e "
        "WHERE unsafe IS NULL AND NOT symlink "
        "AND (SELECT count(*) FROM entries d WHERE d.raw_name = e.raw_name) = 1 ORDER BY id"
    )

    # Hash every file once, streaming, in the order they lie in the bundle.
    last = 0
    while rows := db.execute(
        f"SELECT g.name, {ENTRY_COLUMNS} FROM good g JOIN entries e ON e.id = g.entry "
        "WHERE g.entry > ? ORDER BY g.entry LIMIT ?",
        (last, BATCH),
    ).fetchall():
        digests: list[tuple[str, str]] = []
        for name, *columns in rows:
            entry = entry_from_row(tuple(columns))
            try:
                digest, size = _hash_entry(bundle, entry)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                # A byte changed inside the zip itself (its CRC no longer matches), a truncated
                # file, or an unreadable entry: damaged, and said so, never a crash.
                report.add(
                    entry.raw_name,
                    _("cannot be read from the bundle (damaged): {error}").format(error=exc),
                )
                digest = DAMAGED
            else:
                report.files_checked += 1
                report.bytes_checked += size
            digests.append((digest, name))
        db.executemany("UPDATE good SET digest = ? WHERE name = ?", digests)
        last = entry.id
    payload_count, payload_octets = db.execute(
        "SELECT count(*), coalesce(sum(size), 0) FROM good WHERE substr(name, 1, 5) = 'data/'"
    ).fetchone()

    for required in ("bagit.txt", "bag-info.txt", MANIFEST, TAGMANIFEST):
        if state.digest(required) is None:
            report.add(required, _("is missing: this is not a complete BagIt bag"))
    if state.readable("bagit.txt"):
        lines = bundle.read("bagit.txt").decode("utf-8", errors="replace").splitlines()
        if not lines or not lines[0].startswith("BagIt-Version: "):
            report.add("bagit.txt", _("does not declare a BagIt version"))
        if len(lines) < 2 or lines[1].strip() != "Tag-File-Character-Encoding: UTF-8":
            report.add("bagit.txt", _("does not declare UTF-8 tag files"))

    _check_manifest(state, report, MANIFEST, payload=True)
    _check_manifest(state, report, TAGMANIFEST, payload=False)
    listed = "EXISTS (SELECT 1 FROM listed l WHERE l.manifest = ? AND l.path = g.name)"
    for name, in_payload, in_tags in db.execute(
        f"SELECT name, {listed}, {listed} FROM good g WHERE digest != ? ORDER BY name",
        (MANIFEST, TAGMANIFEST, DAMAGED),
    ):
        if name.startswith("data/"):
            if not in_payload:
                report.add(
                    name,
                    _("is not listed in {MANIFEST} (added after the bundle was made)").format(
                        MANIFEST=MANIFEST
                    ),
                )
        elif name in (MANIFEST, TAGMANIFEST) or in_tags:
            continue
        elif name.startswith("timestamp/"):
            if name not in TIMESTAMP_FILES:
                report.add(name, _("is not a file a timestamp adds (added afterwards)"))
        else:
            report.add(
                name,
                _("is not listed in {TAGMANIFEST} (added after the bundle was made)").format(
                    TAGMANIFEST=TAGMANIFEST
                ),
            )

    info: dict[str, list[str]] = {}
    if state.readable("bag-info.txt"):
        info = parse_bag_info(bundle.read("bag-info.txt"))
        oxum = (info.get("Payload-Oxum") or [""])[0]
        if oxum and oxum != f"{payload_octets}.{payload_count}":
            report.add(
                "bag-info.txt",
                _(
                    "Payload-Oxum {oxum} does not match the payload ({payload_octets} bytes in "
                    "{payload_count} files)"
                ).format(oxum=oxum, payload_octets=payload_octets, payload_count=payload_count),
            )
    if state.digest("data/custody.jsonl") != DAMAGED:
        _check_custody(state, report, info)
    if state.readable("data/facts.json"):
        _check_facts(state, report)
    _check_timestamp(bundle, report, state, roots, ca_file)


def _check_facts(state: _State, report: VerifyReport) -> None:
    """Every exhibit the Key facts cite is in the bundle (its readable view is there)."""
    name = "data/facts.json"
    try:
        data = json.loads(state.bundle.read(name).decode("utf-8"))
        numbers = [n for f in data["facts"] for n in f["exhibits"]]
        for b in data["possible_breaches"]:
            numbers += [*b["promise_exhibits"], b["exhibit"]]
    except (ValueError, KeyError, TypeError) as exc:
        report.add(name, _("is not the list of facts an export writes: {error}").format(error=exc))
        return
    for number in dict.fromkeys(numbers):
        if not isinstance(number, str) or state.digest(f"data/items/{number}.html") is None:
            report.add(
                name, _("cites exhibit {number}, which is not in the bundle").format(number=number)
            )


def _check_manifest(state: _State, report: VerifyReport, manifest: str, *, payload: bool) -> None:
    if not state.readable(manifest):
        return
    db = state.db
    problems: list[str] = []
    rows: list[tuple[str, int, str, str]] = []
    try:
        for number, path, digest, problem in manifest_entries(state.lines(manifest)):
            if problem:
                problems.append(problem)
                continue
            rows.append((manifest, number, path, digest))
            if len(rows) >= BATCH:
                db.executemany("INSERT INTO listed VALUES (?, ?, ?, ?)", rows)
                rows.clear()
    except UnicodeDecodeError:
        db.execute("DELETE FROM listed WHERE manifest = ?", (manifest,))
        report.add(manifest, _("is not UTF-8 text"))
        return
    db.executemany("INSERT INTO listed VALUES (?, ?, ?, ?)", rows)
    for p in problems:
        report.add(manifest, p)
    for path, digest, found in db.execute(
        "SELECT l.path, l.digest, g.digest FROM listed l LEFT JOIN good g ON g.name = l.path "
        "WHERE l.manifest = ? ORDER BY l.line",
        (manifest,),
    ):
        if payload and not path.startswith("data/"):
            report.add(manifest, _("lists {path}, which is outside data/").format(path=path))
        elif found is None:
            report.add(
                path,
                _("is listed in {manifest} but missing from the bundle").format(manifest=manifest),
            )
        elif found != DAMAGED and found != digest:
            report.add(
                path,
                _("SHA-256 does not match {manifest}: the file was changed").format(
                    manifest=manifest
                ),
            )


def _check_custody(state: _State, report: VerifyReport, info: dict[str, list[str]]) -> None:
    name = "data/custody.jsonl"
    if state.digest(name) is None:
        report.add(name, _("is missing: the bundle has no custody log"))
        return
    pinned = (info.get("Custody-Chain-Head") or [""])[0]
    prev = GENESIS
    expected_seq = 1
    with state.bundle.open(state.entry(name)) as f:
        for number, raw in enumerate(iter_lines(f), 1):
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                seq, row_prev, digest = int(row["seq"]), str(row["prev_hash"]), str(row["hash"])
            except (ValueError, KeyError, TypeError):
                report.add(name, _("line {number} is not a custody event").format(number=number))
                return
            if seq != expected_seq:
                report.add(
                    name,
                    _("line {number}: sequence jumps from {value} to {seq}").format(
                        number=number, value=expected_seq - 1, seq=seq
                    ),
                )
            if row_prev != prev:
                report.add(
                    name,
                    _("line {number} (event {seq}): does not follow the event before it").format(
                        number=number, seq=seq
                    ),
                )
            if not row.get("redacted"):
                try:
                    recomputed = event_hash(
                        seq, row["at"], row["action"], row["subject"], row["details"], row_prev
                    )
                except KeyError:
                    report.add(
                        name,
                        _("line {number} (event {seq}): fields are missing").format(
                            number=number, seq=seq
                        ),
                    )
                else:
                    if recomputed != digest:
                        report.add(
                            name,
                            _("line {number} (event {seq}): content does not match hash").format(
                                number=number, seq=seq
                            ),
                        )
            prev = digest
            expected_seq = seq + 1
    report.custody_head = prev
    if pinned and prev != pinned:
        report.add(
            name,
            _(
                "the chain ends at {prev}…, but bag-info.txt pins Custody-Chain-Head {pinned}…"
            ).format(prev=prev[:16], pinned=pinned[:16]),
        )
    elif not pinned:
        report.add("bag-info.txt", _("has no Custody-Chain-Head"))


def _check_timestamp(
    bundle: Bundle,
    report: VerifyReport,
    state: _State,
    roots: list[x509.Certificate],
    ca_file: Path | None,
) -> None:
    if not state.readable(TSR):
        if ca_file is not None:
            report.add(TSR, _("is missing, but a timestamp was expected (--tsa-ca-file was given)"))
        else:
            report.notes.append(_("this bundle has no trusted timestamp (RFC 3161)"))
        return
    try:
        body = bundle.read(TSR)
        tagmanifest = bundle.read(TAGMANIFEST)
        chain = load_certificates(bundle.read(CHAIN)) if state.readable(CHAIN) else []
        if not roots:
            if not state.readable(CA_COPY):
                report.add(
                    TSR,
                    _("cannot be checked: no CA certificate; give the TSA's CA with --tsa-ca-file"),
                )
                return
            roots = load_certificates(bundle.read(CA_COPY))
            report.notes.append(
                _(
                    "the timestamp was checked against the CA copy inside the bundle ({CA_COPY}); "
                    "for independent proof give the TSA's own CA with --tsa-ca-file"
                ).format(CA_COPY=CA_COPY)
            )
        response = parse_reply(body, "this bundle's TSA")
        if response.tst_info.message_imprint.message != hashlib.sha256(tagmanifest).digest():
            report.add(
                TSR,
                _(
                    "does not cover this {TAGMANIFEST}: the manifests were changed after "
                    "timestamping"
                ).format(TAGMANIFEST=TAGMANIFEST),
            )
            return
        verify_token(response, tagmanifest, roots, chain)
    except Exception as exc:  # any failure to verify the token is a failure of the bundle
        report.add(TSR, _("the timestamp does not verify: {error}").format(error=exc))
        return
    report.timestamp = {
        "gen_time": response.tst_info.gen_time.isoformat(),
        "serial_number": str(response.tst_info.serial_number),
        "token_sha256": hashlib.sha256(body).hexdigest(),
    }
