"""Zip files written and read in bounded memory, whatever the number of entries.

The standard library's :mod:`zipfile` keeps one ``ZipInfo`` per entry for as long as the file
is open, in order to write (or after reading) the central directory: a few hundred bytes per
entry, so memory grows with the case. The streaming zip libraries on PyPI (stream-zip,
zipstream-ng) keep their central directory records in memory too. Here:

* :class:`ZipWriter` writes each entry's local header, its data (stored, or deflated at level 1)
  and then patches the header's CRC and sizes in place (the output is a file we can seek in, so
  no data descriptors are needed). Each entry's central directory record is appended to a
  temporary file at once and copied to the end of the zip on :meth:`ZipWriter.close`. ZIP64
  fields are used only where a size or an offset needs them, so small bundles are plain zips.
* :meth:`ZipWriter.append` reopens a finished zip to add entries (the timestamp tokens): the
  existing central directory is copied, in chunks, to the temporary file, and new entries are
  written where it was, as ``zipfile``'s append mode does, but without parsing it into memory.
  What gets overwritten (the old central directory and end records) is first saved, synced, in
  a journal beside the zip: an append that fails, or a process killed in the middle of one,
  leaves a zip that :func:`restore_interrupted_append` puts back byte for byte.
* :func:`iter_central_directory` walks the central directory of any zip one record at a time,
  and :func:`open_member` streams one entry's bytes, checking its CRC-32 and size at the end.

Only what bundles need is supported: no encryption, no multi-disk archives, and reading knows
the stored and deflate methods (anything else raises :class:`UnreadableEntry`).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from zipfile import BadZipFile

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

# From these values on, a size, an offset or the entry count goes into the ZIP64 fields and the
# plain field holds the marker instead (the limits are separate from the markers for the tests).
ZIP64_LIMIT = 0xFFFFFFFF
COUNT_LIMIT = 0xFFFF
_MARK32 = 0xFFFFFFFF
_MARK16 = 0xFFFF
STORED = 0
DEFLATED = 8
FLAG_UTF8 = 0x800
FLAG_ENCRYPTED = 0x1
UNIX = 3
FILE_MODE = 0o100644 << 16
CHUNK = 1 << 20
DIRECTORY_CHUNK = 1 << 16

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_LOCAL_SIG = 0x04034B50
_CENTRAL = struct.Struct("<IBBBBHHHHIIIHHHHHII")
_CENTRAL_SIG = 0x02014B50
_END = struct.Struct("<IHHHHIIH")
_END_SIG = 0x06054B50
_END64 = struct.Struct("<IQBBHIIQQQQ")
_END64_SIG = 0x06064B50
_LOCATOR = struct.Struct("<IIQI")
_LOCATOR_SIG = 0x07064B50
_EXTRA_HEADER = struct.Struct("<HH")
_ZIP64_EXTRA = 0x0001
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

DateTime = tuple[int, int, int, int, int, int]


def _dos_time(date_time: DateTime) -> tuple[int, int]:
    year, month, day, hour, minute, second = date_time
    date = (max(year, 1980) - 1980) << 9 | month << 5 | day
    time = hour << 11 | minute << 5 | second // 2
    return date, time


def _encode_name(name: str) -> tuple[bytes, int]:
    """Names are ASCII or UTF-8 with the language encoding flag (bit 11), as zipfile does."""
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), FLAG_UTF8


class ZipWriter:
    """Writes a zip entry by entry; see the module docstring. Use :meth:`create` or
    :meth:`append`, then :meth:`open` / :meth:`write_bytes` for each entry, then :meth:`close`.
    """

    def __init__(
        self,
        file: BinaryIO,
        *,
        date_time: DateTime,
        offset: int = 0,
        directory: BinaryIO | None = None,
        count: int = 0,
        comment: bytes = b"",
        appending_to: Path | None = None,
    ) -> None:
        self._file = file
        # Set while appending: the append is undone from its journal unless close() succeeds.
        self._appending_to = appending_to
        self._date, self._time = _dos_time(date_time)
        self._offset = offset
        # The central directory records wait on disk, not in memory, until close().
        self._directory = directory or tempfile.TemporaryFile()  # noqa: SIM115
        self._count = count
        self._comment = comment
        self._entry: _EntryWriter | None = None
        self._closed = False

    @classmethod
    def create(cls, path: Path, date_time: DateTime) -> ZipWriter:
        """A new, empty zip at ``path`` (replacing any file there)."""
        return cls(path.open("w+b"), date_time=date_time)

    @classmethod
    def append(cls, path: Path, date_time: DateTime) -> ZipWriter:
        """Reopen the finished zip at ``path`` to add entries after the ones it holds.

        Raises :class:`zipfile.BadZipFile` when the file is not a zip this writer can extend
        (no end record, data before the first entry, a central directory that is not right
        before the end records).
        """
        restore_interrupted_append(path)
        file = path.open("r+b")
        try:
            end = _find_end(file)
            if end.shift != 0:
                raise BadZipFile("the central directory is not where the end record says")
            directory = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
            try:
                file.seek(end.directory_offset)
                _copy(file, directory, end.directory_size)
                _write_journal(path, file, end.directory_offset)
            except BaseException:
                directory.close()
                raise
        except BaseException:
            file.close()
            raise
        file.seek(end.directory_offset)
        return cls(
            file,
            date_time=date_time,
            offset=end.directory_offset,
            directory=directory,
            count=end.count,
            comment=end.comment,
            appending_to=path,
        )

    def open(self, name: str, *, compress: bool, size_hint: int | None = None) -> _EntryWriter:
        """A writable stream for the entry ``name``; close it before opening the next one.

        ``size_hint`` is the expected size: an entry announced below 4 GiB that turns out
        bigger is an error (its header has no room for ZIP64 sizes); with no hint, the header
        makes room for them.
        """
        if self._closed:
            raise ValueError("the zip is closed")
        if self._entry is not None:
            raise ValueError("the previous entry is still open")
        raw, flags = _encode_name(name)
        if len(raw) > _MARK16:
            raise ValueError(f"entry name too long: {name[:80]}…")
        zip64 = size_hint is None or size_hint * 1.05 > ZIP64_LIMIT
        method = DEFLATED if compress else STORED
        extra = _EXTRA_HEADER.pack(_ZIP64_EXTRA, 16) + bytes(16) if zip64 else b""
        header = _LOCAL.pack(
            _LOCAL_SIG,
            45 if zip64 else 20,
            flags,
            method,
            self._time,
            self._date,
            0,
            _MARK32 if zip64 else 0,
            _MARK32 if zip64 else 0,
            len(raw),
            len(extra),
        )
        self._file.write(header + raw + extra)
        self._entry = _EntryWriter(self, raw, flags, method, zip64, self._offset, len(raw + extra))
        self._offset += len(header) + len(raw) + len(extra)
        return self._entry

    def write_bytes(self, name: str, data: bytes, *, compress: bool) -> None:
        with self.open(name, compress=compress, size_hint=len(data)) as entry:
            entry.write(data)

    def _finish_entry(self, entry: _EntryWriter) -> None:
        if entry.zip64:
            self._file.seek(entry.header_offset + 14)
            self._file.write(_U32.pack(entry.crc))
            self._file.seek(entry.header_offset + _LOCAL.size + len(entry.raw) + 4)
            self._file.write(_U64.pack(entry.size) + _U64.pack(entry.compressed))
        else:
            if entry.size >= ZIP64_LIMIT or entry.compressed >= ZIP64_LIMIT:
                raise ValueError(
                    f"{entry.raw.decode('utf-8')} grew past 4 GiB although it was announced "
                    "smaller; give no size hint for entries of unknown size"
                )
            self._file.seek(entry.header_offset + 14)
            self._file.write(struct.pack("<III", entry.crc, entry.compressed, entry.size))
        self._file.seek(self._offset)
        self._entry = None
        self._count += 1
        self._directory.write(self._central_record(entry))

    def _central_record(self, entry: _EntryWriter) -> bytes:
        # ZIP64 fields only for the values that need them, in the order the format fixes.
        fields = []
        size = entry.size
        compressed = entry.compressed
        offset = entry.header_offset
        if size >= ZIP64_LIMIT:
            fields.append(size)
            size = _MARK32
        if compressed >= ZIP64_LIMIT:
            fields.append(compressed)
            compressed = _MARK32
        if offset >= ZIP64_LIMIT:
            fields.append(offset)
            offset = _MARK32
        extra = b""
        if fields:
            extra = _EXTRA_HEADER.pack(_ZIP64_EXTRA, 8 * len(fields))
            extra += b"".join(_U64.pack(v) for v in fields)
        version = 45 if fields or entry.zip64 else 20
        header = _CENTRAL.pack(
            _CENTRAL_SIG,
            version,
            UNIX,
            version,
            0,
            entry.flags,
            entry.method,
            self._time,
            self._date,
            entry.crc,
            compressed,
            size,
            len(entry.raw),
            len(extra),
            0,
            0,
            0,
            FILE_MODE,
            offset,
        )
        return header + entry.raw + extra

    def close(self) -> None:
        """Write the central directory and the end records; release the files."""
        if self._closed:
            return
        try:
            if self._entry is not None:
                raise ValueError("an entry is still open")
            start = self._offset
            self._directory.flush()
            size = self._directory.tell()
            self._directory.seek(0)
            self._file.seek(start)
            _copy(self._directory, self._file, size)
            end = start + size
            records = b""
            zip64 = self._count >= COUNT_LIMIT or start >= ZIP64_LIMIT or size >= ZIP64_LIMIT
            if zip64:
                records += _END64.pack(
                    _END64_SIG, _END64.size - 12, 45, UNIX, 45, 0, 0, self._count,
                    self._count, size, start,
                )  # fmt: skip
                records += _LOCATOR.pack(_LOCATOR_SIG, 0, end, 1)
            count = _MARK16 if zip64 else self._count
            records += _END.pack(
                _END_SIG, 0, 0, count, count, _MARK32 if zip64 else size,
                _MARK32 if zip64 else start, len(self._comment),
            )  # fmt: skip
            self._file.write(records + self._comment)
            self._file.truncate()
            # On disk before anyone (the custody log, a timestamp) says the bundle exists.
            self._file.flush()
            os.fsync(self._file.fileno())
            if self._appending_to is not None:
                _drop_journal(journal_path(self._appending_to))
                self._appending_to = None
        finally:
            self.abort()

    def abort(self) -> None:
        """Release the files without finishing the zip (after a failure); an append is undone."""
        self._closed = True
        self._directory.close()
        self._file.close()
        if self._appending_to is not None:
            path, self._appending_to = self._appending_to, None
            restore_interrupted_append(path)

    def __enter__(self) -> ZipWriter:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


class _EntryWriter:
    """The stream of one entry's bytes: compresses, counts and checksums what it is given."""

    def __init__(
        self,
        owner: ZipWriter,
        raw: bytes,
        flags: int,
        method: int,
        zip64: bool,
        header_offset: int,
        name_and_extra: int,
    ) -> None:
        self.owner = owner
        self.raw = raw
        self.flags = flags
        self.method = method
        self.zip64 = zip64
        self.header_offset = header_offset
        self.crc = 0
        self.size = 0
        self.compressed = 0
        # Level 1: text shrinks nearly as much as at the default level, several times faster.
        self._deflate = zlib.compressobj(1, zlib.DEFLATED, -15) if method == DEFLATED else None
        self._out = owner._file

    def write(self, data: bytes) -> int:
        length = len(data)
        if length:
            self.crc = zlib.crc32(data, self.crc)
            self.size += length
            self._put(self._deflate.compress(data) if self._deflate is not None else data)
        return length

    def _put(self, data: bytes) -> None:
        if data:
            self._out.write(data)
            self.compressed += len(data)
            self.owner._offset += len(data)

    def close(self) -> None:
        if self.owner._entry is not self:
            return
        if self._deflate is not None:
            self._put(self._deflate.flush())
            self._deflate = None
        self.owner._finish_entry(self)

    def __enter__(self) -> _EntryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the append journal -------------------------------------------------------------------------

