"""CSV exports of texts and calls from other tools (iMazing, phone-manager apps, spreadsheets).

Design:

* Columns are matched by name, in English or Chinese, ignoring case, spaces and punctuation
  (``Message Date``, ``date``, ``日期`` all mean *date*). ``--map FIELD=COLUMN`` names a column
  the guess misses or gets wrong. The fields: ``date`` and ``text`` (needed), ``direction``,
  ``sender``, ``recipient``, ``number`` (the other side), ``name``, ``thread``, ``kind`` and
  ``duration``. A needed column that cannot be found is a clear error naming what was looked
  for and the columns the file has.
* BOM-safe; UTF-8 first, then GB18030 (what Excel on a Chinese Windows writes); the delimiter
  (``,`` ``;`` tab) is sniffed.
* Dates: ISO 8601 (with or without an offset), ``2024-03-06 14:02``, ``2024/3/6 14:02``,
  ``06/03/2024 14:02`` (day/month order inferred from the whole file as for chats), or epoch
  numbers. Times without an offset are read in the zone given and flagged ``zone-assumed``.
* Each row is an item with ``locator="row N"`` (the line of the file) and the same natural key
  as the other phone formats.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ...errors import SourceError, UsageError
from ...hashing import blob_from_file
from ...i18n import _
from ...model import Capture, Direction, ImportProblem, Item, ItemKind, SourceRef
from .chat_text import _build, infer_order, user_zone
from .common import ReadNotes, epoch_to_datetime, message_key, phone, thread_key

CONNECTOR = "csv"
FIELDS = (
    "date",
    "text",
    "direction",
    "sender",
    "recipient",
    "number",
    "name",
    "thread",
    "kind",
    "duration",
)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "date": (
        "date",
        "messagedate",
        "datetime",
        "time",
        "timestamp",
        "datesent",
        "sentdate",
        "senttime",
        "receiveddate",
        "calldate",
        "日期",
        "时间",
        "发送时间",
        "接收时间",
    ),
    "text": ("text", "message", "body", "content", "messagetext", "内容", "短信内容", "消息内容"),
    "direction": ("direction", "type", "sentreceived", "folder", "box", "类型", "方向"),
    "sender": ("sender", "from", "senderid", "fromnumber", "发送人", "发件人", "发送方"),
    "recipient": ("recipient", "to", "tonumber", "recipients", "接收人", "收件人", "接收方"),
    "number": ("number", "phone", "phonenumber", "address", "contactnumber", "号码", "电话号码"),
    "name": ("name", "contact", "contactname", "sendername", "联系人", "姓名"),
    "thread": ("thread", "chatsession", "conversation", "chat", "会话"),
    "kind": ("kind", "service", "messagetype", "种类"),
    "duration": ("duration", "durations", "durationseconds", "时长", "通话时长"),
}
INCOMING = {"in", "incoming", "received", "inbox", "1", "收到", "接收", "已接收", "来电", "呼入"}
OUTGOING = {"out", "outgoing", "sent", "outbox", "2", "发送", "已发送", "去电", "呼出"}
MISSED = {"missed", "未接", "未接来电", "3"}
_DATE_TIME = re.compile(
    r"^(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{1,4})[ T,]+(?P<time>\d{1,2}:\d{2}(?::\d{2})?)"
    r"(?:\.\d+)?\s*(?P<ampm>[AaPp][Mm])?$"
)


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-./()]+", "", header.strip().lower())


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


class CsvReader:
    """One CSV file of messages or calls."""

    def __init__(
        self,
        path: Path,
        *,
        region: str | None = None,
        column_map: Mapping[str, str] | None = None,
        zone: str | None = None,
        notes: ReadNotes | None = None,
    ) -> None:
        self.path = path
        self.region = region
        self.zone = user_zone(zone)
        self.notes = notes or ReadNotes()
        self.notes.format = CONNECTOR
        text = _decode(path.read_bytes())
        sample = text[:4096]
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        self.rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
        if not self.rows:
            raise SourceError(_("{name} is empty").format(name=path.name))
        self.header = [h.strip() for h in self.rows[0]]
        self.columns = self._match(column_map or {})
        dates = [self._cell(r, "date") for r in self.rows[1:]]
        self.order = infer_order(
            [m["date"] for d in dates if (m := _DATE_TIME.match(d))] or ["2000-01-01"], region
        )

    def _match(self, column_map: Mapping[str, str]) -> dict[str, int]:
        by_name = {_norm(h): i for i, h in enumerate(self.header)}
        columns: dict[str, int] = {}
        for field, column in column_map.items():
            if field not in FIELDS:
                raise UsageError(
                    _("--map {field}=…: unknown field; use one of {value}").format(
                        field=field, value=", ".join(FIELDS)
                    )
                )
            if column not in self.header and _norm(column) not in by_name:
                raise SourceError(
                    _(
                        "--map {field}={column}: {name} has no column {column2} (its columns: "
                        "{value})"
                    ).format(
                        field=field,
                        column=column,
                        name=self.path.name,
                        column2=repr(column),
                        value=", ".join(self.header),
                    )
                )
            columns[field] = (
                self.header.index(column) if column in self.header else by_name[_norm(column)]
            )
        for field in FIELDS:
            if field in columns:
                continue
            for synonym in SYNONYMS[field]:
                if synonym in by_name and by_name[synonym] not in columns.values():
                    columns[field] = by_name[synonym]
                    break
        for needed, what in (("date", "the time of each message"), ("text", "the message text")):
            if needed not in columns and not (needed == "text" and "duration" in columns):
                looked = ", ".join(SYNONYMS[needed][:6])
                raise SourceError(
                    _(
                        "{name} has no column for {what} (looked for {looked}…); name it with "
                        "--map {needed}=COLUMN. Its columns are: {value}"
                    ).format(
                        name=self.path.name,
                        what=what,
                        looked=looked,
                        needed=needed,
                        value=", ".join(self.header),
                    )
                )
        return columns

    def _cell(self, row: list[str], field: str) -> str:
        index = self.columns.get(field)
        if index is None or index >= len(row):
            return ""
        return row[index].strip()

    def _when(self, text: str) -> tuple[datetime | None, bool]:
        """``(moment, zone_assumed)``."""
        if not text:
            return None, False
        if re.fullmatch(r"\d{9,19}", text):
            return epoch_to_datetime(text), False
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            match = _DATE_TIME.match(text)
            if not match:
                return None, False
            ymd = _build(self.order, match["date"])
            if ymd is None:
                return None, False
            pieces = [int(p) for p in match["time"].split(":")]
            hour = pieces[0]
            if match["ampm"]:
                hour = hour % 12 + (12 if match["ampm"].lower() == "pm" else 0)
            moment = datetime(*ymd, hour, pieces[1], pieces[2] if len(pieces) > 2 else 0)  # noqa: DTZ001
        if moment.tzinfo is None:
            return moment.replace(tzinfo=self.zone), True
        return moment, False

    def captures(self) -> Iterator[Capture | ImportProblem]:
        container = str(self.path)
        blob = blob_from_file(self.path, "text/csv")
        yield Capture(SourceRef(CONNECTOR, container, "whole file"), original=blob, item=None)
        for number, row in enumerate(self.rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            source = SourceRef(CONNECTOR, container, f"row {number}")
            raw_date = self._cell(row, "date")
            when, assumed = self._when(raw_date)
            yield self._row(row, source, when, assumed, raw_date, blob.sha256)
            self.notes.records += 1
        used = ", ".join(f"{f}={self.header[i]}" for f, i in self.columns.items())
        self.notes.add(_("columns used: {columns}").format(columns=used))

    def _row(
        self,
        row: list[str],
        source: SourceRef,
        when: datetime | None,
        assumed: bool,
        raw_date: str,
        sha: str,
    ) -> Capture:
        body = self._cell(row, "text")
        mark = self._cell(row, "direction").lower()
        direction: Direction = (
            "in" if mark in INCOMING | MISSED else "out" if mark in OUTGOING else "unknown"
        )
        sender = phone(self._cell(row, "sender"), self.region)
        recipient = phone(self._cell(row, "recipient"), self.region)
        other = phone(self._cell(row, "number"), self.region)
        if direction == "unknown" and (sender or recipient) and not other:
            direction = "in" if sender else "out"
        counterparty = other or (sender if direction == "in" else recipient) or sender or recipient
        name = self._cell(row, "name")
        thread_name = self._cell(row, "thread")
        kind_text = self._cell(row, "kind").lower()
        duration_text = self._cell(row, "duration")
        kind: ItemKind = (
            "call"
            if "call" in kind_text or "通话" in kind_text or (duration_text and not body)
            else "chat"
            if kind_text in ("imessage", "whatsapp", "wechat", "微信")
            else "sms"
        )
        flags: list[str] = []
        details: dict[str, Any] = {"row": dict(zip(self.header, row, strict=False))}
        if assumed:
            flags.append("zone-assumed")
        if when is None:
            flags.append("no-date")
            details["date"] = raw_date
        if mark in MISSED:
            flags.append("missed")
        if duration_text.isdigit():
            details["duration_s"] = int(duration_text)
        who = name or counterparty or thread_name or "unknown"
        preposition = "to" if direction == "out" else "from"
        label = {"call": "Call", "chat": "Message", "sms": "SMS"}[kind]
        item = Item(
            kind=kind,
            occurred_at=when,
            direction=direction,
            sender=(sender or counterparty) if direction != "out" else sender,
            sender_name=name if direction != "out" else "",
            recipients=(recipient or counterparty,) if direction == "out" and counterparty else (),
            title=f"{label} {preposition} {who}",
            body=body,
            thread_key=thread_key(counterparty)
            if counterparty
            else (f"name:{thread_name.lower()}" if thread_name else None),
            flags=tuple(flags),
            details=details,
        )
        key = message_key(
            kind,
            counterparty or thread_name,
            when,
            direction,
            body,
            extra=duration_text if kind == "call" else ("" if when else raw_date),
        )
        return Capture(source, original=None, item=item, dedup_key=key, container_sha256=sha)
