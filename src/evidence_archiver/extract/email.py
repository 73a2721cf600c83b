"""One e-mail's bytes to an Item and its attachments.

We parse with the standard library's ``compat32`` policy: it is several times faster than
``policy.default`` and never raises on broken input, recording MIME defects instead. Well-formed
mail takes a faster path to the very same tree (``mime_tree``). Everything
it leaves undecoded we decode ourselves: RFC 2047 words in headers (with charset supersets, see
``charsets``), raw 8-bit headers (UTF-8 or detected), RFC 2231 parameters, bodies whose declared
charset is wrong. The text body is the first ``text/plain`` part; HTML-only mail is turned into
text. Every part with a file name, a non-text type or an attachment disposition becomes an
:class:`Attachment` carrying its decoded bytes, under a safe display name: a sender's file name
is never used as a path.

The input bytes are never changed; they are the original that the archive stores.
"""

from __future__ import annotations

import email.utils
import functools
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from typing import Any

from ..hashing import blob_from_bytes
from ..model import Attachment, Item
from .charsets import decode_text
from .html_text import html_to_text
from .mime_tree import parse_mime

MAX_NAME = 120
# The default policy is compat32 (named here only in words: email.policy, which would name it,
# loads the header registry that compat32 never uses).
_PARSER = BytesParser()
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\/]+')
_MSGID = re.compile(r"<[^<>\s]+>")
_ENCODED_WORD_GAP = re.compile(r"(\?=)\s+(=\?)")
_SURROGATES = re.compile("[\udc80-\udcff]")


@dataclass
class ParsedEmail:
    item: Item
    attachments: list[Attachment] = field(default_factory=list)


class NotAnEmail(ValueError):
    """The bytes have no e-mail headers at all."""


def _raw_header_bytes(value: str) -> bytes:
    # compat32 keeps 8-bit header bytes as surrogate escapes; get the bytes back.
    return value.encode("ascii", "surrogateescape")


