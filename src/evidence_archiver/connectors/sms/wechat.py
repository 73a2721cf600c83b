"""WeChat chat exports: MemoTrace (留痕, WeChatMsg) CSV and HTML, and ChatLab JSON / JSONL.

WeChat cannot export a chat itself; borrowers use desktop tools that read the decrypted
database. Three layouts are read here, all into the same messages:

* **MemoTrace CSV** (``<remark>_utf8.csv``): the database's own columns ``localId, TalkerId,
  Type, SubType, IsSender, CreateTime, Status, StrContent, StrTime``, and in newer versions
  ``Remark, NickName, Sender`` (the *sender's* names: the borrower's own on his messages).
  Read as a stream (a long chat is hundreds of thousands of rows), UTF-8 with or without BOM;
  a file that is not UTF-8 at all (re-saved by Excel on a Chinese Windows) is read as GB18030
  and says so; a row with bytes that are not UTF-8 in a UTF-8 file is reported on its own.
* **MemoTrace HTML** (``<remark>.html``): the chat page, whose messages are a JavaScript array
  ``const chatMessages = [{ type:1, text:'…', is_send:0, timestamp:…, displayname:'…' }, …]``
  with media as relative paths (``./image/…``, ``./voice/…``, ``./file/…``). It carries no
  wxid: the chat is known by the remark in its title.
* **ChatLab** (``.json`` with a ``chatlab`` header, or ``.jsonl``), the exchange format that
  several WeChat exporters write: members with their wxid (``platformId``) and messages with a
  Unix ``timestamp``, a ``sender`` and a ChatLab type.

Design:

* **Who.** A contact is ``wechat:<wxid>`` (the TalkerId), so that a case rule
  ``--counterparty wechat:wxid_…`` matches every message of the chat, in and out. The contact's
  remark and nickname are recorded as ``aliases`` (``wechat:乐贷客服``), which case rules match
  too. The borrower's own messages (``IsSender=1``) are ``out``.
* **When.** ``CreateTime`` is Unix seconds, an exact instant. It is shown in the zone the
  exporter's ``StrTime`` reveals (its wall clock minus the instant), else the zone given.
* **What.** Type 1 text as written (multi-line and quoted text whole); 3 image, 34 voice, 43
  video, 47 sticker; 49 app messages (files, links, transfers 2000, quoted replies 57…) whose
  XML is turned into readable text (title, description, amount, the quoted message) with the
  raw XML kept in ``details["raw"]``; 50 voice/video calls; 10000 system lines. The XML is
  parsed with defusedxml: a DTD or entity in a message (how XML bombs work) is refused and the
  message is kept with its raw text and a clear reason.
* **Media.** Files beside the export (MemoTrace's ``image/``, ``voice/``, ``video/``, ``file/``
  folders) become attachments of their message: by the path the HTML names, or for the CSV by
  the name the message's XML carries (a file's title, an image's md5, a voice's
  ``clientmsgid``). A media message whose file is not there lists it in
  ``details["missing_attachments"]`` and is flagged ``media-missing``; importing the chat
  again from an export that has the file adds it to the archived message (the ingest adds the
  attachments a duplicate brings that its item lacks, with a custody event of their own).
* **Once.** The natural key is the chat, the instant, the direction, the kind and the content
  (and how many identical messages came before it in that second), never the row number or a
  column only one layout has: a 12-column and a 9-column CSV of one chat, or two overlapping
  exports, archive each message once. The HTML, which has no wxid, keys its chat by remark.
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_xml

from ...errors import SourceError
from ...hashing import blob_from_file
from ...i18n import _, ngettext
from ...model import Attachment, Capture, Direction, ImportProblem, Item, SourceRef
from .chat_text import user_zone
from .common import ReadNotes, guess_media_type, message_key, safe_filename

CSV_FORMAT = "wechat-csv"
HTML_FORMAT = "wechat-html"
CHATLAB_FORMAT = "chatlab"

CSV_COLUMNS = (
    "localId",
    "TalkerId",
    "Type",
    "SubType",
    "IsSender",
    "CreateTime",
    "Status",
    "StrContent",
    "StrTime",
)
CSV_EXTRA = ("Remark", "NickName", "Sender")
#: Without these a row says nothing: refused with the columns the file has.
CSV_REQUIRED = ("Type", "CreateTime", "StrContent")

# What a message is, whichever layout it came from (the kind part of the natural key).
KIND_LABEL = {
    "text": "message",
    "image": "image",
    "voice": "voice message",
    "video": "video",
    "sticker": "sticker",
    "file": "file",
    "link": "link",
    "transfer": "transfer",
    "red-packet": "red packet",
    "reply": "reply",
    "music": "music",
    "mini-program": "mini program",
    "forward": "forwarded chat",
    "location": "location",
    "card": "contact card",
    "call": "call",
    "system": "system message",
    "app": "app message",
    "other": "message",
}
PLACEHOLDER = {
    "image": "[图片 image]",
    "voice": "[语音 voice message]",
    "video": "[视频 video]",
    "sticker": "[表情 sticker]",
    "location": "[位置 location]",
    "card": "[名片 contact card]",
    "call": "[通话 call]",
}
_WECHAT_TYPES = {
    1: "text",
    3: "image",
    34: "voice",
    42: "card",
    43: "video",
    47: "sticker",
    48: "location",
    50: "call",
    10000: "system",
    10002: "system",
}
_APP_SUBTYPES = {
    6: "file",
    5: "link",
    4: "link",
    2000: "transfer",
    2001: "red-packet",
    57: "reply",
    3: "music",
    33: "mini-program",
    36: "mini-program",
    19: "forward",
}
# ChatLab's message types (its format specification, v0.0.2).
_CHATLAB_TYPES = {
    0: "text",
    1: "image",
    2: "voice",
    3: "video",
    4: "file",
    5: "sticker",
    7: "link",
    8: "location",
    20: "red-packet",
    21: "transfer",
    23: "call",
    24: "app",
    25: "reply",
    26: "forward",
    27: "card",
    80: "system",
    81: "system",
}
MEDIA_FOLDERS = {
    "image": ("image", "img", "images"),
    "voice": ("voice", "audio"),
    "video": ("video",),
    "file": ("file", "files"),
}
TRANSFER_STATUS = {"1": "发起转账 sent", "3": "已收款 received", "4": "已退还 returned"}
_TAG = re.compile(r"<[^>]{0,2000}>")
_STRTIME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2}):(\d{2})")
_CSV_NAME = re.compile(r"^(?P<name>.+?)(?:_utf8|_gbk)?$")


def kind_of_wechat(type_: int, subtype: int) -> str:
    """The kind of a message from the database's Type and SubType.

    >>> kind_of_wechat(49, 2000), kind_of_wechat(1, 0), kind_of_wechat(49, 99)
    ('transfer', 'text', 'app')
    """
    if type_ == 49:
        return _APP_SUBTYPES.get(subtype, "app")
    return _WECHAT_TYPES.get(type_, "other")


def _text(node: Element | None, path: str) -> str:
    if node is None:
        return ""
    found = node.find(path)
    return (found.text or "").strip() if found is not None and found.text else ""


def _xml(raw: str) -> Element | None:
    """The message's XML, or None when it is not XML; hostile XML raises ``DefusedXmlException``.

    Group messages in some exports start with ``wxid_…:\\n`` before the XML.
    """
    start = raw.find("<")
    if start < 0:
        return None
    try:
        root: Element = safe_xml(raw[start:].strip(), forbid_dtd=True)
    except ParseError:
        return None
    return root


def _size(value: str) -> str:
    try:
        number = int(value)
    except ValueError:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if number < 1024 or unit == "GB":
            return f"{number:.0f} {unit}" if unit == "B" else f"{number:.1f} {unit}"
        number /= 1024  # type: ignore[assignment]
    return ""  # pragma: no cover


@dataclass
class Readable:
    """A message's content as a person reads it, and what was learnt on the way."""

    body: str
    info: dict[str, str] = field(default_factory=dict)
    media_names: list[str] = field(default_factory=list)
    error: str | None = None


