"""WhatsApp chat exports (``WhatsApp Chat with X.txt``, the iOS zip with ``_chat.txt``) and Signal
text exports (``[2019-12-24, 12:23] Name: text``, as written by the common export tools).

Design:

* One line pattern covers the locales seen in the wild: ``01/02/24, 13:45 - Name: text``
  (Android), ``[01/02/2024, 13:45:09] Name: text`` (iOS), ``2024/02/01, 13:45``, dots as date
  separators, ``06/03/2024 à 14:21``, 12-hour clocks (``1:45 PM``, ``1:45 p. m.``, with a
  narrow no-break space, and Chinese ``2024/3/6 下午2:21``), and Signal's ``[2024-02-01, 13:45]``.
* **Day/month order is inferred from the whole file**, never from one line: an order is possible
  only if every date is valid in it, and of the possible ones the one that keeps the chat in time
  order wins (a chat export is chronological). A tie falls back to the region (US: month first).
* Lines that do not start with a timestamp continue the previous message (joined with a newline,
  as the sender wrote them). Lines with a timestamp but no ``Name:`` are system lines ("X created
  group", "Messages and calls are end-to-end encrypted") and are kept as items flagged
  ``system``.
* Exports carry wall-clock times without a zone; they are read in the zone given (``--tz`` /
  ``EVIDENCE_TZ``, else this computer's), and the item records ``details["local_time"]`` as
  written and the flag ``zone-assumed``.
* Attachments named in the text (``IMG-…jpg (file attached)``, ``<attached: 0000-PHOTO-….jpg>``)
  are taken from the zip or the folder next to the text file when they are there.
* The natural key is the chat, the minute, the author, the text and how many identical messages
  came before it in that minute, so that a newer export of the same chat adds only new lines.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...errors import SourceError, UsageError
from ...hashing import blob_from_file
from ...i18n import _
from ...model import Attachment, Capture, ImportProblem, Item, SourceRef
from ...people import default_region, normalize_phone
from .common import ReadNotes, Spool, guess_media_type, message_key, safe_filename

LINE = re.compile(
    r"^[\u200e\u200f]?\[?(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{1,4})[,.]?"
    r"(?:\s+(?:à|um|alle|a las|om|kl\.))?\s+"
    r"(?P<pre>上午|下午|凌晨|早上|中午|晚上)?\s*"
    r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)"
    r"(?:\s*(?P<ampm>[aApP]\.?\s?[mM]\.?|上午|下午))?\]?(?:\s+-\s+|\s+)"
    r"(?P<rest>.*)$"
)
AUTHOR = re.compile(r"^(?P<name>[^:]{1,100}?):(?:\s|$)?(?P<text>.*)$", re.DOTALL)
# System lines that contain a colon ("X changed the subject to: Y") would otherwise read as
# "author: text"; only such phrases are needed here (a line without a colon is system anyway).
SYSTEM = re.compile(
    r"end-to-end encrypted|created group|created this group|changed the subject|changed this "
    r"group's|changed the group|security code|changed their phone number|now an admin|"
    r"端到端加密|创建了群组|更改了群组|修改了群",
    re.IGNORECASE,
)
ATTACHED = re.compile(
    r"<attached:\s*(?P<ios>[^>]+)>|(?P<android>[\w\-. ]+\.\w{2,5}) \((?:file attached|"
    r"archivo adjunto|fichier joint|Datei angehängt|文件已附上)\)"
)
ME = {"you", "me", "我", "我自己"}


def user_zone(name: str | None = None) -> tzinfo | None:
    """The zone a chat's wall-clock times are read in: ``name``, ``EVIDENCE_TZ`` or local."""
    name = name or os.environ.get("EVIDENCE_TZ")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(
                _("unknown time zone {name}: use a name like Asia/Shanghai").format(name=repr(name))
            ) from None
    return datetime.now().astimezone().tzinfo  # noqa: DTZ005 - the computer's own zone


@dataclass
class _Message:
    line: int
    date: str
    time: str
    ampm: str | None
    rest: str
    more: list[str] = field(default_factory=list)


def _parts(date: str) -> tuple[int, int, int]:
    a, b, c = (int(p) for p in re.split(r"[./-]", date))
    return a, b, c


def _year(value: int) -> int:
    return value + 2000 if value < 100 else value


def _build(order: str, date: str) -> tuple[int, int, int] | None:
    a, b, c = _parts(date)
    if order == "ymd":
        y, m, d = a, b, c
    elif order == "dmy":
        d, m, y = a, b, c
    else:
        m, d, y = a, b, c
    y = _year(y)
    if not (1 <= m <= 12 and 1 <= d <= 31 and 1990 <= y <= 2100):
        return None
    return y, m, d


