"""SMS Backup & Restore (Android) XML: ``sms-*.xml`` with ``<sms>`` and ``<mms>``, ``calls-*.xml``.

Design:

* **Streamed.** The file is read in 1 MiB chunks and fed to expat; each ``<sms>``, ``<mms>`` or
  ``<call>`` becomes a capture as soon as its end tag is read and is then forgotten, so memory
  does not grow with the file. Large MMS media go to a :class:`~.common.Spool` file. Media
  values are lifted out of the byte stream before expat (:class:`MediaLift`): they are most
  of a backup's bytes, and expat need not look at base64.
* **Hostile XML is refused, not parsed.** The app never writes a DTD. A ``<!DOCTYPE``, an entity
  declaration or an external entity stops the import before anything is stored, with a message
  that says why (these are how "billion laughs" and external-entity attacks work). This is the
  same policy as ``defusedxml`` with ``forbid_dtd=True``, done with expat handlers directly
  because we drive expat ourselves to stream and to know byte positions.
* **Repaired, and the repair recorded.** The app writes emoji as two UTF-16 surrogate character
  references (``&#55357;&#56396;``), which XML forbids and expat rejects. A byte filter in front of
  the parser joins such pairs into one reference (``&#128076;``); a lone surrogate or a control
  character reference becomes U+FFFD. Each repaired message carries the flag
  ``emoji-repaired`` (or ``character-replaced``) and the count in ``details["repairs"]``.
* **Damage is reported, not fatal.** A file cut short imports every complete record and says
  where it ends. Damage in the middle (a broken record) is reported with its line and reading
  goes on with a fresh parser at the next line that starts a record (the app writes one record
  per line); an MMS that lost its end tag is reported and skipped. A header ``count`` that
  differs from what was read is reported; an MMS part whose base64 is corrupt is dropped with a
  flag while the message text is kept.
* **Where it came from.** The file itself is the original (stored once, first); each message
  has ``locator="element N (line L)"`` (N counts records from 1) and a natural ``dedup_key``, so
  an overlapping newer backup adds only what is new.
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from ...errors import SourceError
from ...hashing import blob_from_file
from ...i18n import _
from ...model import Attachment, Capture, Direction, ImportProblem, Item, SourceRef
from .common import (
    ReadNotes,
    Spool,
    SpooledReader,
    call_item,
    clean,
    epoch_to_datetime,
    message_key,
    participants,
    phone,
    safe_filename,
    thread_key,
    with_phone_zone,
)

CONNECTOR = "sms-backup-restore"
CHUNK = 1 << 20
MAX_RESYNCS = 1000
RECORD_STARTS = (b"<sms ", b"<mms ", b"<call ", b"<sms>", b"<mms>", b"<call>")

SMS_TYPES: dict[str, tuple[Direction, tuple[str, ...]]] = {
    "1": ("in", ()),
    "2": ("out", ()),
    "3": ("out", ("draft",)),
    "4": ("out", ("outbox",)),
    "5": ("out", ("failed",)),
    "6": ("out", ("queued",)),
}
MMS_BOXES: dict[str, tuple[Direction, tuple[str, ...]]] = {
    "1": ("in", ()),
    "2": ("out", ()),
    "3": ("out", ("draft",)),
    "4": ("out", ("outbox",)),
}
# android.provider.CallLog.Calls.TYPE
CALL_TYPES: dict[str, tuple[Direction, str, tuple[str, ...]]] = {
    "1": ("in", "incoming", ()),
    "2": ("out", "outgoing", ()),
    "3": ("in", "missed", ("missed",)),
    "4": ("in", "voicemail", ("voicemail",)),
    "5": ("in", "rejected", ("rejected",)),
    "6": ("in", "blocked", ("blocked",)),
    "7": ("in", "answered on another device", ()),
}
PRESENTATION = {"1": "", "2": "private number", "3": "unknown number", "4": "payphone"}
# MMS PDU address types (PduHeaders): FROM, TO, CC, BCC.
ADDR_FROM, ADDR_TO, ADDR_CC, ADDR_BCC = "137", "151", "130", "129"
UNKNOWN_NAMES = {"", "(unknown)", "unknown"}

# Numeric character references XML forbids: C0 controls other than tab/LF/CR, UTF-16
# surrogates (55296-57343), U+FFFE and U+FFFF. Everything else passes through untouched.
_BAD_REF = re.compile(
    rb"&#(?:0*([0-8]|1[124-9]|2[0-9]|3[01]|5[5-7][0-9]{3}|6553[45])"
    rb"|[xX]0*([0-8bBcCeEfF]|1[0-9a-fA-F]|[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF]));"
)


class HostileXml(SourceError):
    """The file uses XML features that only attacks use in a phone backup."""


def _ref_value(match: re.Match[bytes]) -> int:
    dec, hexa = match.group(1), match.group(2)
    return int(dec) if dec is not None else int(hexa, 16)


def _forbidden(value: int) -> bool:
    return value < 32 and value not in (9, 10, 13) or 0xD800 <= value <= 0xDFFF or value > 0xFFFD


@dataclass
class Repair:
    position: int  # byte offset in the repaired stream that expat reads
    kind: str  # "emoji" or "replaced"


class CharRefRepair:
    """A byte filter that makes surrogate-pair and control character references legal XML.

    ``feed`` returns the bytes that are safe to parse now; a reference that may be cut by the
    chunk boundary (or a high surrogate whose low half is in the next chunk) is held back.
    ``repairs`` lists where, in the output, each repair was made.
    """

    def __init__(self) -> None:
        self._pending = b""
        self._out = 0
        self.repairs: deque[Repair] = deque()
        self.emoji = 0
        self.replaced = 0

    def feed(self, chunk: bytes, final: bool = False) -> bytes:
        buf = self._pending + chunk
        cut = len(buf) if final else self._safe_cut(buf)
        ready, self._pending = buf[:cut], buf[cut:]
        out = self._repair(ready)
        self._out += len(out)
        return out

    @staticmethod
    def _safe_cut(buf: bytes) -> int:
        cut = len(buf)
        amp = buf.rfind(b"&", max(0, cut - 12))
        if amp != -1 and b";" not in buf[amp:]:
            cut = amp
        tail = buf[max(0, cut - 12) : cut]
        start = tail.rfind(b"&#")
        if start != -1:
            match = _BAD_REF.fullmatch(tail[start:])
            if match and 0xD800 <= _ref_value(match) <= 0xDBFF:
                cut -= len(tail) - start
        return cut

    def _repair(self, data: bytes) -> bytes:
        matches = [m for m in _BAD_REF.finditer(data) if _forbidden(_ref_value(m))]
        if not matches:
            return data
        pieces: list[bytes] = []
        length = 0
        last = 0
        i = 0
        while i < len(matches):
            match = matches[i]
            value = _ref_value(match)
            piece = data[last : match.start()]
            pieces.append(piece)
            length += len(piece)
            nxt = matches[i + 1] if i + 1 < len(matches) else None
            if (
                0xD800 <= value <= 0xDBFF
                and nxt is not None
                and nxt.start() == match.end()
                and 0xDC00 <= _ref_value(nxt) <= 0xDFFF
            ):
                code = 0x10000 + ((value - 0xD800) << 10) + (_ref_value(nxt) - 0xDC00)
                replacement = b"&#%d;" % code
                kind, last, i = "emoji", nxt.end(), i + 2
            else:
                replacement = b"&#65533;"
                kind, last, i = "replaced", match.end(), i + 1
            self.repairs.append(Repair(self._out + length, kind))
            if kind == "emoji":
                self.emoji += 1
            else:
                self.replaced += 1
            pieces.append(replacement)
            length += len(replacement)
        pieces.append(data[last:])
        return b"".join(pieces)


# A media part's base64 as the app writes it: one unbroken run of the base64 alphabet in double
# quotes. Shorter values are left to expat, where lifting them would gain nothing.
LIFT_MIN = 4096
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_DATA_OPEN = b' data="'


class MediaLift:
    """A byte filter that lifts long base64 attribute values out of the stream before expat.

    MMS media are most of a backup's bytes, and expat examines each byte of an attribute value
    before Python copies it into a string that is then decoded: about half of all reading time.
    A ``data="…"`` value of 4 KiB or more of base64 alone is kept here as bytes and replaced in
    the stream by an empty value and an attribute, :attr:`attr`, holding a token for
    :meth:`take`. That attribute's name carries a random nonce, so a file cannot forge one. Any
    other value (with whitespace, references, single quotes) goes to expat as before.

    Only ``data`` values are cut, and never a line break, so line numbers are unchanged;
    :meth:`columns_removed` gives what was cut from a line, to report columns as in the file.
    """

    def __init__(self) -> None:
        self.attr = f"evidence-media-{secrets.token_hex(8)}"
        self._attr_bytes = self.attr.encode("ascii")
        self._pending = b""
        self._values: dict[str, bytes] = {}
        self._next = 0
        self._line = 1  # the line the next output byte is on
        self._column = 0  # that byte's column
        self._cuts: deque[tuple[int, int, int]] = deque()  # line, output column, bytes cut

    def feed(self, chunk: bytes, final: bool = False) -> bytes:
        buf = self._pending + chunk if self._pending else chunk
        cut = len(buf) if final else self._safe_cut(buf)
        ready, self._pending = buf[:cut], buf[cut:]
        out = self._lift(ready) if _DATA_OPEN in ready else ready
        newlines = out.count(b"\n")
        if newlines:
            self._line += newlines
            self._column = len(out) - out.rfind(b"\n") - 1
        else:
            self._column += len(out)
        # Damage is reported soon after it is read: cuts from far back are not needed again.
        while self._cuts and self._cuts[0][0] < self._line - 10_000:
            self._cuts.popleft()
        return out

    @staticmethod
    def _safe_cut(buf: bytes) -> int:
        """Where to stop: before a value that may go on in the next chunk, or a ``data="`` the
        chunk boundary splits."""
        start = buf.rfind(_DATA_OPEN)
        if start != -1:
            value = start + len(_DATA_OPEN)
            if buf.find(b'"', value) == -1 and not buf[value:].translate(None, _BASE64):
                return start
        for size in range(len(_DATA_OPEN) - 1, 0, -1):
            if buf.endswith(_DATA_OPEN[:size]):
                return len(buf) - size
        return len(buf)

    def _lift(self, data: bytes) -> bytes:
        pieces: list[bytes] = []
        last = 0
        line, column = self._line, self._column
        at = data.find(_DATA_OPEN)
        while at != -1:
            # find and translate run at memory speed; a regex over every byte would not.
            value_start = at + len(_DATA_OPEN)
            end = data.find(b'"', value_start)
            if end == -1:
                break
            if end - value_start < LIFT_MIN or data[value_start:end].translate(None, _BASE64):
                at = data.find(_DATA_OPEN, end)
                continue
            token = str(self._next)
            self._next += 1
            self._values[token] = data[value_start:end]
            piece = data[last : at + len(_DATA_OPEN) - 1]  # up to and with "data="
            newlines = piece.count(b"\n")
            if newlines:
                line += newlines
                column = len(piece) - piece.rfind(b"\n") - 1
            else:
                column += len(piece)
            placeholder = b'"" ' + self._attr_bytes + b'="' + token.encode("ascii") + b'"'
            cut = end + 1 - (at + len(_DATA_OPEN) - 1)
            self._cuts.append((line, column, cut - len(placeholder)))
            column += len(placeholder)
            pieces += (piece, placeholder)
            last = end + 1
            at = data.find(_DATA_OPEN, last)
        pieces.append(data[last:])
        return b"".join(pieces)

    def take(self, token: str) -> bytes:
        """A lifted value (once: it is forgotten as it is given)."""
        return self._values.pop(token)

    def release(self, attrs: dict[str, str]) -> None:
        """Forget the value of an element that will not be read (a skipped, damaged record)."""
        token = attrs.get(self.attr)
        if token is not None:
            self._values.pop(token, None)

    def columns_removed(self, line: int, column: int) -> int:
        """How many bytes were cut from ``line`` before output ``column`` (both from 1 / 0)."""
        return sum(cut for at, col, cut in self._cuts if at == line and col < column)


@dataclass
class _Record:
    tag: str
    attrs: dict[str, str]
    index: int
    line: int
    start: int
    end: int = 0
    parts: list[dict[str, str]] = field(default_factory=list)
    addrs: list[dict[str, str]] = field(default_factory=list)
    emoji: int = 0
    replaced: int = 0
    media: MediaLift | None = None  # where its parts' lifted values wait


class _Collector:
    """expat handlers: refuse DTDs and entities, gather records as their end tags arrive."""

    RECORD_TAGS = frozenset({"sms", "mms", "call"})

    def __init__(
        self,
        parser: Any,
        repair: CharRefRepair,
        media: MediaLift,
        *,
        line_base: int = 0,
        resume: _Collector | None = None,
    ) -> None:
        self.parser = parser
        self.repair = repair
        self.media = media
        self.line_base = line_base
        self.depth = 0
        self.root: str | None = None
        self.root_attrs: dict[str, str] = {}
        self.current: _Record | None = None
        self.done: deque[_Record] = deque()
        self.count = 0
        self.record_depth = 0
        self.unclosed: list[_Record] = []
        self.resumed = resume is not None
        if resume is not None:
            self.root, self.root_attrs = resume.root, resume.root_attrs
            self.done, self.count = resume.done, resume.count
            self.unclosed = resume.unclosed
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.StartDoctypeDeclHandler = self.doctype
        parser.EntityDeclHandler = self.entity
        parser.UnparsedEntityDeclHandler = self.unparsed_entity
        parser.ExternalEntityRefHandler = self.external_entity
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def doctype(self, name: str, *_args: Any) -> None:
        raise HostileXml(
            _(
                "refused: the file declares a DTD (<!DOCTYPE {name}>), which SMS Backup & Restore "
                "never writes; DTDs are how XML bombs and external-entity attacks work, so "
                "nothing was imported. Export the backup again from the phone."
            ).format(name=name)
        )

    def entity(self, name: str, *_args: Any) -> None:
        raise HostileXml(
            _(
                "refused: the file declares the XML entity {name}, which a phone backup never "
                "does (entity expansion is used to exhaust memory); nothing was imported"
            ).format(name=repr(name))
        )

    def unparsed_entity(self, name: str, *_args: Any) -> None:
        self.entity(name)

    def external_entity(self, *_args: Any) -> int:
        raise HostileXml(
            _(
                "refused: the file refers to an external entity (it would make the reader fetch "
                "another file or URL); nothing was imported"
            )
        )

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth == 1:
            if self.resumed:
                return  # the root we opened again after skipping damage
            self.root = name
            self.root_attrs = attrs
            if name not in ("smses", "calls"):
                raise SourceError(
                    _(
                        "not an SMS Backup & Restore file: its root element is <{name}>, expected "
                        "<smses> (messages) or <calls> (call log)"
                    ).format(name=name)
                )
            return
        nested = self.current is not None and self.current.tag == "mms" and self.depth > 2
        if name in self.RECORD_TAGS and (self.depth == 2 or nested):
            if self.current is not None:
                # A record starting inside an MMS: that MMS lost its end tag. Skip it, go on.
                self.unclosed.append(self.current)
                for part in self.current.parts:
                    self.media.release(part)
            self.record_depth = self.depth
            self.count += 1
            self.current = _Record(
                name,
                attrs,
                self.count,
                self.parser.CurrentLineNumber + self.line_base,
                self.parser.CurrentByteIndex,
                media=self.media,
            )
        elif self.current is not None:
            if name == "part":
                self.current.parts.append(attrs)
            elif name == "addr":
                self.current.addrs.append(attrs)
        elif name == "part":
            self.media.release(attrs)  # a part outside any record is not read

    def end(self, name: str) -> None:
        if (
            self.current is not None
            and self.depth == self.record_depth
            and name == self.current.tag
        ):
            record = self.current
            record.end = self.parser.CurrentByteIndex
            # The filter has seen every byte up to here: attribute its repairs now.
            repairs = self.repair.repairs
            while repairs and repairs[0].position < record.end:
                repair = repairs.popleft()
                if repair.position >= record.start:
                    if repair.kind == "emoji":
                        record.emoji += 1
                    else:
                        record.replaced += 1
            self.done.append(record)
            self.current = None
        self.depth -= 1


class SmsBackupReader(SpooledReader):
    """One SMS Backup & Restore file.

    Construction reads only up to the root element, so a hostile or foreign file raises
    :class:`SourceError` before anything is stored. :meth:`captures` then streams the rest.
    """

    connector = CONNECTOR

    def __init__(
        self,
        path: Path,
        *,
        region: str | None = None,
        spool: Spool | None = None,
        notes: ReadNotes | None = None,
    ) -> None:
        super().__init__(path, region=region, spool=spool, notes=notes)
        self._repair = CharRefRepair()
        self._media = MediaLift()
        self._parser = expat.ParserCreate()
        self._collector = _Collector(self._parser, self._repair, self._media)
        self._emoji = self._replaced = 0
        try:
            self._file = path.open("rb")
        except OSError as exc:
            raise SourceError(
                _("cannot read {path}: {value}").format(path=path, value=exc.strerror or exc)
            ) from exc
        self._eof = False
        self._error: str | None = None
        self._truncated = False
        self._damage: list[tuple[int, str, int | None]] = []
        self._resume_at = (0, 0)  # byte offset and line number where the current parser began
        try:
            while self._collector.root is None and not self._eof:
                self._feed_chunk()
        except BaseException:
            self._file.close()
            raise
        if self._collector.root is None:
            self._file.close()
            raise SourceError(
                _("not an SMS Backup & Restore file: {value}").format(
                    value=self._error or _("no XML element found")
                )
            )

    def close(self) -> None:
        self._file.close()

    @property
    def declared_count(self) -> int | None:
        """The ``count`` the backup's header declares (the app's own tally), if any."""
        declared = self._collector.root_attrs.get("count", "").strip()
        return int(declared) if declared.isdigit() else None

    @property
    def kind(self) -> str:
        return "calls" if self._collector.root == "calls" else "messages"

    def _feed_chunk(self) -> None:
        if self._error is not None:
            self._eof = True
            return
        chunk = self._file.read(CHUNK)
        final = not chunk
        data = self._repair.feed(self._media.feed(chunk, final=final), final=final)
        try:
            self._parser.Parse(data, final)
        except expat.ExpatError as exc:
            code = exc.code
            line = exc.lineno + self._collector.line_base
            column = exc.offset + 1 + self._media.columns_removed(exc.lineno, exc.offset)
            where = f"line {line}, column {column}: {expat.ErrorString(code)}"
            truncation_codes = {
                expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS],
                expat.errors.codes[expat.errors.XML_ERROR_UNCLOSED_TOKEN],
                expat.errors.codes[expat.errors.XML_ERROR_PARTIAL_CHAR],
                expat.errors.codes[expat.errors.XML_ERROR_UNCLOSED_CDATA_SECTION],
            }
            # Only once every byte was given can "unclosed" mean the file stops too early.
            if final and code in truncation_codes:
                self._truncated = True
                self._error = where
                self._eof = True
                return
            if self._collector.root is None or len(self._damage) >= MAX_RESYNCS:
                self._error = where
                self._eof = True
                return
            resumed = self._resync(line)
            self._damage.append((line, where, resumed))
            if not resumed:
                self._eof = True
            return
        if final:
            self._eof = True

    def _resync(self, damaged_line: int) -> int | None:
        """Go on reading at the first record that starts after ``damaged_line``.

        The app writes one record per line, so a line starting with ``<sms``, ``<mms`` or
        ``<call`` is a safe place to start a fresh parser (inside a re-opened root element).
        Returns that line's number, or None when no record follows.
        """
        offset, line = self._resume_at
        with self.path.open("rb") as f:
            f.seek(offset)
            for raw in f:
                line += 1
                if line > damaged_line and raw.lstrip().startswith(RECORD_STARTS):
                    break
                offset += len(raw)
            else:
                return None
        self._resume_at = (offset, line - 1)
        self._file.seek(offset)
        self._repair = CharRefRepair()
        # Values lifted past the damage are read again from the file; the old lift keeps only
        # those of records already read, until they are converted.
        self._media = MediaLift()
        self._parser = expat.ParserCreate()
        self._collector = _Collector(
            self._parser, self._repair, self._media, line_base=line - 1, resume=self._collector
        )
        # The fresh parser needs the root element open again; it adds no line.
        reopen = self._media.feed(f"<{self._collector.root}>".encode())
        self._parser.Parse(self._repair.feed(reopen), False)
        return line

    def captures(self) -> Iterator[Capture | ImportProblem]:
        """The file (once, ``item=None``), then one capture per message or call, in file order."""
        container = str(self.path)
        blob = blob_from_file(self.path, "application/xml")
        yield Capture(SourceRef(CONNECTOR, container, "whole file"), original=blob, item=None)
        records = 0
        try:
            while True:
                while self._collector.done:
                    record = self._collector.done.popleft()
                    records += 1
                    yield from self._convert(record, container, blob.sha256)
                if self._eof:
                    break
                self._feed_chunk()
        finally:
            self._file.close()
        self.notes.records = records
        yield from self._closing_problems(container, records)

    def _closing_problems(self, container: str, records: int) -> Iterator[ImportProblem]:
        what = _("calls") if self.kind == "calls" else _("messages")
        for lost in self._collector.unclosed:
            yield ImportProblem(
                SourceRef(CONNECTOR, container, f"element {lost.index} (line {lost.line})"),
                _("this {tag} has no end tag (the file is damaged there) and was skipped").format(
                    tag=lost.tag
                ),
            )
        for line, where, resumed in self._damage:
            message = (
                _(
                    "the file is damaged at {where}: the record there could not be read; reading "
                    "went on at line {resumed}"
                )
                if resumed
                else _(
                    "the file is damaged at {where}: the record there could not be read; no "
                    "record follows it, so nothing after it was read"
                )
            )
            yield ImportProblem(
                SourceRef(CONNECTOR, container, f"line {line}"),
                message.format(where=where, resumed=resumed),
            )
        if self._error is not None:
            if self._truncated:
                reason = _(
                    "the file is cut short ({error}): the {records} complete {what} before that "
                    "point were imported; export the backup again to get the rest"
                ).format(error=self._error, records=records, what=what)
            else:
                reason = _(
                    "the file is damaged at {error}: the {records} {what} before that point were "
                    "imported, the rest of the file cannot be read"
                ).format(error=self._error, records=records, what=what)
            yield ImportProblem(SourceRef(CONNECTOR, container, "end of file"), reason)
        declared = self._collector.root_attrs.get("count")
        if declared is not None and declared.strip().isdigit() and int(declared) != records:
            yield ImportProblem(
                SourceRef(CONNECTOR, container, "header"),
                _("the backup header says it holds {value} {what} but {records} were read").format(
                    value=int(declared), what=what, records=records
                ),
            )
        repaired, replaced = self._emoji, self._replaced
        if repaired:
            self.notes.add(
                _("repaired {n} emoji written as surrogate-pair references").format(n=repaired)
            )
        if replaced:
            self.notes.add(
                _("replaced {n} invalid character references with U+FFFD").format(n=replaced)
            )

    def _convert(
        self, record: _Record, container: str, container_sha: str
    ) -> Iterator[Capture | ImportProblem]:
        source = SourceRef(CONNECTOR, container, f"element {record.index} (line {record.line})")
        try:
            if record.tag == "sms":
                made = self._sms(record)
            elif record.tag == "mms":
                made = self._mms(record, source)
            else:
                made = self._call(record)
        except (ValueError, KeyError, TypeError) as exc:
            yield ImportProblem(
                source, _("could not read this {tag}: {error}").format(tag=record.tag, error=exc)
            )
            return
        item, attachments, key, problems = made
        emoji, replaced = record.emoji, record.replaced
        self._emoji += emoji
        self._replaced += replaced
        if emoji or replaced:
            flags = item.flags + (("emoji-repaired",) if emoji else ())
            flags += ("character-replaced",) if replaced else ()
            details = dict(item.details, repairs=emoji + replaced)
            item = Item(**{**item.__dict__, "flags": flags, "details": details})
        yield Capture(
            source,
            original=None,
            item=item,
            attachments=attachments,
            dedup_key=key,
            container_sha256=container_sha,
        )
        yield from problems

    # -- records -------------------------------------------------------------------------------

    def _name(self, attrs: dict[str, str]) -> str:
        name = clean(attrs.get("contact_name")).strip()
        return "" if name.lower() in UNKNOWN_NAMES else name

    def _sms(
        self, record: _Record
    ) -> tuple[Item, tuple[Attachment, ...], str, list[ImportProblem]]:
        a = record.attrs
        raw = clean(a.get("address"))
        # A text sent to several people has them all in one address ("+1555~+1666" or "a;b").
        group = participants(raw, self.region) if any(c in raw for c in "~;,") else ()
        number = ",".join(sorted(group)) if group else phone(raw, self.region)
        direction, flags = SMS_TYPES.get(a.get("type", ""), ("unknown", ()))
        when = with_phone_zone(epoch_to_datetime(a.get("date")), clean(a.get("readable_date")))
        body = clean(a.get("body"))
        name = self._name(a)
        details: dict[str, Any] = {"address": raw, "type": a.get("type", "")}
        if name:
            details["contact_name"] = name
        if when is None:
            flags = (*flags, "no-date")
            details["date"] = a.get("date", "")
        if clean(a.get("date_sent")) not in ("", "0"):
            # Kept as written (milliseconds, or seconds for some MMS): converting costs time.
            details["date_sent"] = a["date_sent"]
        if clean(a.get("readable_date")):
            details["readable_date"] = a["readable_date"]
        who = name or raw or "unknown number"
        item = Item(
            kind="sms",
            occurred_at=when,
            direction=direction,
            sender=number if direction == "in" and not group else "",
            sender_name=name if direction == "in" else "",
            recipients=group or ((number,) if direction == "out" and number else ()),
            title=f"SMS {'from' if direction == 'in' else 'to'} {who}",
            body=body,
            thread_key=thread_key(group or number),
            flags=tuple(flags),
            details=details,
        )
        key = message_key("sms", number, when, direction, body)
        return item, (), key, []

    def _mms(
        self, record: _Record, source: SourceRef
    ) -> tuple[Item, tuple[Attachment, ...], str, list[ImportProblem]]:
        a = record.attrs
        direction, flags = MMS_BOXES.get(a.get("msg_box", ""), ("unknown", ()))
        when = with_phone_zone(epoch_to_datetime(a.get("date")), clean(a.get("readable_date")))
        raw = clean(a.get("address"))
        others = participants(raw, self.region)
        by_type: dict[str, list[str]] = {}
        for addr in record.addrs:
            number = phone(clean(addr.get("address")), self.region)
            if number and number != "insert-address-token":
                by_type.setdefault(addr.get("type", ""), []).append(number)
        senders = by_type.get(ADDR_FROM, [])
        if direction == "in":
            sender = senders[0] if senders else (others[0] if others else "")
            recipients = tuple(
                n
                for n in dict.fromkeys(by_type.get(ADDR_TO, []) + by_type.get(ADDR_CC, []))
                if n != sender
            )
        else:
            sender = senders[0] if senders else ""
            recipients = others or tuple(
                dict.fromkeys(
                    by_type.get(ADDR_TO, []) + by_type.get(ADDR_CC, []) + by_type.get(ADDR_BCC, [])
                )
            )
        texts: list[str] = []
        attachments: list[Attachment] = []
        broken: list[dict[str, str]] = []
        problems: list[ImportProblem] = []
        for part in record.parts:
            media_type = clean(part.get("ct")).lower() or "application/octet-stream"
            if media_type == "application/smil":
                continue  # layout only; the file keeps it
            name = safe_filename(part.get("name", ""), part.get("cl", ""), part.get("fn", ""))
            data_b64: str | bytes | None = part.get("data")
            if record.media is not None and record.media.attr in part:
                data_b64 = record.media.take(part[record.media.attr])
            text = clean(part.get("text"))
            if data_b64 is None:
                if media_type.startswith("text/plain"):
                    if text:
                        texts.append(text)
                elif text:
                    blob = self.spool.blob(text.encode("utf-8"), media_type)
                    attachments.append(Attachment(blob, name, media_type, text=text))
                continue
            try:
                if isinstance(data_b64, str):
                    data_b64 = "".join(data_b64.split())
                data = binascii.a2b_base64(data_b64, strict_mode=True)
            except binascii.Error as exc:
                broken.append({"name": name, "media_type": media_type, "reason": str(exc)})
                problems.append(
                    ImportProblem(
                        source,
                        _(
                            "MMS part {name} ({media_type}) is not valid base64 ({error}) and was "
                            "not kept; the message text was kept"
                        ).format(name=name, media_type=media_type, error=exc),
                    )
                )
                continue
            if media_type.startswith("text/plain"):
                texts.append(data.decode("utf-8", "replace"))
                continue
            as_text = data.decode("utf-8", "replace") if media_type.startswith("text/") else ""
            blob = self.spool.blob(data, media_type)
            attachments.append(Attachment(blob, name, media_type, text=as_text))
        body = "\n".join(texts)
        subject = clean(a.get("sub"))
        name = self._name(a)
        details: dict[str, Any] = {"address": raw, "msg_box": a.get("msg_box", "")}
        if name:
            details["contact_name"] = name
        if broken:
            details["broken_parts"] = broken
            flags = (*flags, "broken-attachment")
        if when is None:
            flags = (*flags, "no-date")
            details["date"] = a.get("date", "")
        if clean(a.get("date_sent")) not in ("", "0"):
            # Kept as written (milliseconds, or seconds for some MMS): converting costs time.
            details["date_sent"] = a["date_sent"]
        if clean(a.get("readable_date")):
            details["readable_date"] = a["readable_date"]
        if clean(a.get("m_id")):
            details["m_id"] = a["m_id"]
        counterparties = others or ((sender,) if direction == "in" and sender else recipients)
        who = name or raw or "unknown number"
        item = Item(
            kind="mms",
            occurred_at=when,
            direction=direction,
            sender=sender,
            sender_name=name if direction == "in" else "",
            recipients=recipients,
            title=subject or f"MMS {'from' if direction == 'in' else 'to'} {who}",
            body=body,
            thread_key=thread_key(counterparties),
            flags=tuple(flags),
            details=details,
        )
        extra = ",".join([x.blob.sha256 for x in attachments] + [b["name"] for b in broken])
        key = message_key(
            "mms", ",".join(sorted(counterparties)), when, direction, subject + "\n" + body, extra
        )
        return item, tuple(attachments), key, problems

    def _call(
        self, record: _Record
    ) -> tuple[Item, tuple[Attachment, ...], str, list[ImportProblem]]:
        a = record.attrs
        raw = clean(a.get("number"))
        presentation = PRESENTATION.get(a.get("presentation", ""), "")
        if raw.startswith("-") or not raw:
            raw = ""
        number = phone(raw, self.region)
        direction, label, flags = CALL_TYPES.get(a.get("type", ""), ("unknown", "call", ()))
        when = with_phone_zone(epoch_to_datetime(a.get("date")), clean(a.get("readable_date")))
        duration = int(a["duration"]) if a.get("duration", "").strip().isdigit() else 0
        name = self._name(a)
        details: dict[str, Any] = {
            "number": raw,
            "type": a.get("type", ""),
            "call_type": label,
            "duration_s": duration,
        }
        if presentation:
            details["presentation"] = presentation
        if name:
            details["contact_name"] = name
        if clean(a.get("readable_date")):
            details["readable_date"] = a["readable_date"]
        if when is None:
            flags = (*flags, "no-date")
        item, key = call_item(
            number=number,
            raw=raw,
            name=name,
            presentation=presentation,
            direction=direction,
            label=label,
            when=when,
            duration=duration,
            flags=tuple(flags),
            details=details,
        )
        return item, (), key, []
