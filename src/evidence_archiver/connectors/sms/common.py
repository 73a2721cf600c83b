"""Helpers shared by every phone export parser: times, numbers, natural keys, safe names.

Every parser turns its format into the same shapes, so that the same text message read from an
SMS Backup & Restore file and from an SMS Import/Export zip gets the same natural key
(:func:`message_key`) and is archived once. A key is built from what identifies a message on the
phone, never from where it sits in a file: the kind, the counterparty, the time, the direction and
a hash of the content.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, ClassVar

from ...hashing import blob_from_bytes, sha256_bytes
from ...model import Blob, Capture, Direction, ImportProblem, Item
from ...people import cn_service_number, normalize_phone

#: Media parts larger than this are written to a spool file, so that a batch of MMS with video
#: waiting to be stored does not sit in memory.
SPOOL_THRESHOLD = 256 * 1024

_UNSAFE_NAME = re.compile(r"[\x00-\x1f<>:\"/\\|?*]+")


def epoch_to_datetime(value: str | int | float | None) -> datetime | None:
    """An epoch time in seconds, milliseconds, microseconds or nanoseconds, told apart by size.

    Phones write milliseconds, but some MMS ``date_sent`` are seconds. ``0``, ``null``, empty
    and unreadable values give ``None`` (no time is invented).

    >>> epoch_to_datetime("1609459200000")
    datetime.datetime(2021, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> epoch_to_datetime("1609459200")
    datetime.datetime(2021, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number <= 0 or number != number:
        return None
    if number < 1e11:  # seconds until the year 5138
        seconds = number
    elif number < 1e14:  # milliseconds from 1973
        seconds = number / 1e3
    elif number < 1e17:
        seconds = number / 1e6
    else:
        seconds = number / 1e9
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def epoch_ms(moment: datetime | None) -> int | None:
    return None if moment is None else round(moment.timestamp() * 1000)


def clean(value: str | None) -> str:
    """An attribute as text, with the exporters' ``null`` placeholder turned into ``""``."""
    if value is None or value == "null":
        return ""
    return value


def phone(raw: str, region: str | None) -> str:
    """The number in E.164 when it is one (short codes keep their digits), else ``raw`` as is.

    Alphanumeric senders ("LenderX", "group_8@rcs.google.com") are kept as written, lower-cased
    only for comparison elsewhere.
    """
    raw = raw.strip()
    if not raw:
        return ""
    return normalize_phone(raw, region) or raw


def participants(raw: str, region: str | None) -> tuple[str, ...]:
    """Numbers of a group address as exporters write it (``+1555~+1666`` or ``a, b``)."""
    parts = re.split(r"[~,;]", raw)
    seen: dict[str, None] = {}
    for part in parts:
        number = phone(part, region)
        if number:
            seen[number] = None
    return tuple(seen)


def thread_key(counterparties: tuple[str, ...] | str) -> str | None:
    """A conversation is keyed by who is on the other side, whatever app exported it."""
    if isinstance(counterparties, str):
        counterparties = (counterparties,)
    people = sorted({c.lower() for c in counterparties if c})
    return "phone:" + ",".join(people) if people else None


def message_key(
    kind: str,
    counterparty: str,
    when: datetime | None,
    direction: str,
    content: str,
    extra: str = "",
) -> str:
    """The natural key of a message or call, the same whichever export it came from:
    ``kind@time|counterparty|direction|digest of the content``.

    The time comes first because an export lists its messages in time order: their keys then
    go in at the end of the archive's key index. Keyed by counterparty first, as archives made
    before hold them (``kind|counterparty|time|direction|digest``), a phone's messages went in
    all over that index, one place for each of the hundreds of numbers it talked to, so every
    transaction of an import rewrote most of the index's pages and a large backup imported ever
    more slowly (840 MB of the 2.3 GB written for a 205,000-message backup). Keys of that form
    are still recognised: see ``archive.ingest.older_key_forms``.

    >>> message_key("sms", "+8613800138000", None, "in", "hi")[:30]
    'sms@-|+8613800138000|in|51f5b6'
    """
    stamp = str(epoch_ms(when)) if when else "-"
    digest = sha256_bytes((content + "\x00" + extra).encode("utf-8", "surrogatepass"))[:24]
    return f"{kind}@{stamp}|{counterparty.lower()}|{direction}|{digest}"


def safe_filename(*candidates: str, fallback: str = "attachment") -> str:
    """A display name for a part, never a path: the last component of the first usable name."""
    for candidate in candidates:
        name = clean(candidate).strip()
        if not name:
            continue
        name = PureWindowsPath(PurePosixPath(name).name).name
        name = _UNSAFE_NAME.sub("_", name).strip(". ")
        if name:
            return name[:200]
    return fallback


@dataclass
class ReadNotes:
    """What a reader noticed that is not a failure: repairs, counts, the format it detected.

    The CLI prints these lines after the import summary.
    """

    format: str = ""
    lines: list[str] = field(default_factory=list)
    records: int = 0

    def add(self, line: str) -> None:
        self.lines.append(line)

    def merge(self, other: ReadNotes) -> None:
        """Take in what a reader in another process noticed."""
        self.format = other.format or self.format
        self.lines.extend(line for line in other.lines if line not in self.lines)
        self.records = other.records


class Spool:
    """A private folder for large media decoded from an export while it is being archived.

    A blob made by :meth:`blob` is either in memory (small) or a file here (large), so memory
    stays flat however much video a backup holds. The folder goes when the spool is closed,
    which the caller does after :meth:`Archive.ingest` has stored everything.
    """

    def __init__(self, folder: Path | None = None) -> None:
        # A spool given a folder writes there but leaves the folder to its owner: a reader in a
        # child process spools into the parent's folder, which outlives the child.
        self._dir: Path | None = folder
        self._owned = folder is None
        self._count = 0

    def folder(self) -> Path:
        """The spool's folder, made now if it was not yet needed."""
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="evidence-phone-"))
        return self._dir

    def blob(self, data: bytes, media_type: str) -> Blob:
        if len(data) < SPOOL_THRESHOLD:
            return blob_from_bytes(data, media_type)
        self._count += 1
        path = self.folder() / f"part-{self._count}"
        path.write_bytes(data)
        return Blob(sha256=sha256_bytes(data), size=len(data), media_type=media_type, path=path)

    def close(self) -> None:
        if self._dir is not None and self._owned:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def guess_media_type(name: str, default: str = "application/octet-stream") -> str:
    import mimetypes

    guessed, _ = mimetypes.guess_type(name)
    return guessed or default