_APPMSG_TYPE = re.compile(r"<appmsg\b.*?<type>\s*(\d+)\s*</type>", re.DOTALL)


def _app_kind_from_xml(raw: str) -> str:
    """An app message's kind from its XML's ``<type>``, for exports whose SubType is 0."""
    match = _APPMSG_TYPE.search(raw)
    return _APP_SUBTYPES.get(int(match.group(1)), "app") if match else "app"


def readable_content(kind: str, raw: str) -> Readable:
    """What a CSV message says, from its raw StrContent (text, or the XML of other kinds).

    >>> readable_content("transfer", "<msg><appmsg><title>微信转账</title><wcpayinfo>"
    ...     "<feedesc>￥3,000.00</feedesc><pay_memo>还款</pay_memo><paysubtype>1</paysubtype>"
    ...     "</wcpayinfo></appmsg></msg>").body
    '[转账 transfer] ￥3,000.00 还款 (发起转账 sent)'
    """
    if kind == "text":
        return Readable(raw)
    try:
        root = _xml(raw)
    except DefusedXmlException as exc:
        return Readable(
            f"[{KIND_LABEL.get(kind, kind)}: content not read]",
            error=_(
                "the message's XML was refused ({error}: a DTD or entity, which WeChat never "
                "writes and XML bombs use); its raw text is kept"
            ).format(error=type(exc).__name__),
        )
    if kind == "system":
        # An Element with no children is falsy: compare with None.
        text = (
            (root.findtext(".//content") or root.findtext(".//replacemsg"))
            if root is not None
            else None
        )
        return Readable(html.unescape(_TAG.sub("", text or raw)).strip())
    if root is None:
        return Readable(raw if kind in ("other", "call") else PLACEHOLDER.get(kind, raw))
    if kind == "image":
        img = root.find(".//img")
        names = [img.get("md5", "")] if img is not None and img.get("md5") else []
        return Readable(PLACEHOLDER["image"], media_names=names)
    if kind == "voice":
        voice = root.find(".//voicemsg")
        info: dict[str, str] = {}
        names = []
        if voice is not None:
            ms = voice.get("voicelength", "")
            if ms.isdigit():
                info["seconds"] = str(round(int(ms) / 1000))
            for key in ("clientmsgid", "bufid"):
                if voice.get(key):
                    names.append(voice.get(key, ""))
        seconds = f" {info['seconds']} s" if "seconds" in info else ""
        return Readable(PLACEHOLDER["voice"] + seconds, info, names)
    if kind == "video":
        video = root.find(".//videomsg")
        names = [video.get("md5", "")] if video is not None and video.get("md5") else []
        return Readable(PLACEHOLDER["video"], media_names=names)
    if kind == "call":
        said = root.findtext(".//msg") or ""
        return Readable(f"{PLACEHOLDER['call']} {said.strip()}".strip())
    if kind in ("sticker", "location", "card"):
        label = root.find(".//location")
        where = label.get("poiname") or label.get("label") if label is not None else ""
        return Readable(f"{PLACEHOLDER[kind]} {where or ''}".strip())
    return _app_message(kind, root)


