"""E-mail files into Captures: single ``.eml`` files and folders, mbox (mboxo and mboxrd) and
maildir, including messy trees with messages outside ``cur/`` and ``new/``.

Reading and parsing are separate steps. Readers (:func:`read_eml`, :func:`read_mbox`,
:func:`read_maildir`) yield each message's exact bytes with where they came from; they stream,
so a mailbox of any size is never loaded whole. :func:`parse_many` parses those bytes in worker
processes (parsing is the expensive part; the archive writer in the main process only writes),
keeping a bounded window of work in flight and yielding results in input order.

Parsing is guarded: a message that cannot be understood becomes a Capture with ``parse_error``
set and its bytes still kept, so nothing is lost and the reason is in the import summary.
"""

from __future__ import annotations

import mmap
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..archive.ingest import PreparedCapture, prepare
from ..errors import SourceError
from ..extract.email import NotAnEmail, parse_email
from ..extract.outlook_msg import MEDIA_TYPE as OUTLOOK_MEDIA_TYPE
from ..extract.outlook_msg import NotAnOutlookMessage, parse_outlook_msg
from ..hashing import sha256_bytes
from ..i18n import _, language
from ..model import Blob, Capture, ImportProblem, SourceRef
from .background import exit_with, in_background, mp_context

if TYPE_CHECKING:
    from concurrent.futures import Future

MEDIA_TYPE = "message/rfc822"
# A From_ line as mail programs write it: "From sender date", where the date has a time.
_FROM_LINE = re.compile(rb"From \S*.*\d{1,2}:\d{2}")
# A quoted From line in a body (">From " in mboxo, ">>From " too in mboxrd); one ">" goes.
_MBOXRD_QUOTED = re.compile(rb"(?m)^>(>*From )")
# Files mail programs keep beside messages in a maildir; they are not mail.
_MAILDIR_METADATA = re.compile(
    r"^(dovecot[.-].*|subscriptions|maildirfolder|courierimap.*|\.uidvalidity|\.mh_sequences"
    r"|\.notmuch.*|\.mbsyncstate.*|\.isyncuidmap.*|\.DS_Store|Thumbs\.db)$"
)
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAILDIR_FLAGS = {
    "P": "passed",
    "R": "replied",
    "S": "seen",
    "T": "trashed",
    "D": "draft",
    "F": "flagged",
}

RawMessage = tuple[bytes, SourceRef]
# A message with a note for ``amend`` (IMAP: its folder, UID, flags and labels).
NotedMessage = tuple[bytes, SourceRef, Any]
Message = RawMessage | NotedMessage
Amend = Callable[[Capture, Any], Capture]
Parsed = Capture | PreparedCapture


#: Below this many bytes of mail, parsing runs in the importing process: starting worker
#: processes and sending each message to one and its result back costs more than the second
#: core saves. Measured on a 500-message, 4.5 MB mbox (2 cores, Python 3.11, fork): 0.35 s of
#: CPU in this process against 0.41 s with two workers, and no faster on the clock; with the
#: fork server (Python 3.12 and later) each worker also starts a fresh interpreter.
SMALL_INPUT_BYTES = 8 << 20


def workers_for(size: int | None, workers: int | None) -> int | None:
    """The ``workers`` to parse ``size`` bytes of mail with: as asked when asked, else none
    for a small input (see :data:`SMALL_INPUT_BYTES`), else the default (one per core)."""
    if workers is not None or size is None:
        return workers
    return 0 if size < SMALL_INPUT_BYTES else None


