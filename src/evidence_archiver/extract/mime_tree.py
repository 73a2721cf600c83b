"""A fast path to the standard library's ``compat32`` parse of well-formed mail.

``BytesParser(policy=compat32)`` hands every line of a message, base64 attachments included,
through a Python generator, and compiles a regular expression for each multipart boundary it
meets (every message has its own). In an import that is most of the parsing time. For mail whose
structure is plain (header lines, a blank line, a body; multiparts whose boundaries open and
close) the same tree can be cut out of the text with ``str.find``, touching only header lines in
Python.

:func:`parse_mime` returns exactly the tree the standard parser builds for such mail: the same
header list, payload strings, preambles, epilogues and envelope line. As soon as it meets
anything the standard parser treats specially (a defect it would record, a ``message/*`` part, a
digest, doubled or missing boundary lines, a header line it would not take as one) it gives up
and returns None, and the caller uses the standard parser. So it can only ever be faster, never
different; ``tests/test_mime_tree.py`` holds it to that on every sample we have and on damaged
copies of them.
"""

from __future__ import annotations

import re
from email.message import Message

# The standard parser's header-line test (``email.feedparser.headerRE``) without its ``^``:
# ``match(text, pos)`` anchors at ``pos`` by itself.
_HEADER_LINE = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")
_EOL = re.compile(r"\r\n|\r|\n")
_MULTIPART_ENCODINGS = ("7bit", "8bit", "binary")


class _Unusual(Exception):
    """The message needs the standard parser's handling."""


def parse_mime(raw: bytes) -> Message | None:
    """The ``compat32`` Message tree of ``raw``, or None when the standard parser must do it."""
    # As BytesParser does: 8-bit bytes survive as surrogate escapes.
    text = raw.decode("ascii", "surrogateescape")
    try:
        return _entity(text, 0, len(text), in_multipart=False)
    except _Unusual:
        return None


def _chop_eol(text: str) -> str:
    """``text`` without one line ending at its end (RFC 2046: it belongs to the boundary)."""
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\r", "\n")):
        return text[:-1]
    return text


def _entity(text: str, start: int, end: int, *, in_multipart: bool) -> Message:
    """The message or body part in ``text[start:end]``; ``start`` is at a line start. In a
    multipart, the line ending before the next boundary belongs to the boundary (RFC 2046): it
    is cut from the part's body, or from its epilogue if it is a multipart itself."""
    msg = Message()  # the compat32 policy, as a Message has by default
    body = _headers(msg, text, start, end)
    media_type = msg.get_content_type()
    if media_type.startswith("message/"):
        raise _Unusual  # parsed as nested messages (or delivery-status blocks)
    if not media_type.startswith("multipart/"):
        payload = text[body:end]
        msg.set_payload(_chop_eol(payload) if in_multipart else payload)
        return msg
    boundary = msg.get_boundary()
    if (
        boundary is None
        or media_type == "multipart/digest"
        or str(msg.get("content-transfer-encoding", "8bit")).lower() not in _MULTIPART_ENCODINGS
    ):
        raise _Unusual
    _multipart(msg, text, body, end, "--" + boundary)
    if in_multipart:
        # An empty epilogue is no epilogue once its line ending went to the boundary.
        msg.epilogue = _chop_eol(msg.epilogue) if msg.epilogue else None
    return msg


def _headers(msg: Message, text: str, start: int, end: int) -> int:
    """Add the header lines at ``start`` to ``msg``; return where the body starts."""
    lines: list[tuple[int, int]] = []
    pos = start
    body = end
    while pos < end:
        found = _EOL.search(text, pos, end)
        line_end = found.end() if found else end
        if not _HEADER_LINE.match(text, pos, line_end):
            if text[pos] not in "\r\n":
                raise _Unusual  # a body with no blank line before it: a recorded defect
            body = line_end  # the blank line itself belongs to neither
            break
        lines.append((pos, line_end))
        pos = line_end
    field: tuple[int, int] | None = None  # the first line of the field being read
    for index, (line_start, line_end) in enumerate(lines):
        if text[line_start] in " \t":
            if field is None:
                raise _Unusual  # a continuation with nothing to continue: a recorded defect
            continue
        if field is not None:
            _add_header(msg, text, field, line_start)
            field = None
        if text.startswith("From ", line_start):
            if index != 0:
                raise _Unusual  # a misplaced envelope line, or the body's first line
            msg.set_unixfrom(_chop_eol(text[line_start:line_end]))
            continue
        if text[line_start] == ":":
            raise _Unusual  # no field name: a recorded defect
        field = (line_start, line_end)
    if field is not None:
        _add_header(msg, text, field, lines[-1][1])
    return body


def _add_header(msg: Message, text: str, first: tuple[int, int], end: int) -> None:
    # compat32's header_source_parse: the name as written, the value with the blanks after the
    # colon and the final line ending removed, continuation lines (up to ``end``) kept as they
    # are.
    start, first_end = first
    colon = text.index(":", start, first_end)
    value = text[colon + 1 : first_end].lstrip(" \t") + text[first_end:end]
    msg.set_raw(text[start:colon], value.rstrip("\r\n"))


def _multipart(msg: Message, text: str, start: int, end: int, separator: str) -> None:
    marks = _boundary_lines(text, start, end, separator)
    if not marks or marks[0][2] or not marks[-1][2]:
        raise _Unusual  # a start or close boundary is missing: recorded defects
    if marks[0][0] > start:
        msg.preamble = _chop_eol(text[start : marks[0][0]])
    for (_, part_start, _), (part_end, _, _) in zip(marks, marks[1:], strict=False):
        if part_start == part_end:
            raise _Unusual  # boundary lines in a row: the standard parser skips them its way
        msg.attach(_entity(text, part_start, part_end, in_multipart=True))
    msg.epilogue = text[marks[-1][1] : end]


def _boundary_lines(text: str, start: int, end: int, separator: str) -> list[tuple[int, int, bool]]:
    """(line start, line end, is the close boundary) of each boundary line up to and including
    the first close boundary; what follows that is the epilogue.

    A boundary line, as the standard parser matches it: at a line start, the separator, an
    optional ``--``, blanks, then the line's end."""
    marks: list[tuple[int, int, bool]] = []
    pos = start
    while True:
        found = text.find(separator, pos, end)
        if found < 0:
            return marks
        pos = found + 1
        if found > start and text[found - 1] not in "\r\n":
            continue
        after = found + len(separator)
        close = text.startswith("--", after, end)
        cursor = after + 2 if close else after
        while cursor < end and text[cursor] in " \t":
            cursor += 1
        if cursor == end:
            line_end = end
        elif text[cursor] == "\n":
            line_end = cursor + 1
        elif text[cursor] == "\r":
            line_end = cursor + (2 if text.startswith("\n", cursor + 1, end) else 1)
        else:
            continue
        marks.append((found, line_end, close))
        if close:
            return marks
        pos = line_end