_READABLE_FORMATS = ("%b %d, %Y %I:%M:%S %p", "%b %d, %Y %H:%M:%S", "%d %b %Y %H:%M:%S")
_READABLE_ZH = re.compile(
    r"(\d{4})年(\d{1,2})月(\d{1,2})日\s*(上午|下午)?\s*(\d{1,2}):(\d{2})(?::(\d{2}))?"
)


_READABLE_EN = re.compile(
    r"^([A-Z][a-z]{2}) (\d{1,2}), (\d{4}),? (\d{1,2}):(\d{2}):(\d{2})(?:\s?([AP]M))?$"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}


def _parse_readable(text: str) -> datetime | None:
    # The app's usual English form, read without strptime (ten times faster, it runs per record).
    fast = _READABLE_EN.match(text)
    if fast and fast.group(1) in _MONTHS:
        mon, day, year, hour, minute, second, half = fast.groups()
        h = int(hour) % 12 + (12 if half == "PM" else 0) if half else int(hour)
        try:
            return datetime(int(year), _MONTHS[mon], int(day), h, int(minute), int(second))  # noqa: DTZ001
        except ValueError:
            return None
    match = _READABLE_ZH.search(text)
    if match:
        year, month, day, half, hour, minute, second = match.groups()
        h = int(hour) % 12 + (12 if half == "下午" else 0) if half else int(hour)
        return datetime(int(year), int(month), int(day), h, int(minute), int(second or 0))  # noqa: DTZ001
    for fmt in _READABLE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt)  # noqa: DTZ007 - a wall-clock reading
        except ValueError:
            continue
    return None


def with_phone_zone(moment: datetime | None, readable: str) -> datetime | None:
    """``moment`` (UTC) shown in the phone's zone, found from the wall-clock time it printed.

    Backup apps write the epoch time and a ``readable_date`` in the phone's local time; their
    difference is the phone's UTC offset then (rounded to 15 minutes; ignored beyond ±14 h).

    >>> with_phone_zone(epoch_to_datetime(1709704960000), "Mar 6, 2024 2:02:40 PM").isoformat()
    '2024-03-06T14:02:40+08:00'
    """
    if moment is None or not readable:
        return moment
    local = _parse_readable(readable)
    if local is None:
        return moment
    delta = local - moment.replace(tzinfo=None)
    quarter = round(delta.total_seconds() / 900) * 900
    if abs(quarter) > 14 * 3600 or abs(delta.total_seconds() - quarter) > 120:
        return moment
    return moment.astimezone(timezone(timedelta(seconds=quarter)))