def capture_from_bytes(
    raw: bytes, source: SourceRef, *, received_at: datetime | None = None
) -> Capture:
    """Parse one message into a Capture. Never raises: failures come back as ``parse_error``
    with the original kept. ``received_at`` (e.g. IMAP INTERNALDATE) goes into the details."""
    is_outlook = raw.startswith(_OLE2_MAGIC)
    blob = Blob(
        sha256=sha256_bytes(raw),
        size=len(raw),
        media_type=OUTLOOK_MEDIA_TYPE if is_outlook else MEDIA_TYPE,
        data=raw,
    )
    reason: str | None
    if not raw.strip():
        reason = _("empty file")
    else:
        try:
            parsed = parse_outlook_msg(raw) if is_outlook else parse_email(raw)
        except (NotAnEmail, NotAnOutlookMessage) as exc:
            reason = _("not an e-mail message ({error})").format(error=exc)
        except Exception as exc:  # noqa: BLE001 - any parser failure is recorded, never fatal
            reason = _("could not parse: {kind}: {error}").format(
                kind=type(exc).__name__, error=exc
            )
        else:
            item = parsed.item
            if received_at is not None:
                item = replace(item, details={**item.details, "received_at": received_at})
            return Capture(
                source=source,
                original=blob,
                item=item,
                attachments=tuple(parsed.attachments),
            )
    return Capture(source=source, original=blob, item=None, parse_error=reason)


def _parse_one(message: Message, amend: Amend | None) -> Capture:
    raw, source = message[0], message[1]
    capture = capture_from_bytes(raw, source)
    if amend is not None:
        capture = amend(capture, message[2] if len(message) > 2 else None)
    return capture


def _parse_chunk(chunk: list[Message], amend: Amend | None, prepared: bool) -> list[Parsed]:
    # Runs in a worker: the bytes are dropped from the result (the caller has them) so that
    # they cross the process boundary only once. Prepared, the item's rows and search-index
    # text are made here too, on the worker's core, not the writer's.
    out: list[Parsed] = []
    for message in chunk:
        capture = _parse_one(message, amend)
        assert capture.original is not None
        capture = replace(capture, original=replace(capture.original, data=None))
        out.append(prepare(capture) if prepared else capture)
    return out


def _reattach(parsed: Parsed, raw: bytes) -> Parsed:
    assert parsed.original is not None
    original = replace(parsed.original, data=raw)
    if isinstance(parsed, PreparedCapture):
        return parsed._replace(original=original)
    return replace(parsed, original=original)


def parse_many(
    messages: Iterable[Message | ImportProblem],
    *,
    workers: int | None = None,
    chunk_size: int = 64,
    amend: Amend | None = None,
) -> Iterator[Capture | ImportProblem]:
    """Parse messages in worker processes; yield Captures in input order.

    A background thread (:func:`in_background`) reads the input and keeps the workers fed while
    the caller is busy with what it was given (writing the archive), so reading, parsing and
    writing overlap. At most
    ``4 × workers`` chunks are in flight and ``8 × workers`` parsed chunks wait, so memory stays
    bounded whatever the input size. ``workers=0`` parses in this process (small inputs, tests).
    ``amend(capture, note)`` runs on each parsed message, in the worker, with the third element
    of a :data:`NotedMessage` (else None); it must be picklable (a module-level function).
    """
    return cast(
        Iterator[Capture | ImportProblem], _parse(messages, workers, chunk_size, amend, False)
    )


def prepare_many(
    messages: Iterable[Message | ImportProblem],
    *,
    workers: int | None = None,
    chunk_size: int = 64,
    amend: Amend | None = None,
) -> Iterator[PreparedCapture | ImportProblem]:
    """:func:`parse_many`, each message then prepared for the archive writer in the worker
    (:func:`~evidence_archiver.archive.ingest.prepare`): what imports hand to ``ingest``."""
    return cast(
        Iterator[PreparedCapture | ImportProblem],
        _parse(messages, workers, chunk_size, amend, True),
    )


def _parse(
    messages: Iterable[Message | ImportProblem],
    workers: int | None,
    chunk_size: int,
    amend: Amend | None,
    prepared: bool,
) -> Iterator[Parsed | ImportProblem]:
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers <= 0:
        for entry in messages:
            if isinstance(entry, ImportProblem):
                yield entry
            else:
                capture = _parse_one(entry, amend)
                yield prepare(capture) if prepared else capture
        return
    for parsed in in_background(
        _parse_windowed(messages, workers, chunk_size, amend, prepared), buffer=8 * workers
    ):
        yield from parsed


