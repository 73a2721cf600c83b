"""Writing a BagIt bag (RFC 8493) as a zip or a folder, streaming and reproducibly.

A :class:`BagWriter` takes files one at a time, hashes each while it is written (a single pass
over the bytes, so a 1 GB original is read once and never held in memory), records the
SHA-256 of every file, and at the end writes ``bagit.txt``, ``bag-info.txt``,
``manifest-sha256.txt`` and ``tagmanifest-sha256.txt`` from what it saw.

Memory stays flat whatever the number of files: the SHA-256s are kept in a private temporary
SQLite database (on disk past a small page cache) and the manifests are streamed out of it in
path order; the zip is written by :mod:`.zipio`, which spills its central directory to disk.

Reproducibility: the writer never looks at the wall clock or the file system's order. Zip
entries carry one fixed time (the export time given by the caller), fixed permissions, and the
order in which the caller adds them; manifests are sorted by path. Binaries are *stored*
(compressing a JPEG or a PDF again costs time and gains nothing) and text is deflated.

In a zip the bag is the single top-level folder named after the bundle, as RFC 8493 asks of a
serialized bag, so unzipping gives one folder that any BagIt tool can validate.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from .zipio import ZipWriter, fsync_dir

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
MANIFEST = "manifest-sha256.txt"
TAGMANIFEST = "tagmanifest-sha256.txt"
CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")

# Extensions of formats that are already compressed, or whose bytes we never want to touch:
# stored as they are. Everything else that is text is deflated.
TEXT_SUFFIXES = {".txt", ".html", ".json", ".jsonl", ".csv", ".eml", ".xml", ".vcf", ".mbox"}


def should_deflate(path: str, media_type: str = "") -> bool:
    """Deflate text (renderings, JSON, mail) and store everything else as it is."""
    if media_type.startswith("text/") or media_type in ("message/rfc822", "application/json"):
        return True
    # The suffix as Path.suffix gives it, without building a Path (pathlib interns each part).
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return 0 < dot < len(name) - 1 and name[dot:].lower() in TEXT_SUFFIXES


def encode_manifest_path(path: str) -> str:
    """RFC 8493 §2.1.3: CR, LF and % in a manifest path are percent-encoded."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_manifest_path(path: str) -> str:
    return (
        path.replace("%0D", "\r")
        .replace("%0d", "\r")
        .replace("%0A", "\n")
        .replace("%0a", "\n")
        .replace("%25", "%")
    )


def manifest_line(path: str, digest: str) -> str:
    """One manifest line (two spaces, as ``sha256sum`` writes them)."""
    return f"{digest}  {encode_manifest_path(path)}\n"


def format_manifest(entries: Iterable[tuple[str, str]]) -> bytes:
    """``(path, sha256)`` pairs as manifest lines, sorted by path."""
    return "".join(manifest_line(path, digest) for path, digest in sorted(entries)).encode()