def _app_message(kind: str, root: Element) -> Readable:
    app = root.find("appmsg") if root.tag == "msg" else root
    title = _text(app, "title")
    des = _text(app, "des")
    url = _text(app, "url")
    info = {k: v for k, v in (("title", title), ("description", des), ("url", url)) if v}
    if kind == "file":
        size = _size(_text(app, "appattach/totallen"))
        if size:
            info["size"] = size
        body = f"[文件 file] {title}" + (f" ({size})" if size else "")
        return Readable(body, info, [title] if title else [])
    if kind == "transfer":
        amount = _text(app, "wcpayinfo/feedesc")
        memo = _text(app, "wcpayinfo/pay_memo")
        status = TRANSFER_STATUS.get(_text(app, "wcpayinfo/paysubtype"), "")
        info.update({k: v for k, v in (("amount", amount), ("memo", memo)) if v})
        parts = [p for p in ("[转账 transfer]", amount, memo) if p]
        return Readable(" ".join(parts) + (f" ({status})" if status else ""), info)
    if kind == "reply":
        quoted_who = _text(app, "refermsg/displayname")
        quoted = _text(app, "refermsg/content")
        quoted_kind = _text(app, "refermsg/type")
        if quoted_kind and quoted_kind != "1":
            quoted = (
                f"[{KIND_LABEL.get(_WECHAT_TYPES.get(int(quoted_kind), 'app'), 'message')}]"
                if quoted_kind.isdigit()
                else quoted
            )
        if quoted_who or quoted:
            info["quoted"] = f"{quoted_who}：{quoted}" if quoted_who else quoted
        body = title + (f"\n「{info['quoted']}」" if "quoted" in info else "")
        return Readable(body, info)
    label = {
        "link": "[链接 link]",
        "music": "[音乐 music]",
        "mini-program": "[小程序]",
        "forward": "[聊天记录 chat history]",
        "red-packet": "[红包 red packet]",
    }
    head = label.get(kind, "[应用消息 app message]")
    lines = [f"{head} {title}".strip(), des, url]
    return Readable("\n".join(line for line in lines if line), info)


@dataclass
class Message:
    """One message as every layout reads it, before it becomes a capture."""

    locator: str
    chat: str  # the chat's key: the talker's wxid, a group's id, or (HTML) the remark
    when: datetime | None
    direction: Direction
    kind: str
    body: str
    key_content: str  # what identifies the content in the natural key
    names: tuple[str, ...] = ()  # the contact's remark and nickname, for display and case rules
    author: str = ""  # a group member's (or the borrower's) wxid, when the layout gives it
    author_name: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    error: str | None = None
    group: bool = False  # a group chat whose id does not say so (an HTML page's remark)


class MessageBuilder:
    """Turns :class:`Message` into captures: one shape for every layout (see the module doc)."""

    def __init__(self, connector: str, container: str, sha256: str) -> None:
        self.connector = connector
        self.container = container
        self.sha256 = sha256
        # How many messages with the same (second, content hash) came before: small keys, so a
        # chat of hundreds of thousands of messages does not keep every text alive here.
        self._seen: dict[tuple[int, int], int] = {}
        self._people: dict[tuple[str, tuple[str, ...]], tuple[str, list[str]]] = {}

    def _names(self, chat: str, given: tuple[str, ...]) -> tuple[str, list[str]]:
        """``(display name, aliases)`` of a chat's contact, made once per set of names."""
        known = self._people.get((chat, given))
        if known is None:
            names = tuple(dict.fromkeys(n for n in given if n and n != chat))
            known = (names[0] if names else chat, [f"wechat:{n}" for n in names])
            self._people[(chat, given)] = known
        return known

    def capture(self, m: Message) -> Capture:
        group = m.group or m.chat.endswith("@chatroom")
        chat_address = f"wechat:{m.chat}"
        display, aliases = self._names(m.chat, m.names)
        stamp = int(m.when.timestamp()) if m.when is not None else 0
        # Only a text's words are the same in every layout (an image is XML in the CSV and a
        # path in the HTML): other kinds are told apart by their second and their order in it.
        content = m.key_content if m.kind == "text" else ""
        base = (stamp, hash((m.chat, m.direction, m.kind, content)))
        count = self._seen.get(base, 0) + 1
        self._seen[base] = count
        key = message_key(
            "chat", chat_address.lower(), m.when, m.direction, content, f"{m.kind}|{count}"
        )
        flags: list[str] = []
        details = m.details
        details["wxid"] = m.chat
        if aliases:
            details["aliases"] = aliases
        if m.missing:
            details["missing_attachments"] = m.missing
            flags.append("media-missing")
        if m.kind == "system":
            flags.append("system")
        if m.when is None:
            flags.append("no-date")
        label = KIND_LABEL.get(m.kind, "message")
        if m.direction == "out":
            sender = f"wechat:{m.author}" if m.author else ""
            recipients: tuple[str, ...] = (chat_address,)
            sender_name = m.author_name
            title = f"WeChat {label} to {display}"
        else:
            sender = f"wechat:{m.author}" if group and m.author else chat_address
            recipients = (chat_address,) if group else ()
            sender_name = m.author_name if group and m.author_name else display
            title = f"WeChat {label} from {sender_name}"
            if group and sender_name != display:
                title += f" in {display}"
        item = Item(
            kind="chat",
            occurred_at=m.when,
            direction=m.direction,
            sender=sender,
            sender_name=sender_name,
            recipients=recipients,
            title=title,
            body=m.body,
            thread_key=chat_address.lower(),
            flags=tuple(flags),
            details=details,
        )
        return Capture(
            SourceRef(self.connector, self.container, m.locator),
            original=None,
            item=item,
            attachments=tuple(m.attachments),
            parse_error=m.error,
            dedup_key=key,
            container_sha256=self.sha256,
        )


class MediaFolder:
    """The media an exporter wrote beside a chat, found by relative path or by name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._index: dict[str, dict[str, Path]] | None = None

    def _inside(self, path: Path) -> bool:
        """True when ``path``, links followed, is still inside the export's folder."""
        try:
            path.resolve().relative_to(self.root.resolve())
        except (ValueError, OSError):
            return False
        return True

    def _build(self) -> dict[str, dict[str, Path]]:
        index: dict[str, dict[str, Path]] = {}
        for kind, folders in MEDIA_FOLDERS.items():
            found: dict[str, Path] = {}
            for folder in folders:
                base = self.root / folder
                if not base.is_dir() or not self._inside(base):
                    continue
                for path in base.rglob("*"):
                    if path.is_file() and self._inside(path):
                        found.setdefault(path.name.lower(), path)
                        found.setdefault(path.stem.lower(), path)
            index[kind] = found
        return index

    def by_name(self, kind: str, names: Iterable[str]) -> Path | None:
        if self._index is None:
            self._index = self._build()
        found = self._index.get("file" if kind == "file" else kind, {})
        for name in names:
            hit = found.get(name.strip().lower())
            if hit is not None:
                return hit
        return None

    def by_path(self, relative: str) -> Path | None:
        """The file an HTML export names (``./image/2024-07/a.jpg``), never outside the root."""
        relative = relative.strip().replace("\\", "/")
        if not relative or re.match(r"^[a-z]+://", relative, re.IGNORECASE):
            return None
        candidate = self.root / relative
        if not self._inside(candidate):
            return None
        return candidate if candidate.is_file() else None

    @staticmethod
    def attachment(path: Path) -> Attachment:
        media_type = guess_media_type(path.name)
        if path.suffix.lower() == ".silk":
            media_type = "audio/silk"
        elif path.suffix.lower() == ".amr":
            media_type = "audio/amr"
        return Attachment(blob_from_file(path, media_type), safe_filename(path.name), media_type)