JOURNAL_SUFFIX = ".append-journal"
_JOURNAL_HEAD = struct.Struct("<8sQQ32s")  # magic, zip size, where the append writes, tail hash
_JOURNAL_MAGIC = b"EVZIPJ01"


def journal_path(path: Path) -> Path:
    """Where the journal of an append to the zip at ``path`` is kept."""
    return path.with_name(path.name + JOURNAL_SUFFIX)


def fsync_dir(path: Path) -> None:
    """Put a folder's entries (a file just made, renamed or removed in it) on disk, before
    anything (the custody log, a timestamp) relies on them. Where the file system cannot sync
    a folder, nothing happens."""
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


def _write_journal(path: Path, file: BinaryIO, offset: int) -> None:
    """Save the zip's bytes from ``offset`` (what the append overwrites) beside it, synced."""
    size = file.seek(0, os.SEEK_END)
    digest = hashlib.sha256()
    with journal_path(path).open("w+b") as out:
        out.write(bytes(_JOURNAL_HEAD.size))  # the head, once the tail's hash is known
        file.seek(offset)
        _copy(file, out, size - offset, digest)
        out.seek(0)
        out.write(_JOURNAL_HEAD.pack(_JOURNAL_MAGIC, size, offset, digest.digest()))
        out.flush()
        os.fsync(out.fileno())
    fsync_dir(path.parent)


