"""Reading a bundle the same way whether it is a zip or a folder, without extracting it.

A zip is never unpacked: its central directory is walked record by record and every entry is
streamed from the archive file (:mod:`.zipio`). Entry names are reported exactly as stored, and
the ones that could escape the bag when someone unzips it (``../``, an absolute path, a
backslash, a drive letter, a symlink) are flagged as unsafe instead of being opened as bag
files.

The listing is not held in Python objects: it goes into the ``entries`` table of a private
temporary SQLite database (``Bundle.db``, on disk past a small page cache), so that listing and
checking a bundle of any size takes the same memory. :mod:`.verify` queries that table.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from zipfile import BadZipFile

from ..errors import NotFound, UsageError
from ..i18n import _
from .zipio import Member, iter_central_directory, open_member

BATCH = 1000

_SCHEMA = """
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    raw_name TEXT NOT NULL,  -- as stored (zip) or as found (folder)
    name TEXT,               -- relative to the bag's top folder
    size INTEGER NOT NULL,
    symlink INTEGER NOT NULL,
    unsafe TEXT,             -- why the name could escape the bag
    -- where a zip entry's bytes are (NULL in a folder):
    flags INTEGER, method INTEGER, crc INTEGER, compressed INTEGER, header_offset INTEGER
);
CREATE INDEX entries_raw_name ON entries (raw_name);
CREATE INDEX entries_name ON entries (name);
"""

ENTRY_COLUMNS = (
    "e.id, e.name, e.raw_name, e.size, e.symlink, e.unsafe, "
    "e.flags, e.method, e.crc, e.compressed, e.header_offset"
)
_ENTRY = f"{ENTRY_COLUMNS} FROM entries e"


@dataclass(frozen=True)
class Entry:
    """One file in a bundle. ``name`` is relative to the bag's top folder; ``id`` is its row
    in the bundle's ``entries`` table."""

    name: str
    raw_name: str
    size: int
    symlink: bool = False
    unsafe: str | None = None
    id: int = 0
    member: Member | None = field(default=None, repr=False)  # where a zip entry's bytes are


def unsafe_reason(name: str) -> str | None:
    if "\\" in name:
        return "has a backslash in its name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if ".." in name.split("/"):
        return "points outside the bag with '..'"
    if "\x00" in name:
        return "has a NUL character in its name"
    return None


def entry_from_row(row: tuple[Any, ...]) -> Entry:
    """An :class:`Entry` from a row of :data:`ENTRY_COLUMNS`."""
    entry_id, name, raw_name, size, symlink, unsafe, flags, method, crc, compressed, at = row
    member = None
    if flags is not None:
        member = Member(raw_name, flags, method, crc, compressed, size, at, 0, 0)
    return Entry(name, raw_name, size, bool(symlink), unsafe, entry_id, member)