class ZoneFromClock:
    """The zone a message is shown in: the one the exporter's wall clock (``StrTime``) reveals
    (its reading minus the exact instant, in quarter hours), else the zone given.

    Called once per CSV row, so the day of a ``StrTime`` date is worked out once per date.
    """

    def __init__(self, zone: tzinfo | None) -> None:
        self.zone = zone
        self._days: dict[str, int | None] = {}
        self._zones: dict[int, tzinfo] = {}

    def _day(self, text: str) -> int | None:
        if text not in self._days:
            match = _STRTIME.match(text + " 00:00:00")
            try:
                y, mo, d = (int(g) for g in match.groups()[:3]) if match else (0, 0, 0)
                self._days[text] = (datetime(y, mo, d) - datetime(1970, 1, 1)).days  # noqa: DTZ001
            except ValueError:
                self._days[text] = None
        return self._days[text]

    def __call__(self, created: int, local_text: str) -> datetime:
        day = self._day(local_text[:10]) if len(local_text) >= 19 else None
        if day is not None:
            clock = local_text[11:19]
            try:
                local = day * 86400 + int(clock[:2]) * 3600 + int(clock[3:5]) * 60 + int(clock[6:8])
            except ValueError:
                local = None
            if local is not None:
                delta = local - created
                quarter = round(delta / 900) * 900
                if abs(quarter) <= 14 * 3600 and abs(delta - quarter) <= 120:
                    zone = self._zones.get(quarter)
                    if zone is None:
                        zone = self._zones[quarter] = timezone(timedelta(seconds=quarter))
                    return datetime.fromtimestamp(created, zone)
        return datetime.fromtimestamp(created, self.zone or UTC)


def _chat_name(path: Path) -> str:
    """MemoTrace names a chat's files after the contact's remark (``乐贷客服_utf8.csv``)."""
    match = _CSV_NAME.match(path.stem)
    return match.group("name") if match else path.stem


_UTF8_HAN = re.compile(rb"[\xe0-\xef][\x80-\xbf]{2}")


def _encoding(path: Path) -> str:
    """UTF-8 unless the start of the file cannot be UTF-8 (then GB18030, what GBK grew into).

    A file that starts with the UTF-8 BOM (as MemoTrace writes it), or whose Chinese is mostly
    valid UTF-8, is UTF-8 even when a few rows are not: those rows are reported one by one
    rather than the whole file being misread.
    """
    with path.open("rb") as f:
        head = f.read(1 << 20)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        good = len(_UTF8_HAN.findall(head))
        invalid = sum(
            1 for ch in head.decode("utf-8", "surrogateescape") if "\udc80" <= ch <= "\udcff"
        )
        return "utf-8-sig" if good > invalid else "gb18030"
    return "utf-8-sig"