def _drop_journal(journal: Path) -> None:
    journal.unlink(missing_ok=True)
    fsync_dir(journal.parent)


def restore_interrupted_append(path: Path) -> bool:
    """Undo an append to the zip at ``path`` that never finished; True when one was undone.

    The zip gets back exactly the bytes it had before the append began. A journal that is
    itself incomplete (the process died while writing it, before the zip was touched) is
    simply removed.
    """
    journal = journal_path(path)
    try:
        saved = journal.open("rb")
    except FileNotFoundError:
        return False
    restored = False
    with saved:
        head = saved.read(_JOURNAL_HEAD.size)
        if len(head) == _JOURNAL_HEAD.size:
            magic, size, offset, digest = _JOURNAL_HEAD.unpack(head)
            length = saved.seek(0, os.SEEK_END) - _JOURNAL_HEAD.size
            check = hashlib.sha256()
            saved.seek(_JOURNAL_HEAD.size)
            _copy(saved, None, length, check)
            if magic == _JOURNAL_MAGIC and length == size - offset and check.digest() == digest:
                saved.seek(_JOURNAL_HEAD.size)
                with path.open("r+b") as file:
                    file.seek(offset)
                    _copy(saved, file, length)
                    file.truncate(size)
                    file.flush()
                    os.fsync(file.fileno())
                restored = True
    _drop_journal(journal)
    return restored


