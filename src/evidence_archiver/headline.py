"""What an item is called in a list: the timeline, the bundle's index, the PDF's contents.

An email or a document has a subject or title that says what it is about, and keeps it. A
text or chat message has none: its stored title ("SMS from 乐贷 LenderX") only repeats who sent
it, which the list shows anyway, so a list of them all reads the same. Its headline is what
was said, cut to a readable length; a call's is its direction and length ("Outgoing call,
4 min 12 s" / "呼出电话，4分12秒"), then a voicemail's or recording's transcript if it has one.

Everything here makes one line: line breaks, tabs, control characters (a terminal escape, a
backspace) and the invisible characters that reorder text (bidi overrides) become one space,
so no text from an import can break a table or a terminal's layout. Lengths are display
widths: a Chinese character counts as two columns, as a terminal shows it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, Protocol

MESSAGE_KINDS = ("sms", "mms", "chat")
HEADLINE_WIDTH = 60
ELLIPSIS = "…"
# Reorder or hide text: U+200E/F marks, U+202A-E embeddings and overrides, U+2066-9 isolates.
_BIDI = frozenset({0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})
_JOINERS = frozenset({0x200C, 0x200D})  # zero-width (non-)joiner: part of the text around them


def _breaks_layout(c: str) -> bool:
    if ord(c) in _BIDI:
        return True
    category = unicodedata.category(c)
    # Cc: C0/C1 controls (incl. \n \r \t ESC), Zl/Zp: line/paragraph separators, Zs: spaces.
    return category in ("Cc", "Zl", "Zp", "Zs")


def one_line(text: str) -> str:
    """``text`` on one line: every run of spaces, line breaks and control characters is one
    space, none at either end."""
    if text.isascii() and text.isprintable():
        return " ".join(text.split())
    out: list[str] = []
    space = False
    for c in text:
        if _breaks_layout(c) or c.isspace():
            space = bool(out)
            continue
        if space:
            out.append(" ")
            space = False
        out.append(c)
    return "".join(out)


def width(c: str) -> int:
    """Columns a character takes in a terminal: 2 for wide (CJK) characters, 0 for marks."""
    if unicodedata.combining(c) or ord(c) in _JOINERS or 0xFE00 <= ord(c) <= 0xFE0F:
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def wordlike(c: str) -> bool:
    """A character inside a word that should not be split (Latin letters and digits, not CJK
    characters, between any two of which a line may break)."""
    return c.isalnum() and unicodedata.east_asian_width(c) not in ("W", "F")


def shorten(text: str, limit: int = HEADLINE_WIDTH) -> str:
    """``text`` on one line and at most ``limit`` columns wide, with an ellipsis when cut.

    The cut falls between words (at a space) or between two Chinese characters, never inside a
    word when a space is near, nor between a character and its accent or emoji modifier.
    """
    flat = one_line(text)
    if sum(map(width, flat)) <= limit:
        return flat
    room = limit - width(ELLIPSIS)
    used = 0
    end = 0
    for end, c in enumerate(flat):  # noqa: B007  (end is used after the loop)
        used += width(c)
        if used > room:
            break
    # Never split a character from the marks or joiners that follow it.
    while end > 0 and (width(flat[end]) == 0 or ord(flat[end - 1]) in _JOINERS):
        end -= 1
    if end > 0 and wordlike(flat[end - 1]) and wordlike(flat[end]):
        # Inside a word: go back to the last space or CJK character, if one is near enough.
        floor = end * 2 // 3
        for back in range(end - 1, floor, -1):
            if flat[back] == " " or not wordlike(flat[back]):
                end = back + 1 if flat[back] != " " else back
                break
    head = flat[:end].rstrip(" ,.;:!?-–—，。；：、！？")
    return (head or flat[:end]) + ELLIPSIS


# Call labels of the connectors (``details["call_type"]``), in English and Chinese.
_CALLS: dict[str, tuple[str, str]] = {
    "incoming": ("Incoming call", "呼入电话"),
    "outgoing": ("Outgoing call", "呼出电话"),
    "missed": ("Missed call", "未接来电"),
    "rejected": ("Rejected call", "已拒接来电"),
    "blocked": ("Blocked call", "已拦截来电"),
    "voicemail": ("Voicemail", "语音留言"),
    "recorded": ("Recorded call", "通话录音"),
    "answered on another device": ("Call answered on another device", "在其他设备接听的来电"),
}


def call_duration(details: Mapping[str, Any]) -> int | None:
    """The call's length in seconds, from whichever key its connector used."""
    for key in ("duration_s", "duration", "duration_seconds"):
        value = details.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return int(value)
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
    return None


def call_phrase(direction: str, details: Mapping[str, Any], lang: str = "en") -> str:
    """ "Outgoing call, 4 min 12 s", "呼出电话，4分12秒", or both joined by " / "."""
    label = str(details.get("call_type") or "").lower()
    if label not in _CALLS:
        label = {"in": "incoming", "out": "outgoing"}.get(direction, "")
    en, zh = _CALLS.get(label, ("Call", "通话"))
    seconds = call_duration(details)
    if seconds is not None and (seconds or label in ("incoming", "outgoing")):
        minutes, rest = divmod(seconds, 60)
        en += f", {minutes} min {rest} s" if minutes else f", {rest} s"
        zh += f"，{minutes}分{rest}秒" if minutes else f"，{rest}秒"
    if lang == "en":
        return en
    if lang == "zh":
        return zh
    return f"{en} / {zh}"


def headline(
    kind: str,
    title: str,
    body: str,
    *,
    direction: str = "",
    details: Mapping[str, Any] | None = None,
    lang: str = "en",
    limit: int = HEADLINE_WIDTH,
) -> str:
    """The item's name in a list (see the module's docstring); ``lang`` is en, zh or both."""
    if kind == "call":
        phrase = call_phrase(direction, details or {}, lang)
        text = one_line(body)
        if not text:
            return phrase
        return shorten(f"{phrase}: {text}", max(limit, sum(map(width, phrase)) + 12))
    if kind in MESSAGE_KINDS and one_line(body):
        return shorten(body, limit)
    # A subject or document title is kept whole (a list wraps it): it was written as a name.
    return one_line(title) or shorten(body, limit)


class Headlined(Protocol):
    """What :func:`item_headline` reads of an item (an ``ItemRecord``, for one)."""

    @property
    def kind(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def details(self) -> Mapping[str, Any]: ...


def item_headline(item: Headlined, lang: str = "en", limit: int = HEADLINE_WIDTH) -> str:
    """:func:`headline` of an archived item."""
    return headline(
        item.kind,
        item.title,
        item.body,
        direction=item.direction,
        details=item.details,
        lang=lang,
        limit=limit,
    )