class MemoTraceCsvReader:
    """A MemoTrace CSV of one chat, read as a stream (see the module doc)."""

    connector = CSV_FORMAT

    def __init__(
        self, path: Path, *, zone: str | None = None, notes: ReadNotes | None = None
    ) -> None:
        self.path = path
        self.zone = user_zone(zone)
        self.notes = notes or ReadNotes()
        self.notes.format = CSV_FORMAT
        self.encoding = _encoding(path)
        self.media = MediaFolder(path.parent)
        self.chat_name = _chat_name(path)
        with self._open() as f:
            header = next(csv.reader(f), None)
        if not header:
            raise SourceError(_("{name} is empty").format(name=path.name))
        self.header = [h.strip().lstrip("\ufeff") for h in header]
        self.columns = {name: i for i, name in enumerate(self.header) if name}
        missing = [c for c in CSV_REQUIRED if c not in self.columns]
        if missing:
            raise SourceError(
                _(
                    "{name} has no {missing} column, which every WeChat message needs; its "
                    "columns are: {columns}"
                ).format(name=path.name, missing=", ".join(missing), columns=", ".join(self.header))
            )
        absent = [c for c in CSV_COLUMNS if c not in self.columns]
        if absent:
            self.notes.add(
                ngettext(
                    "the file lacks the column {columns}; the rest was read",
                    "the file lacks the columns {columns}; the rest was read",
                    len(absent),
                ).format(columns=", ".join(absent))
            )
            if "IsSender" in absent:
                self.notes.add(_("without IsSender, messages have no direction"))
            if "TalkerId" in absent:
                self.notes.add(_("without TalkerId, the chat is named after the file"))
        if self.encoding == "gb18030":
            self.notes.add(_("the file is not UTF-8: it was read as GB18030 (GBK)"))

    def _open(self) -> Any:
        return self.path.open(
            encoding=self.encoding, errors="surrogateescape", newline="", buffering=1 << 16
        )

    def captures(self) -> Iterator[Capture | ImportProblem]:
        container = str(self.path)
        blob = blob_from_file(self.path, "text/csv")
        yield Capture(SourceRef(CSV_FORMAT, container, "whole file"), original=blob, item=None)
        builder = MessageBuilder(CSV_FORMAT, container, blob.sha256)
        col = self.columns
        width = len(self.header)
        i_talker = col.get("TalkerId")
        i_type, i_sub = col["Type"], col.get("SubType")
        i_send, i_time, i_content = col.get("IsSender"), col["CreateTime"], col["StrContent"]
        i_strtime, i_local, i_status = col.get("StrTime"), col.get("localId"), col.get("Status")
        i_remark, i_nick, i_sender = col.get("Remark"), col.get("NickName"), col.get("Sender")
        clock = ZoneFromClock(self.zone)
        file_chat = self.chat_name
        records = 0
        with self._open() as f:
            reader = csv.reader(f)
            next(reader, None)
            line = reader.line_num + 1
            while True:
                start = line
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    line = reader.line_num + 1
                    yield ImportProblem(
                        SourceRef(CSV_FORMAT, container, f"line {start}"),
                        _("not a readable CSV row ({error}); the file is kept as it is").format(
                            error=exc
                        ),
                    )
                    continue
                line = reader.line_num + 1
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                records += 1
                where = SourceRef(CSV_FORMAT, container, f"line {start}")
                if len(row) < width:
                    yield ImportProblem(
                        where,
                        _(
                            "the row has {n} of the header's {width} columns (cut short, "
                            "perhaps the end of a truncated file); it was not imported"
                        ).format(n=len(row), width=width),
                    )
                    continue
                content = row[i_content]
                try:
                    content.encode("utf-8")  # a lone surrogate: bytes that were not UTF-8
                except UnicodeEncodeError:
                    yield ImportProblem(
                        where,
                        _(
                            "the message text holds bytes that are not UTF-8 (part of the file "
                            "was saved in another encoding); it was not imported"
                        ),
                    )
                    continue
                stamp_text = row[i_time].strip()
                if not stamp_text.isdigit() or not row[i_type].strip().isdigit():
                    yield ImportProblem(
                        where,
                        _(
                            "CreateTime {stamp} / Type {type} are not numbers as MemoTrace "
                            "writes them; the row was not imported"
                        ).format(stamp=repr(stamp_text), type=repr(row[i_type])),
                    )
                    continue
                type_ = int(row[i_type])
                sub = row[i_sub].strip() if i_sub is not None else ""
                subtype = int(sub) if sub.isdigit() else 0
                kind = kind_of_wechat(type_, subtype)
                local_text = row[i_strtime] if i_strtime is not None else ""
                try:
                    when: datetime | None = clock(int(stamp_text), local_text)
                except (OverflowError, OSError, ValueError):
                    when = None
                mark = row[i_send].strip() if i_send is not None else ""
                direction: Direction = "out" if mark == "1" else "in" if mark == "0" else "unknown"
                talker = row[i_talker].strip() if i_talker is not None else ""
                chat = talker or file_chat
                names: tuple[str, ...] = (file_chat,)
                author = row[i_sender].strip() if i_sender is not None else ""
                author_name = ""
                if i_remark is not None and i_nick is not None:
                    remark, nick = row[i_remark].strip(), row[i_nick].strip()
                    author_name = remark or nick
                    if direction == "in" and not chat.endswith("@chatroom"):
                        names = (remark, nick, file_chat)
                details: dict[str, Any] = {"type": type_, "subtype": subtype}
                if local_text:
                    details["local_time"] = local_text
                if i_local is not None:
                    details["local_id"] = row[i_local]
                if i_status is not None and kind != "text":
                    details["status"] = row[i_status]
                if kind == "app":
                    kind = _app_kind_from_xml(content)
                readable = readable_content(kind, content)
                if kind != "text":
                    details["raw"] = content
                    details.update(readable.info)
                message = Message(
                    where.locator,
                    chat,
                    when,
                    direction,
                    kind,
                    readable.body,
                    content,
                    names,
                    author if direction == "out" or chat.endswith("@chatroom") else "",
                    author_name,
                    details,
                    error=readable.error,
                )
                if kind in MEDIA_FOLDERS:
                    found = (
                        self.media.by_name(kind, readable.media_names)
                        if readable.media_names
                        else None
                    )
                    if found is not None:
                        message.attachments.append(self.media.attachment(found))
                    else:
                        message.missing.append(
                            f"{kind} {readable.media_names[0]}" if readable.media_names else kind
                        )
                yield builder.capture(message)
        self.notes.records = records
        self.notes.add(
            ngettext(
                "chat {chat}: {n} row; times are exact (Unix seconds)",
                "chat {chat}: {n} rows; times are exact (Unix seconds)",
                records,
            ).format(chat=file_chat, n=records)
        )


# --- MemoTrace HTML ---------------------------------------------------------------------------

_HTML_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HTML_ARRAY = re.compile(r"\b(?:const|var|let)\s+chatMessages\s*=\s*\[")
_JS_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "'": "'", '"': '"', "\\": "\\", "/": "/"}