def _copy(source: BinaryIO, target: BinaryIO | None, size: int, digest: Hash | None = None) -> None:
    """Copy ``size`` bytes in bounded pieces (to nowhere when ``target`` is None), hashing
    them into ``digest`` when one is given."""
    while size > 0:
        chunk = source.read(min(DIRECTORY_CHUNK, size))
        if not chunk:
            raise BadZipFile("the zip file is truncated")
        if digest is not None:
            digest.update(chunk)
        if target is not None:
            target.write(chunk)
        size -= len(chunk)


@dataclass(frozen=True)
class EndRecord:
    """Where a zip's central directory is, from its end records."""

    count: int
    directory_offset: int
    directory_size: int
    records_offset: int  # where the end records begin (the ZIP64 one if any)
    comment: bytes

    @property
    def shift(self) -> int:
        """Bytes before the first entry that the offsets do not count (a self-extractor
        stub, say): readers add it to every offset, as zipfile does."""
        return self.records_offset - self.directory_offset - self.directory_size


def _find_end(file: BinaryIO) -> EndRecord:
    file.seek(0, io.SEEK_END)
    length = file.tell()
    tail_start = max(0, length - (_END.size + _MARK16))
    file.seek(tail_start)
    tail = file.read()
    at = tail.rfind(_U32.pack(_END_SIG))
    # The record ends the file, after a comment of the length it gives: a signature inside a
    # comment does not count.
    while at >= 0 and not (
        at + _END.size <= len(tail) and at + _END.size + _END.unpack_from(tail, at)[7] == len(tail)
    ):
        at = tail.rfind(_U32.pack(_END_SIG), 0, at)
    if at < 0:
        raise BadZipFile("no end of central directory record: not a zip file, or truncated")
    _, disk, _, _, count, size, offset, comment_length = _END.unpack_from(tail, at)
    if disk != 0:
        raise BadZipFile("multi-disk zip files are not supported")
    comment = tail[at + _END.size : at + _END.size + comment_length]
    end_at = tail_start + at
    records_offset = end_at
    locator_at = end_at - _LOCATOR.size
    if locator_at >= 0:
        file.seek(locator_at)
        locator = file.read(_LOCATOR.size)
        if len(locator) == _LOCATOR.size and _U32.unpack_from(locator)[0] == _LOCATOR_SIG:
            _, _, end64_at, _ = _LOCATOR.unpack(locator)
            file.seek(end64_at)
            record = file.read(_END64.size)
            if len(record) < _END64.size or _U32.unpack_from(record)[0] != _END64_SIG:
                raise BadZipFile("the ZIP64 end record is missing where its locator says")
            fields64 = _END64.unpack(record)
            count, size, offset = fields64[8], fields64[9], fields64[10]
            records_offset = end64_at
    return EndRecord(count, offset, size, records_offset, comment)