class SpooledReader:
    """What the readers that decode media share: the export's path, the region for phone
    numbers written without a country code, a spool for large media and the notes. A subclass
    names its connector and adds its own state after ``super().__init__``."""

    connector: ClassVar[str]

    def __init__(
        self,
        path: Path,
        *,
        region: str | None = None,
        spool: Spool | None = None,
        notes: ReadNotes | None = None,
    ) -> None:
        self.path = path
        self.region = region
        self.spool = spool or Spool()
        self.notes = notes or ReadNotes()
        self.notes.format = self.connector


def call_item(
    *,
    number: str,
    raw: str,
    name: str,
    presentation: str,
    direction: Direction,
    label: str,
    when: datetime | None,
    duration: int,
    flags: tuple[str, ...],
    details: dict[str, Any],
) -> tuple[Item, str]:
    """A call-log entry as an Item, with its natural key: the same title, parties and key
    whichever export it came from, so one call in two exports is archived once."""
    who = name or raw or presentation or "unknown number"
    minutes, seconds = divmod(duration, 60)
    title = f"{label.capitalize()} call {'to' if direction == 'out' else 'from'} {who}"
    if label in ("incoming", "outgoing") or duration:
        title += f" ({minutes} min {seconds} s)" if minutes else f" ({seconds} s)"
    item = Item(
        kind="call",
        occurred_at=when,
        direction=direction,
        sender=number if direction != "out" else "",
        sender_name=name if direction != "out" else "",
        recipients=(number,) if direction == "out" and number else (),
        title=title,
        thread_key=thread_key(number),
        flags=flags,
        details=details,
    )
    key = message_key("call", number or presentation, when, direction, label, str(duration))
    return item, key


# A Chinese commercial text must carry its sender's signature in 【】 at its start or end
# (MIIT rules for SMS ports); some gateways write it with [] or 〖〗 instead.
_BRACKETED = r"(?:【([^【】\n]{1,24})】|\[([^\[\]\n]{1,24})\]|〖([^〖〗\n]{1,24})〗)"
_SIGNATURE_HEAD = re.compile(r"^\s*" + _BRACKETED)
_SIGNATURE_TAIL = re.compile(_BRACKETED + r"\s*$")
# What apps write in brackets that is no one's name.
_NOT_A_SIGNATURE = frozenset({"图片", "表情", "语音", "视频", "链接", "文件", "media omitted"})


def sms_signature(text: str) -> str | None:
    """The sender's name a Chinese service text carries, e.g. ``乐贷`` in ``【乐贷】您的借款…``.

    >>> sms_signature("【乐贷】您的借款已逾期"), sms_signature("验证码 1234。[乐贷]")
    ('乐贷', '乐贷')
    >>> sms_signature("[图片]") is None
    True
    """
    for pattern in (_SIGNATURE_HEAD, _SIGNATURE_TAIL):
        match = pattern.search(text)
        if match:
            name = next(g for g in match.groups() if g is not None).strip()
            if name and not name.isdigit() and name.lower() not in _NOT_A_SIGNATURE:
                return name
    return None


def with_signatures(
    captures: Iterator[Capture | ImportProblem],
) -> Iterator[Capture | ImportProblem]:
    """Texts from a service number or SMS gateway named by the signature they carry.

    The signature becomes the counterparty's display name (``sender_name``) when the phone
    had no contact name for the number, and is kept as ``details["sms_signature"]``; the
    text itself is never changed.
    """
    for capture in captures:
        item = capture.item if isinstance(capture, Capture) else None
        if (
            item is None
            or item.direction != "in"
            or item.kind not in ("sms", "mms")
            # Stored service numbers are bare digits; mobiles and others start with "+".
            or not item.sender[:1].isdigit()
            or not cn_service_number(item.sender, "CN")
        ):
            yield capture
            continue
        name = sms_signature(item.body)
        if name is None:
            yield capture
            continue
        details = {**item.details, "sms_signature": name}
        assert isinstance(capture, Capture)
        yield replace(
            capture, item=replace(item, sender_name=item.sender_name or name, details=details)
        )