class _JsScanner:
    """Reads the object literals of MemoTrace's ``chatMessages`` array: keys, numbers and
    single- or double-quoted strings with backslash escapes. Nothing is evaluated."""

    _KEY = re.compile(r"\s*([A-Za-z_$][\w$]*)\s*:\s*")
    _NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
    _WORD = re.compile(r"[A-Za-z_$][\w$]*")

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos

    def _skip(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text):
            if text[pos] in " \t\r\n,":
                pos += 1
            elif text.startswith("/*", pos):
                end = text.find("*/", pos + 2)
                pos = len(text) if end < 0 else end + 2
            elif text.startswith("//", pos):
                end = text.find("\n", pos)
                pos = len(text) if end < 0 else end + 1
            else:
                break
        self.pos = pos

    def _string(self) -> str:
        text = self.text
        quote = text[self.pos]
        pos = self.pos + 1
        out: list[str] = []
        while pos < len(text):
            ch = text[pos]
            if ch == "\\" and pos + 1 < len(text):
                nxt = text[pos + 1]
                if nxt == "u" and re.match(r"[0-9a-fA-F]{4}", text[pos + 2 : pos + 6]):
                    out.append(chr(int(text[pos + 2 : pos + 6], 16)))
                    pos += 6
                    continue
                out.append(_JS_ESCAPES.get(nxt, nxt))
                pos += 2
                continue
            if ch == quote:
                self.pos = pos + 1
                return "".join(out)
            if ch == "\n":
                raise ValueError(_("a string runs past the end of its line"))
            out.append(ch)
            pos += 1
        raise ValueError(_("a string is not closed before the end of the file"))

    def objects(self) -> Iterator[tuple[int, dict[str, Any] | str]]:
        """``(offset, fields)`` per object, or ``(offset, reason)`` for one that cannot be read
        (the scanner then goes on at the next line that opens an object)."""
        text = self.text
        while True:
            self._skip()
            if self.pos >= len(text) or text[self.pos] == "]":
                return
            start = self.pos
            try:
                if text[self.pos] != "{":
                    raise ValueError(
                        _("unexpected {char} between messages").format(char=repr(text[self.pos]))
                    )
                self.pos += 1
                fields: dict[str, Any] = {}
                while True:
                    self._skip()
                    if self.pos >= len(text):
                        raise ValueError(_("the message is cut short (the file ends inside it)"))
                    if text[self.pos] == "}":
                        self.pos += 1
                        break
                    key = self._KEY.match(text, self.pos)
                    if key is None:
                        raise ValueError(_("a field without a name"))
                    self.pos = key.end()
                    ch = text[self.pos : self.pos + 1]
                    if ch in ("'", '"'):
                        fields[key.group(1)] = self._string()
                    elif number := self._NUMBER.match(text, self.pos):
                        self.pos = number.end()
                        fields[key.group(1)] = (
                            float(number.group()) if "." in number.group() else int(number.group())
                        )
                    elif word := self._WORD.match(text, self.pos):
                        self.pos = word.end()
                        fields[key.group(1)] = {"true": True, "false": False}.get(word.group())
                    else:
                        raise ValueError(
                            _("field {name} has no readable value").format(name=repr(key.group(1)))
                        )
                yield start, fields
            except ValueError as exc:
                yield start, str(exc)
                nxt = text.find("\n{", self.pos + 1)
                nxt2 = text.find("{ type", self.pos + 1)
                candidates = [p for p in (nxt, nxt2) if p >= 0]
                if not candidates:
                    return
                self.pos = min(candidates)


def _html_text(value: Any) -> str:
    """A MemoTrace HTML string back to the text written: it HTML-escaped it and turned line
    ends into ``<br>`` before JavaScript-escaping it."""
    text = str(value or "")
    text = re.sub(r"<br\s*/?>", "\n", text, flags=re.IGNORECASE)
    return html.unescape(text.replace("&emsp;", "\t"))


def _html_kind(fields: dict[str, Any]) -> str:
    type_ = fields.get("type")
    sub = fields.get("sub_type")
    if type_ == 0:
        return "system"
    if type_ == 49:
        return _APP_SUBTYPES.get(int(sub), "app") if isinstance(sub, int) else "app"
    return _WECHAT_TYPES.get(type_, "other") if isinstance(type_, int) else "other"


def _talker_beside(path: Path) -> str:
    """The TalkerId of a MemoTrace CSV in the page's folder, when there is one."""
    for candidate in sorted(path.parent.glob("*.csv")):
        try:
            with candidate.open("rb") as f:
                head = f.read(1 << 16)
        except OSError:
            continue
        if sniff(head, ".csv") != CSV_FORMAT:
            continue
        rows = csv.reader(io.StringIO(head.decode("utf-8-sig", "ignore"), newline=""))
        header = next(rows, [])
        if "TalkerId" not in header:
            continue
        column = header.index("TalkerId")
        for row in rows:
            if len(row) > column and row[column].strip():
                return row[column].strip()
    return ""