def _parse_windowed(
    messages: Iterable[Message | ImportProblem],
    workers: int,
    chunk_size: int,
    amend: Amend | None,
    prepared: bool,
) -> Iterator[list[Parsed | ImportProblem]]:
    """Parsed chunks in input order, from a pool with a bounded window of work in flight."""
    # Loaded here: a small import parses in this process and never starts a pool.
    from concurrent.futures import ProcessPoolExecutor

    window: deque[tuple[Future[list[Parsed]], list[Message], list[ImportProblem]]] = deque()

    def drain(limit: int) -> Iterator[list[Parsed | ImportProblem]]:
        while len(window) > limit:
            future, raws, probs = window.popleft()
            done: list[Parsed | ImportProblem] = list(probs)
            done.extend(
                _reattach(parsed, message[0])
                for parsed, message in zip(future.result(), raws, strict=True)
            )
            yield done

    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp_context(),
        initializer=exit_with,
        initargs=(os.getpid(), 0.5, language()),
    ) as pool:
        chunk: list[Message] = []
        problems: list[ImportProblem] = []
        for entry in messages:
            if isinstance(entry, ImportProblem):
                problems.append(entry)
                continue
            chunk.append(entry)
            if len(chunk) >= chunk_size:
                window.append((pool.submit(_parse_chunk, chunk, amend, prepared), chunk, problems))
                chunk, problems = [], []
                yield from drain(4 * workers)
        if chunk or problems:
            window.append((pool.submit(_parse_chunk, chunk, amend, prepared), chunk, problems))
        yield from drain(0)


# -- readers ------------------------------------------------------------------------------------


def _read_file(path: Path, source: SourceRef) -> RawMessage | ImportProblem:
    try:
        return path.read_bytes(), source
    except OSError as exc:
        return ImportProblem(
            source, _("cannot read the file: {value}").format(value=exc.strerror or exc)
        )