def _all_built(order: str, dates: list[str]) -> list[tuple[int, int, int]] | None:
    built: list[tuple[int, int, int]] = []
    for date in dates:
        ymd = _build(order, date)
        if ymd is None:
            return None
        built.append(ymd)
    return built


def _steps_back(built: list[tuple[int, int, int]]) -> int:
    """How often a date is earlier than the one before it (a chat export never goes back)."""
    return sum(1 for x, y in zip(built, built[1:], strict=False) if y < x)


def infer_order(dates: list[str], region: str | None) -> str:
    """``"ymd"``, ``"dmy"`` or ``"mdy"``: valid for every date and keeping them in order.

    >>> infer_order(["01/02/24", "13/02/24"], "US")
    'dmy'
    >>> infer_order(["01/02/24", "02/03/24"], "US")
    'mdy'
    """
    if dates and all(len(re.split(r"[./-]", d)[0]) == 4 for d in dates):
        return "ymd"
    best: list[tuple[int, int, str]] = []
    fallback = "mdy" if (region or default_region()).upper() in ("US", "PH", "CA") else "dmy"
    for rank, order in enumerate(("dmy", "mdy") if fallback == "dmy" else ("mdy", "dmy")):
        built = _all_built(order, dates)
        if built is not None:
            best.append((_steps_back(built), rank, order))
    if not best:
        raise SourceError(
            _("the dates in this chat export are in no day/month order that makes every date valid")
        )
    return min(best)[2]


def order_is_a_guess(dates: list[str]) -> bool:
    """True when day-first and month-first both fit every date equally well (a tie)."""
    if dates and all(len(re.split(r"[./-]", d)[0]) == 4 for d in dates):
        return False
    steps: list[int] = []
    for order in ("dmy", "mdy"):
        built = _all_built(order, dates)
        if built is None:
            return False
        steps.append(_steps_back(built))
    return steps[0] == steps[1]


def _clock(time: str, ampm: str | None) -> tuple[int, int, int]:
    pieces = [int(p) for p in re.split(r"[:.]", time)]
    hour, minute = pieces[0], pieces[1]
    second = pieces[2] if len(pieces) > 2 else 0
    if ampm:
        mark = re.sub(r"[\s.]", "", ampm).lower()
        pm = mark in ("pm", "下午", "晚上", "中午")
        hour = hour % 12 + (12 if pm else 0)
    return hour, minute, second