class MemoTraceHtmlReader:
    """A MemoTrace HTML chat page and the media folders beside it."""

    connector = HTML_FORMAT

    def __init__(
        self, path: Path, *, zone: str | None = None, notes: ReadNotes | None = None
    ) -> None:
        self.path = path
        self.zone = user_zone(zone)
        self.notes = notes or ReadNotes()
        self.notes.format = HTML_FORMAT
        raw = path.read_bytes()
        try:
            self.text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            self.text = raw.decode("gb18030", "replace")
            self.notes.add(_("the page is not UTF-8: it was read as GB18030 (GBK)"))
        array = _HTML_ARRAY.search(self.text)
        if array is None:
            raise SourceError(
                _(
                    "{name} is an HTML page without MemoTrace's chat messages in it "
                    "(const chatMessages = [...])"
                ).format(name=path.name)
            )
        self.start = array.end()
        title = _HTML_TITLE.search(self.text)
        self.chat_name = html.unescape(title.group(1)).strip() if title else _chat_name(path)
        self.chat_name = self.chat_name or _chat_name(path)
        self.media = MediaFolder(path.parent)
        self.expected = self.text.count("timestamp:", self.start)
        # The page has no wxid; MemoTrace writes the chat's CSV into the same folder, and its
        # TalkerId lets the page's messages and the CSV's be archived once.
        self.chat = _talker_beside(path) or self.chat_name
        if self.chat != self.chat_name:
            self.notes.add(
                _("the chat's wxid ({wxid}) was taken from the CSV beside the page").format(
                    wxid=self.chat
                )
            )

    def captures(self) -> Iterator[Capture | ImportProblem]:
        container = str(self.path)
        blob = blob_from_file(self.path, "text/html")
        yield Capture(SourceRef(HTML_FORMAT, container, "whole file"), original=blob, item=None)
        builder = MessageBuilder(HTML_FORMAT, container, blob.sha256)
        text = self.text
        line, last = 1, 0
        records = 0
        missing = 0
        for offset, fields in _JsScanner(text, self.start).objects():
            line += text.count("\n", last, offset)
            last = offset
            where = SourceRef(HTML_FORMAT, container, f"line {line}")
            records += 1
            if isinstance(fields, str):
                yield ImportProblem(
                    where, _("a message that cannot be read: {reason}").format(reason=fields)
                )
                continue
            stamp = fields.get("timestamp")
            if not isinstance(stamp, int) or stamp <= 0:
                yield ImportProblem(
                    where, _("the message has no timestamp ({value})").format(value=repr(stamp))
                )
                continue
            message = self._message(where.locator, fields, stamp)
            missing += len(message.missing)
            yield builder.capture(message)
        self.notes.records = records
        if missing:
            self.notes.add(
                ngettext(
                    "{n} media file the page names is not beside it (was its image/, voice/ or "
                    "file/ folder left behind?): listed as missing on its message",
                    "{n} media files the page names are not beside it (was its image/, voice/ or "
                    "file/ folder left behind?): listed as missing on their messages",
                    missing,
                ).format(n=missing)
            )

    def _message(self, locator: str, fields: dict[str, Any], stamp: int) -> Message:
        kind = _html_kind(fields)
        is_send = fields.get("is_send")
        direction: Direction = "out" if is_send == 1 else "in" if is_send == 0 else "unknown"
        when = datetime.fromtimestamp(stamp, UTC)
        when = when.astimezone(self.zone) if self.zone is not None else when
        value = _html_text(fields.get("text"))
        details: dict[str, Any] = {
            "type": fields.get("type"),
            "subtype": fields.get("sub_type", 0),
            "raw": {k: v for k, v in fields.items() if k != "avatar_path"},
        }
        media_path = ""
        body = value
        if kind in ("image", "voice", "video") or (kind == "file" and value):
            media_path = value
            body = PLACEHOLDER.get(kind, "[文件 file]")
            if kind == "voice" and fields.get("voice_to_text"):
                body += "\n" + _html_text(fields["voice_to_text"])
        if kind == "file":
            name = _html_text(fields.get("file_name"))
            size = _html_text(fields.get("file_size"))
            body = f"[文件 file] {name}" + (f" ({_size(size) or size})" if size else "")
        elif kind == "reply" and fields.get("refer_text"):
            details["quoted"] = _html_text(fields["refer_text"])
            body = f"{value}\n「{details['quoted']}」"
        elif kind == "transfer":
            amount = _html_text(fields.get("feedesc"))
            memo = _html_text(fields.get("pay_memo"))
            details.update({k: v for k, v in (("amount", amount), ("memo", memo)) if v})
            body = " ".join(p for p in ("[转账 transfer]", amount, memo) if p) + f" ({value})"
        elif kind == "link":
            title = _html_text(fields.get("title"))
            des = _html_text(fields.get("description"))
            url = _html_text(fields.get("url"))
            body = "\n".join(p for p in (f"[链接 link] {title}", des, url) if p.strip())
        elif kind == "call":
            body = f"{PLACEHOLDER['call']} {value}".strip()
        elif kind == "sticker" or (kind == "image" and re.match(r"^https?://", value)):
            kind, media_path, body = "sticker", "", PLACEHOLDER["sticker"]
        display = _html_text(fields.get("displayname"))
        message = Message(
            locator,
            self.chat,
            when,
            direction,
            kind,
            body,
            value if kind == "text" else body,
            (self.chat_name,),
            "",
            display if direction == "out" or fields.get("is_chatroom") else "",
            details,
            group=bool(fields.get("is_chatroom")),
        )
        if media_path:
            found = self.media.by_path(media_path)
            if found is not None:
                message.attachments.append(self.media.attachment(found))
            else:
                message.missing.append(media_path)
        return message


# --- ChatLab ---------------------------------------------------------------------------------

ME = {"我", "me", "myself", "自己"}


