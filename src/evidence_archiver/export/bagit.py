"""Writing a BagIt bag (RFC 8493) as a zip or a folder, streaming and reproducibly.

A :class:`BagWriter` takes files one at a time, hashes each while it is written (a single pass
over the bytes, so a 1 GB original is read once and never held in memory), remembers the
SHA-256 of every file, and at the end writes ``bagit.txt``, ``bag-info.txt``,
``manifest-sha256.txt`` and ``tagmanifest-sha256.txt`` from what it saw.

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
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
MANIFEST = "manifest-sha256.txt"
TAGMANIFEST = "tagmanifest-sha256.txt"
CHUNK = 1 << 20

# Extensions of formats that are already compressed, or whose bytes we never want to touch:
# stored as they are. Everything else that is text is deflated.
TEXT_SUFFIXES = {".txt", ".html", ".json", ".jsonl", ".csv", ".eml", ".xml", ".vcf", ".mbox"}


def should_deflate(path: str, media_type: str = "") -> bool:
    """Deflate text (renderings, JSON, mail) and store everything else as it is."""
    if media_type.startswith("text/") or media_type in ("message/rfc822", "application/json"):
        return True
    return Path(path).suffix.lower() in TEXT_SUFFIXES


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


def format_manifest(entries: Iterable[tuple[str, str]]) -> bytes:
    """``(path, sha256)`` pairs as manifest lines (two spaces, as ``sha256sum`` writes them)."""
    lines = [f"{digest}  {encode_manifest_path(path)}\n" for path, digest in sorted(entries)]
    return "".join(lines).encode("utf-8")


def parse_manifest(data: bytes) -> tuple[list[tuple[str, str]], list[str]]:
    """Return ``([(path, sha256), …], [problems])`` for the lines of a manifest."""
    entries: list[tuple[str, str]] = []
    problems: list[str] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [], ["is not UTF-8 text"]
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, _, path = line.partition(" ")
        path = path.lstrip(" ").removeprefix("*")
        hexdigits = all(c in "0123456789abcdef" for c in digest.lower())
        if len(digest) != 64 or not hexdigits or not path:
            problems.append(f"line {number} is not '<sha256>  <path>'")
            continue
        entries.append((decode_manifest_path(path), digest.lower()))
    return entries, problems


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


class _HashingSink:
    """A file-like object that hashes and counts what passes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)


Producer = Callable[[BinaryIO], object]


class BagWriter(ABC):
    """Adds files to a bag and writes its tag files; use :func:`open_bag` to make one."""

    def __init__(self) -> None:
        self.payload: dict[str, str] = {}
        self.payload_bytes = 0
        self.tags: dict[str, str] = {}

    @abstractmethod
    def _write(
        self, path: str, produce: Producer, compress: bool, size_hint: int | None
    ) -> tuple[str, int]:
        """Write one entry by calling ``produce(stream)``; each backend does it its way."""

    def add(
        self, path: str, produce: Producer, *, compress: bool, size_hint: int | None = None
    ) -> str:
        """Write ``path`` (``data/…`` for payload) by streaming; return its SHA-256."""
        if path in self.payload or path in self.tags:
            raise ValueError(f"{path} added twice")
        digest, size = self._write(path, produce, compress, size_hint)
        if path.startswith("data/"):
            self.payload[path] = digest
            self.payload_bytes += size
        else:
            self.tags[path] = digest
        return digest

    def add_bytes(self, path: str, data: bytes, *, compress: bool = True) -> str:
        return self.add(path, lambda out: out.write(data), compress=compress, size_hint=len(data))

    def finish(self, bag_info: list[tuple[str, str]]) -> bytes:
        """Write the BagIt tag files; return the bytes of ``tagmanifest-sha256.txt``."""
        oxum = f"{self.payload_bytes}.{len(self.payload)}"
        self.add_bytes("bagit.txt", BAGIT_TXT)
        self.add_bytes("bag-info.txt", format_bag_info([*bag_info, ("Payload-Oxum", oxum)]))
        self.add_bytes(MANIFEST, format_manifest(self.payload.items()))
        tagmanifest = format_manifest(self.tags.items())
        self._write(TAGMANIFEST, lambda out: out.write(tagmanifest), True, len(tagmanifest))
        self.close()
        return tagmanifest

    def close(self) -> None:  # noqa: B027 - a backend with nothing to release keeps this
        """Release the output (also called on failure)."""


class ZipBagWriter(BagWriter):
    """A bag as one zip file whose single top-level folder is the bag."""

    def __init__(self, path: Path, root: str, moment: datetime) -> None:
        super().__init__()
        self.root = root
        # Zip times are wall-clock fields without a zone; every entry gets the export time in UTC.
        utc = moment.astimezone(UTC)
        self.date_time = (max(utc.year, 1980), utc.month, utc.day, utc.hour, utc.minute, utc.second)
        self.zip = zipfile.ZipFile(path, "w", allowZip64=True)

    def _write(
        self, path: str, produce: Producer, compress: bool, size_hint: int | None
    ) -> tuple[str, int]:
        info = zipfile.ZipInfo(f"{self.root}/{path}", date_time=self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        # Level 1: text shrinks nearly as much as at the default level, several times faster.
        info._compresslevel = 1  # type: ignore[attr-defined]
        info.external_attr = 0o100644 << 16
        info.create_system = 3
        if size_hint is not None:
            info.file_size = size_hint
        with self.zip.open(info, "w", force_zip64=size_hint is None) as entry:
            sink = _HashingSink(entry)  # type: ignore[arg-type]
            produce(sink)  # type: ignore[arg-type]
        return sink.digest.hexdigest(), sink.size

    def close(self) -> None:
        self.zip.close()


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
        return sink.digest.hexdigest(), sink.size


def open_bag(path: Path, fmt: str, moment: datetime, root: str | None = None) -> BagWriter:
    """A writer for a new bag at ``path`` (``fmt`` is ``zip`` or ``dir``).

    ``root`` names the zip's top-level folder (by default the zip's name without ``.zip``).
    """
    if fmt == "zip":
        return ZipBagWriter(path, root or path.name.removesuffix(".zip"), moment)
    path.mkdir(parents=True)
    return DirBagWriter(path)


def fsync_dir(path: Path) -> None:
    """Make a finished bag durable before the custody log says it exists."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