def _walk_files(root: Path, skip: frozenset[Path] = frozenset()) -> Iterator[Path]:
    """Regular files under ``root`` in a stable order; hidden files and symlinks are skipped
    (a link could point anywhere on the disk), and so is every path in ``skip``."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            if path.resolve() in skip:
                continue
            yield path


def read_eml(
    paths: Iterable[Path], *, skip: frozenset[Path] = frozenset()
) -> Iterator[RawMessage | ImportProblem]:
    """Each file named, and each file under each folder named, as one message.

    ``skip`` holds resolved paths never to read: the archive's own files, when a user imports
    the folder the archive lives in.
    """
    for path in paths:
        if path.is_dir():
            for file in _walk_files(path, skip):
                yield _read_file(file, SourceRef("eml", str(path), str(file.relative_to(path))))
        elif path.exists():
            yield _read_file(path, SourceRef("eml", str(path.parent), path.name))
        else:
            yield ImportProblem(SourceRef("eml", str(path)), _("no such file or folder"))


def count_files(paths: Iterable[Path]) -> int:
    """How many files an import of these paths will read (for a progress bar)."""
    return sum(sum(1 for _ in _walk_files(p)) if p.is_dir() else 1 for p in paths)


def archive_files(archive_path: Path) -> frozenset[Path]:
    """The files SQLite keeps for an archive (the database, its WAL and shared memory)."""
    base = archive_path.resolve()
    return frozenset(
        base.with_name(base.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")
    )


def read_mbox(path: Path) -> Iterator[RawMessage | ImportProblem]:
    """Messages of an mbox file, read through a memory map (never loaded whole).

    A message starts at a From_ line at the start of the file or after an empty line. Lines
    quoted as ``>From `` (mboxo) or ``>>From `` (mboxrd) lose one ``>``, which restores the
    message as it was before it was written to the mbox. The From_ line itself, and the empty
    line before the next one, are not part of the message. Locators read "message N, byte
    OFFSET" (the offset of the message's From_ line).
    """
    container = str(path)
    try:
        handle = path.open("rb")
        size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        yield ImportProblem(
            SourceRef("mbox", container),
            _("cannot read: {value}").format(value=exc.strerror or exc),
        )
        return
    with handle:
        if size == 0:
            return
        if handle.read(5) != b"From ":
            raise SourceError(
                _(
                    "{path} is not an mbox file (it should start with a 'From ' line); for single "
                    "messages use 'evidence import eml'"
                ).format(path=path)
            )
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            first_line_end = data.find(b"\n")
            start = size if first_line_end < 0 else first_line_end + 1
            offset = 0
            number = 1
            for cut, next_from in _separators(data, start):
                yield _mbox_message(data[start:cut], container, number, offset)
                number += 1
                offset = next_from
                line_end = data.find(b"\n", next_from)
                start = size if line_end < 0 else line_end + 1
            tail = data[start:]
            # The empty line that ends the last message belongs to the mbox too.
            if tail.endswith(b"\n\n") or tail.endswith(b"\n\r\n"):
                tail = tail[: -1 if tail.endswith(b"\n\n") else -2]
            yield _mbox_message(tail, container, number, offset)


def _separators(data: mmap.mmap, start: int) -> Iterator[tuple[int, int]]:
    """``(end of message, start of next From_ line)`` for each separator after ``start``.

    A separator is an empty line followed by a From_ line with a time in it; ``find`` does the
    scanning (a regex tried at every newline is several times slower on large files).
    """
    position = start
    while (found := data.find(b"\nFrom ", position)) >= 0:
        position = found + 1
        line_end = data.find(b"\n", position)
        line = data[position : line_end if line_end >= 0 else len(data)]
        if not _FROM_LINE.match(line):
            continue
        if data[found - 1 : found] == b"\n":
            yield found, position
        elif data[found - 2 : found] == b"\n\r":
            yield found - 1, position


def _mbox_message(raw: bytes, container: str, number: int, offset: int) -> RawMessage:
    if b"\n>" in raw and b"From " in raw:
        raw = _MBOXRD_QUOTED.sub(rb"\1", raw)
    return raw, SourceRef("mbox", container, f"message {number}, byte {offset}")


def count_mbox(path: Path) -> int:
    """Roughly how many messages an mbox holds (From_ lines), read fast for a progress bar."""
    count = 0
    with path.open("rb") as f:
        first = f.readline()
        count += first.startswith(b"From ")
        while chunk := f.read(1 << 22):
            count += chunk.count(b"\nFrom ")
    return count


def read_maildir(
    root: Path, *, skip: frozenset[Path] = frozenset()
) -> Iterator[RawMessage | ImportProblem]:
    """Every message file under a maildir tree (``cur``, ``new`` and any stray file elsewhere),
    skipping ``tmp`` (deliveries in progress) and the index files mail programs keep there."""
    if not root.is_dir():
        raise SourceError(
            _("{root} is not a folder: a maildir is a folder with cur/ and new/").format(root=root)
        )
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "tmp" and not d.startswith(".notmuch"))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if _MAILDIR_METADATA.match(name) or path.is_symlink() or not path.is_file():
                continue
            if path.resolve() in skip:
                continue
            yield _read_file(path, SourceRef("maildir", str(root), str(path.relative_to(root))))


def maildir_flags(locator: str) -> tuple[str, ...]:
    """Flags a maildir file name carries after ``:2,`` (``1700000.M1:2,RS`` -> replied, seen)."""
    _name, sep, info = Path(locator).name.rpartition(":2,")
    if not sep:
        return ()
    return tuple(_MAILDIR_FLAGS[c] for c in info if c in _MAILDIR_FLAGS)


def with_maildir_flags(capture: Capture, _note: object = None) -> Capture:
    """The capture with the flags its maildir file name carries (an ``amend`` for parse_many)."""
    if capture.item is None:
        return capture
    flags = maildir_flags(capture.source.locator)
    if not flags:
        return capture
    return replace(capture, item=replace(capture.item, flags=capture.item.flags + flags))