@dataclass(frozen=True)
class Member:
    """One central directory record: what is needed to list an entry and to read it."""

    name: str
    flags: int
    method: int
    crc: int
    compressed: int
    size: int
    header_offset: int
    create_system: int
    external_attr: int

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


def _decode_name(raw: bytes, flags: int) -> str:
    # Names without the UTF-8 flag are CP437 by the format's definition (as zipfile reads them).
    if flags & FLAG_UTF8:
        return raw.decode("utf-8", errors="replace")
    return raw.decode("cp437")


def iter_central_directory(file: BinaryIO) -> Iterator[Member]:
    """Every record of the zip's central directory, in order, read in chunks."""
    end = _find_end(file)
    if end.shift < 0:
        raise BadZipFile("the central directory overlaps the end records")
    window = _Window(file, end.directory_offset + end.shift, end.directory_size)
    reader = io.BufferedReader(window, DIRECTORY_CHUNK)
    for _ in range(end.count):
        fixed = reader.read(_CENTRAL.size)
        if len(fixed) < _CENTRAL.size:
            raise BadZipFile("the central directory is truncated")
        (sig, _, system, _, _, flags, method, _, _, crc, compressed, size,
         name_length, extra_length, comment_length, _, _, external, offset) = _CENTRAL.unpack(
            fixed
        )  # fmt: skip
        if sig != _CENTRAL_SIG:
            raise BadZipFile("bad central directory record")
        raw = reader.read(name_length)
        extra = reader.read(extra_length)
        reader.read(comment_length)
        if len(raw) < name_length or len(extra) < extra_length:
            raise BadZipFile("the central directory is truncated")
        size, compressed, offset = _zip64_values(extra, size, compressed, offset)
        offset += end.shift
        yield Member(
            _decode_name(raw, flags), flags, method, crc, compressed, size, offset, system,
            external,
        )  # fmt: skip