class ChatTextReader:
    """A WhatsApp or Signal text export (a ``.txt`` file, or a zip holding one)."""

    def __init__(
        self,
        path: Path,
        *,
        flavour: str = "whatsapp",
        region: str | None = None,
        zone: str | None = None,
        spool: Spool | None = None,
        notes: ReadNotes | None = None,
    ) -> None:
        self.path = path
        self.flavour = flavour
        self.connector = flavour
        self.region = region
        self.zone = user_zone(zone)
        self.spool = spool or Spool()
        self.notes = notes or ReadNotes()
        self.notes.format = flavour
        self._members: dict[str, str] = {}
        self.text, self.chat_name = self._load()
        self.messages = self._split(self.text)
        if not self.messages:
            raise SourceError(
                _(
                    "{name} has no line that starts like a chat message (e.g. '12/03/2024, 14:05 "
                    "- Name: text'); is it a WhatsApp or Signal export?"
                ).format(name=path.name)
            )
        self.order = infer_order([m.date for m in self.messages], region)

    def _load(self) -> tuple[str, str]:
        path = self.path
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                chat = next(
                    (n for n in names if n.rsplit("/", 1)[-1] == "_chat.txt"),
                    next((n for n in names if n.endswith(".txt")), None),
                )
                if chat is None:
                    raise SourceError(
                        _("{name} holds no chat text (_chat.txt)").format(name=path.name)
                    )
                self._members = {n.rsplit("/", 1)[-1]: n for n in names}
                raw = archive.read(chat)
            title = path.stem
        else:
            raw = path.read_bytes()
            title = path.stem
        text = raw.decode("utf-8-sig", "replace").replace("\r\n", "\n").replace("\r", "\n")
        match = re.match(r"^WhatsApp Chat (?:with |- )?(?P<name>.+)$", title)
        return text, (match.group("name").strip() if match else title)

    def _split(self, text: str) -> list[_Message]:
        messages: list[_Message] = []
        for number, line in enumerate(text.split("\n"), start=1):
            match = LINE.match(line)
            if match:
                messages.append(
                    _Message(
                        number,
                        match["date"],
                        match["time"],
                        match["ampm"] or match["pre"],
                        match["rest"].strip(),
                    )
                )
            elif messages:
                messages[-1].more.append(line)
        for message in messages:
            while message.more and not message.more[-1].strip():
                message.more.pop()
        return messages

    def _attachment(self, name: str) -> Attachment | None:
        name = name.strip()
        data: bytes | None = None
        if name in self._members:
            with zipfile.ZipFile(self.path) as archive:
                data = archive.read(self._members[name])
        else:
            beside = self.path.parent / safe_filename(name)
            if beside.is_file() and beside.parent == self.path.parent:
                data = beside.read_bytes()
        if data is None:
            return None
        media_type = guess_media_type(name)
        return Attachment(self.spool.blob(data, media_type), safe_filename(name), media_type)

    def _counterpart(self, authors: set[str]) -> str | None:
        """Who the borrower talks to: the author the chat is named after, or the only other one.

        An export names the chat after the other person ("WhatsApp Chat with LenderX"); in a
        chat of two, everyone else is the borrower.
        """
        chat = self.chat_name.lower()
        named = [a for a in authors if a.lower() == chat or chat and chat in a.lower()]
        if len(named) == 1:
            return named[0]
        others = [a for a in authors if a.lower() not in ME]
        if len(others) == 1 and len(authors) == 2:
            return others[0]
        return None

    def captures(self) -> Iterator[Capture | ImportProblem]:
        container = str(self.path)
        media = "application/zip" if self._members else "text/plain"
        blob = blob_from_file(self.path, media)
        yield Capture(SourceRef(self.connector, container, "whole file"), original=blob, item=None)
        chat_phone = normalize_phone(self.chat_name, self.region)
        thread = f"chat:{self.flavour}:{(chat_phone or self.chat_name).lower()}"
        authors = {
            match["name"].strip()
            for m in self.messages
            if (match := AUTHOR.match(m.rest)) and not SYSTEM.search(match["name"])
        }
        counterpart = self._counterpart(authors)
        seen: dict[tuple[str, str, str], int] = {}
        for message in self.messages:
            source = SourceRef(self.connector, container, f"line {message.line}")
            ymd = _build(self.order, message.date)
            if ymd is None:  # pragma: no cover - infer_order checked every date
                yield ImportProblem(
                    source, _("unreadable date {date}").format(date=repr(message.date))
                )
                continue
            local = datetime(*ymd, *_clock(message.time, message.ampm))  # noqa: DTZ001
            when = local.replace(tzinfo=self.zone)
            body_first = message.rest
            match = AUTHOR.match(body_first)
            system = match is None or bool(SYSTEM.search(match["name"]))
            author = "" if system or match is None else match["name"].strip()
            first = body_first if system or match is None else match["text"]
            body = "\n".join([first, *message.more])
            flags: list[str] = ["zone-assumed"]
            details: dict[str, Any] = {
                "local_time": local.isoformat(sep=" "),
                "chat": self.chat_name,
            }
            attachments: list[Attachment] = []
            for found in ATTACHED.finditer(body):
                name = found["ios"] or found["android"]
                attachment = self._attachment(name)
                if attachment is not None:
                    attachments.append(attachment)
                else:
                    details.setdefault("missing_attachments", []).append(name.strip())
            if "<Media omitted>" in body or "<媒体文件已省略>" in body:
                flags.append("media-omitted")
            direction = "unknown"
            if system:
                flags.append("system")
            elif author.lower() in ME:
                direction = "out"
            elif counterpart is not None:
                direction = (
                    "in" if author == counterpart else "out" if len(authors) == 2 else direction
                )
            author_phone = normalize_phone(author, self.region) if author else None
            sender = author_phone or author
            key_base = (message.date + message.time, author, body)
            seen[key_base] = seen.get(key_base, 0) + 1
            item = Item(
                kind="chat",
                occurred_at=when,
                direction=direction,  # type: ignore[arg-type]
                sender=sender,
                sender_name=author,
                title=f"{self.flavour.capitalize()} {self.chat_name}"
                + (f": {author}" if author else " (system)"),
                body=body,
                thread_key=thread,
                flags=tuple(flags),
                details=details,
            )
            key = message_key(
                "chat",
                thread,
                None,
                direction,
                body,
                extra=f"{local.isoformat()}|{author}|{seen[key_base]}",
            )
            yield Capture(
                source,
                original=None,
                item=item,
                attachments=tuple(attachments),
                dedup_key=key,
                container_sha256=blob.sha256,
            )
        self.notes.records = len(self.messages)
        self.notes.add(
            _("dates read as {order}, times in {zone} (as the phone showed them)").format(
                order="/".join(self.order.upper()), zone=self.zone
            )
        )
        if order_is_a_guess([m.date for m in self.messages]):
            self.notes.add(
                _(
                    "every date in this chat reads as day/month and as month/day: the order was "
                    "taken from the region; give --region (e.g. CN, GB or US) if the dates look "
                    "wrong"
                )
            )