def manifest_entries(lines: Iterable[str]) -> Iterator[tuple[int, str, str, str]]:
    """``(line number, path, sha256, "")`` for each line of a manifest, or
    ``(line number, "", "", problem)`` for a line that is not ``<sha256>  <path>``."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        digest, _, path = line.partition(" ")
        path = path.lstrip(" ").removeprefix("*")
        if not _SHA256.fullmatch(digest) or not path:
            yield number, "", "", f"line {number} is not '<sha256>  <path>'"
            continue
        yield number, decode_manifest_path(path) if "%" in path else path, digest.lower(), ""


def format_bag_info(fields: Iterable[tuple[str, str]]) -> bytes:
    """``Label: value`` lines; a value never spans lines (new lines become spaces)."""
    out = []
    for label, value in fields:
        clean = " ".join(str(value).split())
        out.append(f"{label}: {clean}\n")
    return "".join(out).encode("utf-8")


def parse_bag_info(data: bytes) -> dict[str, list[str]]:
    info: dict[str, list[str]] = {}
    last: str | None = None
    for line in data.decode("utf-8", errors="replace").splitlines():
        if line[:1] in (" ", "\t") and last is not None:
            info[last][-1] += " " + line.strip()
            continue
        label, sep, value = line.partition(":")
        if not sep:
            continue
        last = label.strip()
        info.setdefault(last, []).append(value.strip())
    return info


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


class _HashingSink:
    """A file-like object that hashes and counts what passes through it."""

    def __init__(self, out: Writable) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)


Producer = Callable[[BinaryIO], object]


class _Digests:
    """``path -> sha256`` of every file written, payload or tag, in a temporary database."""

    def __init__(self) -> None:
        # "" is SQLite's private temporary database: a file, deleted on close, that stays in
        # the page cache while it is small.
        self.db = sqlite3.connect("")
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(
            "CREATE TABLE files (path TEXT PRIMARY KEY, digest TEXT NOT NULL, tag INTEGER)"
        )

    def __contains__(self, path: str) -> bool:
        row = self.db.execute("SELECT 1 FROM files WHERE path = ?", (path,)).fetchone()
        return row is not None

    def add(self, path: str, digest: str, tag: bool) -> None:
        self.db.execute("INSERT INTO files VALUES (?, ?, ?)", (path, digest, tag))

    def lines(self, tag: bool, batch: int = 1000) -> Iterator[str]:
        """Manifest lines sorted by path (the primary key's order: UTF-8 bytes, which is the
        code point order ``sorted`` gives)."""
        cursor = self.db.execute(
            "SELECT path, digest FROM files WHERE tag = ? ORDER BY path", (tag,)
        )
        while rows := cursor.fetchmany(batch):
            yield from (manifest_line(path, digest) for path, digest in rows)

    def close(self) -> None:
        self.db.close()


class BagWriter(ABC):
    """Adds files to a bag and writes its tag files; use :func:`open_bag` to make one."""

    def __init__(self) -> None:
        self.digests = _Digests()
        self.payload_files = 0
        self.payload_bytes = 0

    @abstractmethod
    def _write(
        self, path: str, produce: Producer, compress: bool, size_hint: int | None
    ) -> tuple[str, int]:
        """Write one entry by calling ``produce(stream)``; each backend does it its way."""

    def add(
        self, path: str, produce: Producer, *, compress: bool, size_hint: int | None = None
    ) -> str:
        """Write ``path`` (``data/…`` for payload) by streaming; return its SHA-256."""
        if path in self.digests:
            raise ValueError(f"{path} added twice")
        digest, size = self._write(path, produce, compress, size_hint)
        payload = path.startswith("data/")
        self.digests.add(path, digest, tag=not payload)
        if payload:
            self.payload_files += 1
            self.payload_bytes += size
        return digest

    def add_bytes(self, path: str, data: bytes, *, compress: bool = True) -> str:
        return self.add(path, lambda out: out.write(data), compress=compress, size_hint=len(data))

    def finish(self, bag_info: list[tuple[str, str]]) -> bytes:
        """Write the BagIt tag files; return the bytes of ``tagmanifest-sha256.txt``."""
        oxum = f"{self.payload_bytes}.{self.payload_files}"
        self.add_bytes("bagit.txt", BAGIT_TXT)
        self.add_bytes("bag-info.txt", format_bag_info([*bag_info, ("Payload-Oxum", oxum)]))
        payload_lines = self.digests.lines(tag=False)
        self.add(MANIFEST, lambda out: _write_lines(out, payload_lines), compress=True)
        tagmanifest = "".join(self.digests.lines(tag=True)).encode("utf-8")
        self._write(TAGMANIFEST, lambda out: out.write(tagmanifest), True, len(tagmanifest))
        self.close()
        return tagmanifest

    def close(self) -> None:
        """Finish the output and release what the writer holds."""
        self.digests.close()

    def abort(self) -> None:
        """Release the output after a failure (the caller removes what was written)."""
        self.digests.close()


def _write_lines(out: BinaryIO, lines: Iterable[str], batch: int = 1 << 16) -> None:
    buf: list[str] = []
    size = 0
    for line in lines:
        buf.append(line)
        size += len(line)
        if size >= batch:
            out.write("".join(buf).encode("utf-8"))
            buf, size = [], 0
    out.write("".join(buf).encode("utf-8"))


def zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    """Zip times are wall-clock fields without a zone: entries get the time in UTC."""
    utc = moment.astimezone(UTC)
    return (max(utc.year, 1980), utc.month, utc.day, utc.hour, utc.minute, utc.second)


class ZipBagWriter(BagWriter):
    """A bag as one zip file whose single top-level folder is the bag."""

    def __init__(self, path: Path, root: str, moment: datetime) -> None:
        super().__init__()
        self.root = root
        self.zip = ZipWriter.create(path, zip_time(moment))

    def _write(
        self, path: str, produce: Producer, compress: bool, size_hint: int | None
    ) -> tuple[str, int]:
        with self.zip.open(f"{self.root}/{path}", compress=compress, size_hint=size_hint) as entry:
            sink = _HashingSink(entry)
            produce(sink)  # type: ignore[arg-type]
        return sink.digest.hexdigest(), sink.size

    def close(self) -> None:
        try:
            self.zip.close()
        finally:
            super().close()

    def abort(self) -> None:
        try:
            self.zip.abort()
        finally:
            super().abort()


class DirBagWriter(BagWriter):
    """A bag as a folder."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.root = path

    def _write(
        self, path: str, produce: Producer, compress: bool, size_hint: int | None
    ) -> tuple[str, int]:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as f:
            sink = _HashingSink(f)
            produce(sink)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())  # durable before the bag is renamed into place
        return sink.digest.hexdigest(), sink.size


def open_bag(path: Path, fmt: str, moment: datetime, root: str | None = None) -> BagWriter:
    """A writer for a new bag at ``path`` (``fmt`` is ``zip`` or ``dir``).

    ``root`` names the zip's top-level folder (by default the zip's name without ``.zip``).
    """
    if fmt == "zip":
        return ZipBagWriter(path, root or path.name.removesuffix(".zip"), moment)
    path.mkdir(parents=True)
    return DirBagWriter(path)


def fsync_tree(path: Path) -> None:
    """:func:`fsync_dir` for a folder bag and every folder in it (their entries are new too)."""
    for folder, _, _ in os.walk(path):
        fsync_dir(Path(folder))