def _zip64_values(extra: bytes, size: int, compressed: int, offset: int) -> tuple[int, int, int]:
    at = 0
    while at + 4 <= len(extra):
        kind, length = _EXTRA_HEADER.unpack_from(extra, at)
        if kind == _ZIP64_EXTRA:
            values = extra[at + 4 : at + 4 + length]
            pos = 0
            for which in ("size", "compressed", "offset"):
                current = {"size": size, "compressed": compressed, "offset": offset}[which]
                if current != _MARK32:
                    continue
                if pos + 8 > len(values):
                    raise BadZipFile("corrupt ZIP64 extra field")
                value = _U64.unpack_from(values, pos)[0]
                pos += 8
                if which == "size":
                    size = value
                elif which == "compressed":
                    compressed = value
                else:
                    offset = value
            break
        at += 4 + length
    return size, compressed, offset


class _Window(io.RawIOBase):
    """A byte range of a file, read from its own position (other readers may seek the file)."""

    def __init__(self, file: BinaryIO, start: int, length: int) -> None:
        self._file = file
        self._pos = start
        self._end = start + length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._end - self._pos)
        if want <= 0:
            return 0
        self._file.seek(self._pos)
        data = self._file.read(want)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


class UnreadableEntry(BadZipFile):
    """An entry this reader does not read: encrypted, or compressed with a method bundles never
    use. For a bundle that can only mean it was not made by us, or was changed."""


class MemberReader(io.RawIOBase):
    """The bytes of one entry, inflated if need be; raises :class:`zipfile.BadZipFile` at the
    end when they do not match the CRC-32 and size of the central directory."""

    def __init__(self, file: BinaryIO, member: Member) -> None:
        if member.flags & FLAG_ENCRYPTED:
            raise UnreadableEntry(f"{member.name} is encrypted")
        if member.method not in (STORED, DEFLATED):
            raise UnreadableEntry(f"{member.name} uses compression method {member.method}")
        file.seek(member.header_offset)
        header = file.read(_LOCAL.size)
        if len(header) < _LOCAL.size or _U32.unpack_from(header)[0] != _LOCAL_SIG:
            raise BadZipFile(f"bad local header for {member.name}")
        fields = _LOCAL.unpack(header)
        name_length, extra_length = fields[9], fields[10]
        raw = file.read(name_length)
        if _decode_name(raw, fields[2]) != member.name:
            raise BadZipFile(f"the local header of {member.name} names another file")
        self._file = file
        self._member = member
        self._pos = member.header_offset + _LOCAL.size + name_length + extra_length
        self._left = member.compressed
        self._inflate = zlib.decompressobj(-15) if member.method == DEFLATED else None
        self._crc = 0
        self._size = 0
        self._checked = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self._read(CHUNK), b""))
        return self._read(size)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _raw(self, want: int) -> bytes:
        want = min(want, self._left)
        if want <= 0:
            return b""
        self._file.seek(self._pos)
        data = self._file.read(want)
        if not data:
            raise EOFError(f"{self._member.name} is truncated")
        self._pos += len(data)
        self._left -= len(data)
        return data

    def _read(self, limit: int) -> bytes:
        if limit <= 0:
            return b""
        if self._inflate is None:
            data = self._raw(limit)
        else:
            data = b""
            while not data and not self._inflate.eof:
                source = self._inflate.unconsumed_tail or self._raw(CHUNK)
                if not source:
                    data = self._inflate.flush()
                    break
                # Bounded output per call, so that a hostile entry cannot inflate all at once.
                data = self._inflate.decompress(source, limit)
        if data:
            self._crc = zlib.crc32(data, self._crc)
            self._size += len(data)
            if self._size > self._member.size:
                raise BadZipFile(f"{self._member.name} is longer than its recorded size")
        else:
            self._check()
        return data

    def _check(self) -> None:
        if self._checked:
            return
        self._checked = True
        if self._size != self._member.size:
            raise BadZipFile(f"{self._member.name} is shorter than its recorded size")
        if self._crc != self._member.crc:
            raise BadZipFile(f"Bad CRC-32 for file {self._member.name!r}")


def open_member(file: BinaryIO, member: Member) -> BinaryIO:
    """A stream of ``member``'s bytes from the zip ``file`` (see :class:`MemberReader`)."""
    return MemberReader(file, member)  # type: ignore[return-value]
