"""Outlook ``.msg`` files (an OLE2 compound file of MAPI properties) to an Item.

People who use Outlook save mail as ``.msg``, not ``.eml``. olefile reads the compound file; the
MAPI properties we need are few and documented in [MS-OXMSG]: each string or binary property is
a stream named ``__substg1.0_IIIITTTT`` (property id, type), fixed-size ones (times) are 16-byte
entries in ``__properties_version1.0``. Recipients and attachments are sub-storages.

When the message carries its internet headers (``PR_TRANSPORT_MESSAGE_HEADERS``), the Date and
addresses are taken from them, since they keep the sender's own offset; otherwise the submit
time (UTC) is used. The .msg file itself stays the original; attachments become originals too.
"""

from __future__ import annotations

import email.utils
import io
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import olefile

from ..hashing import blob_from_bytes
from ..i18n import _
from ..model import Attachment, Item
from .charsets import decode_text
from .email import ParsedEmail, parse_date, safe_filename
from .html_text import html_to_text

MEDIA_TYPE = "application/vnd.ms-outlook"
_TOP_HEADER = 32
_SUB_HEADER = 8
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
PT_UNICODE, PT_STRING8, PT_BINARY, PT_SYSTIME = 0x001F, 0x001E, 0x0102, 0x0040


class NotAnOutlookMessage(ValueError):
    """The bytes are an OLE2 file but not an Outlook message."""


class _Props:
    def __init__(self, ole: olefile.OleFileIO, prefix: str, header: int) -> None:
        self.ole = ole
        self.prefix = prefix
        self.header = header

    def _stream(self, name: str) -> bytes | None:
        path = f"{self.prefix}{name}"
        if not self.ole.exists(path):
            return None
        data: bytes = self.ole.openstream(path).read()
        return data

    def text(self, prop: int) -> str:
        raw = self._stream(f"__substg1.0_{prop:04X}{PT_UNICODE:04X}")
        if raw is not None:
            return raw.decode("utf-16-le", errors="replace").rstrip("\x00")
        raw = self._stream(f"__substg1.0_{prop:04X}{PT_STRING8:04X}")
        if raw is not None:
            return decode_text(raw.rstrip(b"\x00"), None).text
        return ""

    def binary(self, prop: int) -> bytes | None:
        return self._stream(f"__substg1.0_{prop:04X}{PT_BINARY:04X}")

    def time(self, prop: int) -> datetime | None:
        raw = self._stream("__properties_version1.0")
        if raw is None:
            return None
        for offset in range(self.header, len(raw) - 15, 16):
            tag, _flags, value = struct.unpack_from("<IIQ", raw, offset)
            if tag == (prop << 16) | PT_SYSTIME and value:
                try:
                    return _FILETIME_EPOCH + timedelta(microseconds=value // 10)
                except OverflowError:
                    return None
        return None


def _storages(ole: olefile.OleFileIO, kind: str) -> list[str]:
    names = {entry[0] for entry in ole.listdir(streams=True, storages=True) if len(entry) > 1}
    return sorted(n + "/" for n in names if n.startswith(f"__{kind}_version1.0_#"))


def parse_outlook_msg(raw: bytes) -> ParsedEmail:
    """Parse an Outlook .msg file; raises :class:`NotAnOutlookMessage` for other OLE2 files."""
    try:
        ole = olefile.OleFileIO(io.BytesIO(raw))
    except OSError as exc:
        raise NotAnOutlookMessage(f"not a readable OLE2 file: {exc}") from exc
    with ole:
        if not ole.exists("__properties_version1.0"):
            raise NotAnOutlookMessage("an OLE2 file without MAPI properties (not an e-mail)")
        top = _Props(ole, "", _TOP_HEADER)
        notes: list[str] = []
        headers_text = top.text(0x007D)
        header_msg = email.message_from_string(headers_text) if headers_text else None

        def header(name: str) -> str:
            return str(header_msg.get(name, "")) if header_msg is not None else ""

        occurred, problem = parse_date(header("Date") or None)
        if problem:
            notes.append(problem)
        if occurred is None:
            occurred = top.time(0x0039) or top.time(0x0E06)
        sender = top.text(0x5D01) or top.text(0x0065) or top.text(0x0C1F)
        if not sender or sender.lower().startswith("/o="):
            sender = email.utils.parseaddr(header("From"))[1] or sender
        recipients: list[str] = []
        for storage in _storages(ole, "recip"):
            props = _Props(ole, storage, _SUB_HEADER)
            address = props.text(0x39FE) or props.text(0x3003)
            if address:
                recipients.append(address.lower() if "@" in address else address)
        body = top.text(0x1000)
        flags: list[str] = []
        if not body.strip():
            html = top.binary(0x1013)
            if html:
                body = html_to_text(decode_text(html, None).text)
                flags.append("html_only")
        attachments: list[Attachment] = []
        for position, storage in enumerate(_storages(ole, "attach"), start=1):
            props = _Props(ole, storage, _SUB_HEADER)
            data = props.binary(0x3701)
            if data is None:
                notes.append(
                    _("attachment {position} is an embedded object, kept inside the .msg").format(
                        position=position
                    )
                )
                continue
            media = props.text(0x370E) or "application/octet-stream"
            name = props.text(0x3707) or props.text(0x3704)
            attachments.append(
                Attachment(
                    blob=blob_from_bytes(data, media),
                    filename=safe_filename(name, media, position),
                    media_type=media,
                    content_id=props.text(0x3712) or None,
                )
            )
        details: dict[str, Any] = {"format": "outlook-msg", "from": header("From") or sender}
        if occurred is None:
            # A draft or unsent message has no sent time; the file's own creation time is
            # recorded as what it is, never as the time the message was sent.
            flags.append("no_date")
            created = top.time(0x3007)
            if created is not None:
                details["msg_created_at"] = created.isoformat()
        if notes:
            details["notes"] = notes
        message_id = (top.text(0x1035) or header("Message-ID")).strip() or None
        item = Item(
            kind="email",
            occurred_at=occurred,
            sender=sender.lower() if "@" in sender else sender,
            sender_name=top.text(0x0C1A) or top.text(0x0042),
            recipients=tuple(dict.fromkeys(recipients)),
            title=top.text(0x0037),
            body=body.strip(),
            message_id=message_id,
            thread_key=message_id,
            flags=tuple(flags),
            details=details,
        )
    return ParsedEmail(item, attachments)