class Bundle(ABC):
    """A bag on disk, listed in ``db`` (see the module docstring); ``open``/``read`` give a
    file's bytes."""

    kind: str
    path: Path
    root: str
    structural: list[tuple[str, str]]  # (file, problem) found while listing

    def __init__(self, path: Path) -> None:
        self.path = path
        self.root = ""
        self.structural = []
        # "" is SQLite's private temporary database: a file, deleted on close, that stays in
        # the page cache while it is small.
        self.db = sqlite3.connect("")
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        self.db.executemany(
            "INSERT INTO entries (raw_name, name, size, symlink, unsafe, flags, method, crc, "
            "compressed, header_offset) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        rows.clear()

    def entries(self) -> Iterator[Entry]:
        """Every entry, in the order listed."""
        cursor = self.db.execute(f"SELECT {_ENTRY} ORDER BY e.id")
        while rows := cursor.fetchmany(BATCH):
            yield from (entry_from_row(row) for row in rows)

    def entry(self, entry_id: int) -> Entry:
        row = self.db.execute(f"SELECT {_ENTRY} WHERE e.id = ?", (entry_id,))
        return entry_from_row(row.fetchone())

    def find(self, name: str) -> Entry | None:
        """The first plain, safe file called ``name``."""
        row = self.db.execute(
            f"SELECT {_ENTRY} WHERE e.name = ? AND e.unsafe IS NULL AND NOT e.symlink "
            "ORDER BY e.id LIMIT 1",
            (name,),
        ).fetchone()
        return entry_from_row(row) if row else None

    @abstractmethod
    def open(self, entry: Entry) -> BinaryIO:
        """A stream of one entry's bytes; each backend (zip, folder) opens it its way."""

    def read(self, name: str) -> bytes:
        entry = self.find(name)
        if entry is None:
            raise KeyError(name)
        with self.open(entry) as f:
            return f.read()

    def has(self, name: str) -> bool:
        row = self.db.execute("SELECT 1 FROM entries WHERE name = ? LIMIT 1", (name,))
        return row.fetchone() is not None

    def close(self) -> None:
        """Release what the bundle holds open (the listing, the zip file)."""
        self.db.close()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ZipBundle(Bundle):
    kind = "zip"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            self.file = path.open("rb")
        except OSError as exc:
            self.db.close()
            raise UsageError(
                _("{path} is not a readable zip file: {error}").format(path=path, error=exc)
            ) from exc
        try:
            self._list()
        except (BadZipFile, OSError, EOFError) as exc:
            self.close()
            raise UsageError(
                _("{path} is not a readable zip file: {error}").format(path=path, error=exc)
            ) from exc

    def _list(self) -> None:
        top: str | None = None
        bagit_top: str | None = None
        rows: list[tuple[Any, ...]] = []
        for m in iter_central_directory(self.file):
            if m.is_dir and m.size == 0:
                continue
            raw = m.name
            if "/" in raw:
                first = raw.split("/", 1)[0]
                top = first if top is None or first < top else top
                if raw.count("/") == 1 and raw.endswith("/bagit.txt"):
                    bagit_top = first if bagit_top is None or first < bagit_top else bagit_top
            symlink = m.create_system == 3 and stat.S_ISLNK(m.external_attr >> 16)
            rows.append(
                (raw, None, m.size, symlink, unsafe_reason(raw), m.flags, m.method, m.crc,
                 m.compressed, m.header_offset)
            )  # fmt: skip
            if len(rows) >= BATCH:
                self._insert(rows)
        self._insert(rows)
        # The bag is the top folder that holds bagit.txt (or, failing that, the first one).
        self.root = bagit_top if bagit_top is not None else (top or "")
        prefix = self.root + "/"
        inside = "substr(raw_name, 1, ?) = ?"
        self.db.execute(
            f"UPDATE entries SET name = substr(raw_name, ?) WHERE {inside}",
            (len(prefix) + 1, len(prefix), prefix),
        )
        self.db.execute("UPDATE entries SET name = raw_name WHERE name IS NULL")
        self.db.execute(
            f"UPDATE entries SET unsafe = ? WHERE unsafe IS NULL AND NOT {inside}",
            (f"is outside the bag's top folder {self.root!r}", len(prefix), prefix),
        )

    def open(self, entry: Entry) -> BinaryIO:
        member = entry.member or self.entry(entry.id).member
        if member is None:
            raise KeyError(entry.raw_name)
        return open_member(self.file, member)

    def close(self) -> None:
        try:
            self.file.close()
        finally:
            super().close()


class DirBundle(Bundle):
    kind = "dir"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.root = path.name
        rows: list[tuple[Any, ...]] = []
        for rel, size, symlink in _walk(path, ""):
            unsafe = None if symlink else unsafe_reason(rel)
            rows.append((rel, rel, size, symlink, unsafe, None, None, None, None, None))
            if len(rows) >= BATCH:
                self._insert(rows)
        self._insert(rows)

    def open(self, entry: Entry) -> BinaryIO:
        return (self.path / entry.name).open("rb")


def _walk(folder: Path, prefix: str) -> Iterator[tuple[str, int, bool]]:
    """``(relative path, size, is a symlink)`` of every file below ``folder``, streamed (a
    folder of originals is not listed into memory); symlinked folders are not followed."""
    with os.scandir(folder) as it:
        for item in it:
            rel = prefix + item.name
            if item.is_symlink():
                yield rel, 0, True
            elif item.is_dir(follow_symlinks=False):
                yield from _walk(Path(item.path), rel + "/")
            elif item.is_file(follow_symlinks=False):
                yield rel, item.stat(follow_symlinks=False).st_size, False


def open_bundle(path: Path) -> Bundle:
    """Open a bundle (zip or folder) for reading; raise :class:`NotFound` when it is absent."""
    if path.is_dir():
        return DirBundle(path)
    if path.is_file():
        return ZipBundle(path)
    raise NotFound(
        _("no bundle at {path}: give the .zip file or the bundle's folder").format(path=path)
    )


def iter_chunks(f: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := f.read(size):
        yield chunk


def iter_lines(f: BinaryIO, size: int = 1 << 16) -> Iterator[bytes]:
    """The lines of a stream, each ending at LF (but maybe the last), read in pieces."""
    rest = b""
    while chunk := f.read(size):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from (line + b"\n" for line in lines)
    if rest:
        yield rest