def decode_header_value(value: Any) -> str:
    """A header as text: RFC 2047 words decoded, raw 8-bit bytes decoded by guess.

    >>> decode_header_value("=?gb2312?B?0enG2ru5v+4=?=")
    '延期还款'
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    if not value.isascii() and _SURROGATES.search(value):
        value = decode_text(_raw_header_bytes(value), None).text
    if "=?" not in value:
        return _unfold(value)
    # Adjacent encoded words are joined without the white space between them (RFC 2047 6.2).
    value = _ENCODED_WORD_GAP.sub(r"\1\2", value)
    try:
        parts = decode_header(value)
    except Exception:  # noqa: BLE001 - a malformed encoded word is kept as written
        return _unfold(value)
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            out.append(decode_text(chunk, charset).text)
        else:
            out.append(chunk)
    return _unfold("".join(out))


def _unfold(text: str) -> str:
    return " ".join(text.replace("\r", " ").replace("\n", " ").split())


def safe_filename(name: str | None, media_type: str, position: int) -> str:
    """A display name that is safe to show and to use as the last part of a path.

    Directory parts, control characters, reserved characters and leading dots are removed, the
    length is capped (keeping the extension); an empty result becomes ``attachment-N.ext``.

    >>> safe_filename("../../etc/passwd", "text/plain", 1)
    'passwd'
    >>> safe_filename("C:\\\\Users\\\\x\\\\合同.pdf", "application/pdf", 2)
    '合同.pdf'
    """
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip().lstrip(".").strip()
    if name in ("", "_"):
        ext = mimetypes.guess_extension(media_type) or ".bin"
        return f"attachment-{position}{ext}"
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_NAME - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_NAME]
    return name


HeaderMap = dict[str, list[str]]


def _header_map(msg: Message) -> HeaderMap:
    """Every header value as written, 8-bit bytes included (``get_all`` would hand back
    ``Header`` objects that have already replaced them), by lower-cased name."""
    found: HeaderMap = {}
    for key, value in msg.raw_items():
        found.setdefault(key.lower(), []).append(str(value))
    return found


def _header(headers: HeaderMap, name: str) -> str | None:
    values = headers.get(name.lower())
    return values[0] if values else None


def _addresses(headers: HeaderMap, *names: str) -> tuple[tuple[str, str], ...]:
    return _addresses_in(tuple(v for n in names for v in headers.get(n.lower(), [])))


# A mailbox's messages come from and go to a few correspondents, so the same header values
# recur message after message, and reading addresses is slow pure Python: remember the last ones.
@functools.lru_cache(maxsize=1024)
def _addresses_in(raw_values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    values = [decode_header_value(v) for v in raw_values]
    found = []
    for display, addr in email.utils.getaddresses(values):
        addr = addr.strip()
        if addr:
            found.append((display.strip(), addr.lower() if "@" in addr else addr))
    return tuple(found)


def parse_date(value: str | None) -> tuple[datetime | None, str | None]:
    """``(aware datetime, problem)``; a Date without a zone ("-0000") is taken as UTC."""
    if not value:
        return None, None
    try:
        moment = email.utils.parsedate_to_datetime(decode_header_value(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None, f"unreadable Date header {value[:60]!r}"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment, None


def _mentions(headers: HeaderMap, name: str, word: str) -> bool:
    """Whether any ``name`` header holds ``word`` (lower case) anywhere in its value.

    A parameter the standard library would find (``get_param``, ``get_filename``) has its
    name, in any case, in the header's text: where the word is not there at all, its slow
    parameter parsing can be skipped with the same answer.
    """
    return any(word in value.lower() for value in headers.get(name, ()))


def _part_text(part: Message, media_type: str, headers: HeaderMap, notes: list[str]) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    declared = part.get_param("charset") if _mentions(headers, "content-type", "charset") else None
    label = decode_header_value(declared) if isinstance(declared, str) else None
    decoded = decode_text(payload, label)
    if decoded.note:
        notes.append(f"{media_type}: {decoded.note}")
    return decoded.text


def _filename(part: Message, headers: HeaderMap) -> str | None:
    if not (
        _mentions(headers, "content-disposition", "name")
        or _mentions(headers, "content-type", "name")
    ):
        return None
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - a broken RFC 2231 parameter must not lose the part
        name = None
    if name is None:
        return None
    return decode_header_value(name)


def _is_attachment(media_type: str, disposition: str, filename: str | None) -> bool:
    if disposition.split(";")[0].strip() == "attachment" or filename:
        return True
    return not media_type.startswith(("text/", "multipart/"))


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one message. Raises :class:`NotAnEmail` when there are no headers at all;
    anything else that is wrong is recorded in ``item.details`` and ``item.flags``."""
    msg = parse_mime(raw)
    if msg is None:
        msg = _PARSER.parsebytes(raw)
    if not msg.keys():
        raise NotAnEmail("no e-mail headers found")
    notes: list[str] = []
    defects: list[str] = []
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    attached_messages: list[Message] = []
    headers = _header_map(msg)
    top_type = ""
    for part in msg.walk():
        if part.defects:
            defects.extend(type(d).__name__ for d in part.defects)
        media_type = part.get_content_type()
        if part is msg:
            top_type = media_type
        elif media_type == "message/rfc822":
            attached_messages.append(part)
        if part.is_multipart():
            continue
        if media_type == "message/rfc822" or isinstance(part.get_payload(), list):
            continue
        part_headers = _header_map(part) if part is not msg else headers
        filename = _filename(part, part_headers)
        disposition = (_header(part_headers, "Content-Disposition") or "").lower()
        if _is_attachment(media_type, disposition, filename):
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                data = b""
            content_id = _header(part_headers, "Content-ID")
            attachments.append(
                Attachment(
                    blob=blob_from_bytes(data, media_type),
                    filename=safe_filename(filename, media_type, len(attachments) + 1),
                    media_type=media_type,
                    inline=disposition.startswith("inline")
                    or (content_id is not None and not disposition.startswith("attachment")),
                    content_id=content_id.strip().strip("<>") if content_id else None,
                    text=_attachment_text(part, media_type, part_headers, notes),
                )
            )
        elif media_type == "text/html":
            html.append(_part_text(part, media_type, part_headers, notes))
        else:
            plain.append(_part_text(part, media_type, part_headers, notes))
    # Attached messages are kept whole as attachments, as they were sent, after the others.
    for part in attached_messages:
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            data = inner[0].as_bytes(unixfrom=False)
            inner_subject = _header(_header_map(inner[0]), "Subject")
            subject = decode_header_value(inner_subject) or "message"
            attachments.append(
                Attachment(
                    blob=blob_from_bytes(data, "message/rfc822"),
                    filename=safe_filename(
                        f"{subject}.eml", "message/rfc822", len(attachments) + 1
                    ),
                    media_type="message/rfc822",
                )
            )
    body = "\n\n".join(t.strip() for t in plain if t.strip())
    html_only = not body and bool(html)
    if html_only:
        body = "\n\n".join(html_to_text(h) for h in html)
    occurred, date_problem = parse_date(_header(headers, "Date"))
    if date_problem:
        notes.append(date_problem)
    senders = _addresses(headers, "From") or _addresses(headers, "Sender")
    sender_name, sender = senders[0] if senders else ("", "")
    recipients = tuple(dict.fromkeys(a for _, a in _addresses(headers, "To", "Cc", "Bcc")))
    message_id = _first_msgid(_header(headers, "Message-ID"))
    references = _MSGID.findall(decode_header_value(_header(headers, "References")))
    in_reply_to = _first_msgid(_header(headers, "In-Reply-To"))
    thread_key = references[0] if references else (in_reply_to or message_id)
    flags = []
    if defects:
        flags.append("mime_defects")
    if any("detected" in n or "replaced" in n or "UTF-8" in n for n in notes):
        flags.append("charset_recovered")
    if html_only:
        flags.append("html_only")
    if occurred is None:
        flags.append("no_date")
    details: dict[str, Any] = {
        "from": decode_header_value(_header(headers, "From")),
        "to": ", ".join(decode_header_value(v) for v in headers.get("to", [])),
        "cc": ", ".join(decode_header_value(v) for v in headers.get("cc", [])),
        "date_header": decode_header_value(_header(headers, "Date")),
        "content_type": top_type,
    }
    if in_reply_to:
        details["in_reply_to"] = in_reply_to
    if references:
        details["references"] = references
    if defects:
        details["mime_defects"] = sorted(set(defects))
    if notes:
        details["notes"] = notes
    item = Item(
        kind="email",
        occurred_at=occurred,
        sender=sender,
        sender_name=sender_name,
        recipients=recipients,
        title=decode_header_value(_header(headers, "Subject")),
        body=body,
        thread_key=thread_key,
        message_id=message_id,
        flags=tuple(flags),
        details=details,
    )
    return ParsedEmail(item, attachments)


def _first_msgid(value: Any) -> str | None:
    if not value:
        return None
    found = _MSGID.findall(decode_header_value(value))
    return found[0] if found else None


def _attachment_text(part: Message, media_type: str, headers: HeaderMap, notes: list[str]) -> str:
    """Searchable text of an attachment that is itself text; other types get text later
    (PDFs through the PDF extractor)."""
    if media_type in ("text/plain", "text/csv", "text/calendar"):
        return _part_text(part, media_type, headers, notes)
    if media_type == "text/html":
        return html_to_text(_part_text(part, media_type, headers, notes))
    return ""
