"""Reading a bundle the same way whether it is a zip or a folder, without extracting it.

A zip is never unpacked: every entry is streamed from the archive file. Entry names are
reported exactly as stored, and the ones that could escape the bag when someone unzips it
(``../``, an absolute path, a backslash, a drive letter, a symlink) are flagged as unsafe
instead of being opened as bag files.
"""

from __future__ import annotations

import stat
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ..errors import NotFound, UsageError


@dataclass(frozen=True)
class Entry:
    """One file in a bundle. ``name`` is relative to the bag's top folder."""

    name: str
    raw_name: str  # as stored (zip) or as found (folder)
    size: int
    symlink: bool = False
    unsafe: str | None = None  # why the name could escape the bag


def unsafe_reason(name: str) -> str | None:
    if "\\" in name:
        return "has a backslash in its name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if any(part == ".." for part in PurePosixPath(name).parts):
        return "points outside the bag with '..'"
    if "\x00" in name:
        return "has a NUL character in its name"
    return None


class Bundle(ABC):
    """A bag on disk: ``entries`` lists every file; ``open``/``read`` give a file's bytes."""

    kind: str
    path: Path
    root: str
    entries: list[Entry]
    structural: list[tuple[str, str]]  # (file, problem) found while listing

    @abstractmethod
    def open(self, entry: Entry) -> BinaryIO:
        """A stream of one entry's bytes; each backend (zip, folder) opens it its way."""

    def read(self, name: str) -> bytes:
        for e in self.entries:
            if e.name == name and not e.unsafe and not e.symlink:
                with self.open(e) as f:
                    return f.read()
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return any(e.name == name for e in self.entries)

    def close(self) -> None:  # noqa: B027 - a folder bundle holds nothing open
        """Release what the bundle holds open (the zip file)."""

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ZipBundle(Bundle):
    kind = "zip"

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise UsageError(f"{path} is not a readable zip file: {exc}") from exc
        self.structural = []
        infos = [i for i in self.zip.infolist() if not (i.is_dir() and i.file_size == 0)]
        tops = {i.filename.split("/", 1)[0] for i in infos if "/" in i.filename}
        bagit_tops = {
            i.filename.split("/", 1)[0]
            for i in infos
            if i.filename.count("/") == 1 and i.filename.endswith("/bagit.txt")
        }
        self.root = sorted(bagit_tops)[0] if bagit_tops else (sorted(tops)[0] if tops else "")
        self._infos: dict[int, zipfile.ZipInfo] = {}
        self.entries = []
        for info in infos:
            raw = info.filename
            prefix = self.root + "/"
            name = raw[len(prefix) :] if raw.startswith(prefix) else raw
            mode = info.external_attr >> 16
            symlink = info.create_system == 3 and stat.S_ISLNK(mode)
            reason = unsafe_reason(raw)
            if reason is None and not raw.startswith(prefix):
                reason = f"is outside the bag's top folder {self.root!r}"
            entry = Entry(name, raw, info.file_size, symlink, reason)
            self._infos[id(entry)] = info
            self.entries.append(entry)

    def open(self, entry: Entry) -> BinaryIO:
        return self.zip.open(self._infos[id(entry)])  # type: ignore[return-value]

    def close(self) -> None:
        self.zip.close()


class DirBundle(Bundle):
    kind = "dir"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.root = path.name
        self.structural = []
        self.entries = []
        for p in sorted(path.rglob("*")):
            rel = p.relative_to(path).as_posix()
            if p.is_symlink():
                self.entries.append(Entry(rel, rel, 0, True, None))
            elif p.is_file():
                self.entries.append(Entry(rel, rel, p.stat().st_size, False, unsafe_reason(rel)))

    def open(self, entry: Entry) -> BinaryIO:
        return (self.path / entry.name).open("rb")


def open_bundle(path: Path) -> Bundle:
    """Open a bundle (zip or folder) for reading; raise :class:`NotFound` when it is absent."""
    if path.is_dir():
        return DirBundle(path)
    if path.is_file():
        return ZipBundle(path)
    raise NotFound(f"no bundle at {path}: give the .zip file or the bundle's folder")


def iter_chunks(f: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := f.read(size):
        yield chunk