class ChatLabReader:
    """A ChatLab ``.json`` (one object) or ``.jsonl`` (a header line, members, messages)."""

    connector = CHATLAB_FORMAT

    def __init__(
        self, path: Path, *, zone: str | None = None, notes: ReadNotes | None = None
    ) -> None:
        self.path = path
        self.zone = user_zone(zone)
        self.notes = notes or ReadNotes()
        self.notes.format = CHATLAB_FORMAT
        self.lines = path.suffix.lower() == ".jsonl" or self._first_line_is_header()
        self.meta: dict[str, Any] = {}
        self.members: dict[str, dict[str, Any]] = {}
        self.document: dict[str, Any] | None = None
        if self.lines:
            self._read_header()
        else:
            try:
                document = json.loads(path.read_bytes().decode("utf-8-sig"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise SourceError(
                    _("{name} is not readable JSON: {error}").format(name=path.name, error=exc)
                ) from exc
            if not isinstance(document, dict) or "chatlab" not in document:
                raise SourceError(
                    _("{name} is JSON but not a ChatLab export (no 'chatlab')").format(
                        name=path.name
                    )
                )
            self.document = document
            self.meta = document.get("meta") or {}
            for member in document.get("members") or []:
                if isinstance(member, dict) and member.get("platformId"):
                    self.members[str(member["platformId"])] = member
        self.platform = str(self.meta.get("platform") or "wechat").lower()
        self.group = self.meta.get("type") == "group"
        self.owner = str(self.meta.get("ownerId") or "")
        if not self.owner:
            mine = [
                p for p, m in self.members.items() if str(m.get("accountName", "")).lower() in ME
            ]
            self.owner = mine[0] if len(mine) == 1 else ""
        if not self.owner:
            self.notes.add(
                _(
                    "the export does not say which member is you (meta.ownerId): directions are "
                    "unknown"
                )
            )
        name = str(self.meta.get("name") or path.stem)
        if self.group:
            self.chat = str(self.meta.get("groupId") or name)
            self.names: tuple[str, ...] = (name,)
        else:
            others = [p for p in self.members if p != self.owner]
            self.chat = others[0] if len(others) == 1 else name
            other = self.members.get(self.chat, {})
            self.names = tuple(
                str(n) for n in (*(other.get("aliases") or []), other.get("accountName"), name) if n
            )

    def _first_line_is_header(self) -> bool:
        with self.path.open("rb") as f:
            first = f.readline(1 << 16)
        return b'"_type"' in first and b'"header"' in first

    def _read_header(self) -> None:
        with self.path.open(encoding="utf-8-sig", errors="replace") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(record, dict):
                    continue
                if record.get("_type") == "header":
                    self.meta = record.get("meta") or {}
                elif record.get("_type") == "member" and record.get("platformId"):
                    self.members[str(record["platformId"])] = record
                elif record.get("_type") == "message":
                    break
                if number > 100_000:
                    break
        if not self.meta:
            raise SourceError(_("{name} has no ChatLab header line").format(name=self.path.name))

    def _records(self) -> Iterator[tuple[str, Any]]:
        if self.document is not None:
            for index, record in enumerate(self.document.get("messages") or [], start=1):
                yield f"message {index}", record
            return
        with self.path.open(encoding="utf-8-sig", errors="surrogateescape") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield f"line {number}", _("not a JSON line ({error})").format(error=exc.msg)
                    continue
                if isinstance(record, dict) and record.get("_type") in ("header", "member"):
                    continue
                yield f"line {number}", record

    def captures(self) -> Iterator[Capture | ImportProblem]:
        container = str(self.path)
        media = "application/x-ndjson" if self.lines else "application/json"
        blob = blob_from_file(self.path, media)
        yield Capture(SourceRef(CHATLAB_FORMAT, container, "whole file"), original=blob, item=None)
        builder = MessageBuilder(CHATLAB_FORMAT, container, blob.sha256)
        records = 0
        for locator, record in self._records():
            where = SourceRef(CHATLAB_FORMAT, container, locator)
            records += 1
            if isinstance(record, str):
                yield ImportProblem(where, record)
                continue
            if not isinstance(record, dict):
                yield ImportProblem(where, _("a message that is not a JSON object"))
                continue
            stamp = record.get("timestamp")
            if not isinstance(stamp, int | float) or stamp <= 0:
                yield ImportProblem(
                    where,
                    _("the message has no Unix timestamp ({value})").format(value=repr(stamp)),
                )
                continue
            yield builder.capture(self._message(locator, record, int(stamp)))
        self.notes.records = records

    def _message(self, locator: str, record: dict[str, Any], stamp: int) -> Message:
        sender = str(record.get("sender") or "")
        type_ = record.get("type")
        kind = _CHATLAB_TYPES.get(type_, "other") if isinstance(type_, int) else "other"
        content = record.get("content")
        text = str(content) if content is not None else ""
        body = text if kind in ("text", "reply", "system") or text else PLACEHOLDER.get(kind, "")
        direction: Direction = (
            "unknown" if not self.owner else "out" if sender == self.owner else "in"
        )
        when = datetime.fromtimestamp(stamp, UTC)
        when = when.astimezone(self.zone) if self.zone is not None else when
        name = str(record.get("groupNickname") or record.get("accountName") or "")
        details: dict[str, Any] = {"chatlab_type": type_, "platform": self.platform}
        if record.get("platformMessageId"):
            details["message_id"] = str(record["platformMessageId"])
        if record.get("replyToMessageId"):
            details["reply_to"] = str(record["replyToMessageId"])
        return Message(
            locator,
            self.chat,
            when,
            direction,
            kind,
            body,
            text,
            self.names,
            sender if (direction == "out" or self.group) else "",
            name if (direction == "out" or self.group) else "",
            details,
        )


def wechat_exports(folder: Path) -> list[Path]:
    """The WeChat exports in a folder and below it (MemoTrace's ``聊天记录`` holds one folder
    per chat), in name order; media folders are not searched for exports."""
    found: list[Path] = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in (".csv", ".html", ".htm", ".json", ".jsonl"):
            continue
        if not path.is_file() or set(path.relative_to(folder).parts[:-1]) & _MEDIA_NAMES:
            continue
        try:
            with path.open("rb") as f:
                head = f.read(8192)
        except OSError:
            continue
        suffix = path.suffix.lower()
        if sniff(head, suffix) or (suffix in (".html", ".htm") and is_memotrace_page(path)):
            found.append(path)
    return found


_MEDIA_NAMES = {name for names in MEDIA_FOLDERS.values() for name in names} | {"avatar", "emoji"}


#: How far into an HTML page the ``chatMessages`` array is looked for: MemoTrace inlines its
#: style sheet and scripts before it.
PAGE_SCAN = 4 << 20


def is_memotrace_page(path: Path) -> bool:
    """True when an HTML file holds MemoTrace's ``chatMessages`` array (read in 1 MB steps)."""
    marker = b"chatMessages"
    tail = b""
    try:
        with path.open("rb") as f:
            for _step in range(PAGE_SCAN >> 20):
                block = f.read(1 << 20)
                if not block:
                    return False
                if marker in tail + block:
                    return True
                tail = block[-len(marker) :]
    except OSError:
        return False
    return False


def sniff(head: bytes, suffix: str) -> str | None:
    """The WeChat layout a file's first bytes show, or None (used by :mod:`.detect`)."""
    text = head.decode("utf-8", "ignore").lstrip("\ufeff \t\r\n")
    first = text.split("\n", 1)[0]
    names = {c.strip().strip('"') for c in first.split(",")}
    if len(names & set(CSV_COLUMNS + CSV_EXTRA)) >= 4 and {"CreateTime", "StrContent"} & names:
        return CSV_FORMAT
    if "chatMessages" in text and ("<html" in text[:4000].lower() or suffix in (".html", ".htm")):
        return HTML_FORMAT
    if text.startswith("{") and '"chatlab"' in text[:4000]:
        return CHATLAB_FORMAT
    if '"_type"' in first and '"header"' in first and '"chatlab"' in first:
        return CHATLAB_FORMAT
    return None


__all__ = [
    "CHATLAB_FORMAT",
    "CSV_FORMAT",
    "HTML_FORMAT",
    "ChatLabReader",
    "MemoTraceCsvReader",
    "MemoTraceHtmlReader",
    "readable_content",
    "sniff",
    "wechat_exports",
]
