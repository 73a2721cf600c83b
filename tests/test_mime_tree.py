"""The fast MIME path builds exactly the standard parser's tree, or declines.

``parse_mime`` may return None (the standard parser then runs); when it returns a tree, that tree
must equal what ``BytesParser(policy=compat32)`` builds, part by part: headers as written,
payload strings byte for byte, preamble, epilogue, envelope line, defects, default type.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence_archiver.connectors.email import read_mbox
from evidence_archiver.extract.email import parse_email
from evidence_archiver.extract.mime_tree import parse_mime
from evidence_archiver.model import ImportProblem

PROJECT = Path(__file__).resolve().parents[1]
STANDARD = BytesParser(policy=compat32)


def tree(msg: Message) -> tuple[Any, ...]:
    """Everything the standard parser sets on a message, recursively."""
    payload = msg._payload  # type: ignore[attr-defined]  # the stored form, before any decoding
    return (
        type(msg),
        msg.get_unixfrom(),
        list(msg._headers),  # type: ignore[attr-defined]
        msg.preamble,
        msg.epilogue,
        [type(d) for d in msg.defects],
        msg.get_default_type(),
        msg.get_charset(),
        [tree(p) for p in payload] if isinstance(payload, list) else payload,
        sorted(vars(msg)),
    )


def check(raw: bytes) -> bool:
    """Assert the fast tree equals the standard one; True when the fast path took it."""
    fast = parse_mime(raw)
    if fast is None:
        return False
    assert tree(fast) == tree(STANDARD.parsebytes(raw))
    return True


def messages_in(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            data = path.read_bytes()
            yield str(path), data
            if path.suffix == ".mbox":
                for index, entry in enumerate(read_mbox(path)):
                    if not isinstance(entry, ImportProblem):
                        yield f"{path}#{index}", entry[0]


def damaged(raw: bytes, rng: random.Random) -> Iterator[bytes]:
    """Copies of a message as they arrive broken: cut short, line endings changed, a line
    dropped or doubled, a boundary line's dashes or blanks altered."""
    for _ in range(6):
        yield raw[: rng.randrange(len(raw) + 1)]
    yield raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    yield raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    lines = raw.splitlines(keepends=True)
    if lines:
        for _ in range(4):
            copy = list(lines)
            at = rng.randrange(len(copy))
            if rng.random() < 0.5:
                del copy[at]
            else:
                copy.insert(at, copy[at])
            yield b"".join(copy)
        marks = [i for i, line in enumerate(lines) if line.startswith(b"--")]
        for at in marks[:4]:
            for change in (b"--", b" ", b"\t", b"x"):
                copy = list(lines)
                copy[at] = copy[at].rstrip(b"\r\n") + change + b"\n"
                yield b"".join(copy)


def test_demo_mail_all_takes_the_fast_path() -> None:
    # The path must be real, not a decline every time: well-formed mail goes through it.
    demo = PROJECT / "fixtures" / "demo" / "mail"
    found = list(messages_in([demo / "lenderx.mbox", demo / "saved"]))
    assert len(found) >= 9
    for name, raw in found:
        if name.endswith(".mbox"):
            continue  # the whole mbox file is not one message
        assert check(raw), name


def test_fixture_mail_and_its_damaged_copies_agree() -> None:
    rng = random.Random(2046)
    taken = 0
    for _, raw in messages_in([PROJECT / "fixtures"]):
        for copy in [raw, *damaged(raw, rng)]:
            taken += check(copy)
    assert taken > 50


@pytest.mark.corpus
def test_corpus_mail_and_its_damaged_copies_agree(corpus: Path) -> None:
    rng = random.Random(1521)
    taken = seen = 0
    paths = [
        corpus / "email_mail-parser",
        corpus / "maildir_notmuch",
        corpus / "mbox_mbox-to-sqlite",
        corpus / "adversarial",
    ]
    for _, raw in messages_in(paths):
        for copy in [raw, *damaged(raw, rng)]:
            seen += 1
            taken += check(copy)
    # The corpus is mostly messy mail: plenty declines, but well-formed copies go fast.
    assert seen > 1000
    assert taken > 100


@pytest.mark.parametrize(
    "raw",
    [
        # a multipart whose close boundary never comes
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n",
        # no start boundary at all
        b"Content-Type: multipart/mixed; boundary=b\n\njust text\n",
        # a close boundary first
        b"Content-Type: multipart/mixed; boundary=b\n\n--b--\n",
        # boundary lines in a row
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\nx\n--b--\n",
        # a multipart with no boundary parameter
        b"Content-Type: multipart/mixed\n\n--b\n\nx\n--b--\n",
        # a multipart claiming base64
        b"Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\n"
        b"--b\n\nx\n--b--\n",
        # a forwarded message and a digest
        b"Content-Type: message/rfc822\n\nSubject: inner\n\nhi\n",
        b"Content-Type: multipart/digest; boundary=b\n\n--b\n\nSubject: x\n\ny\n--b--\n",
        # header defects: a continuation first, a nameless field, a body with no blank line
        b" folded\nSubject: x\n\nbody\n",
        b"Subject: x\n: nameless\n\nbody\n",
        b"Subject: x\nthis is the body\n",
        # an envelope line out of place
        b"Subject: x\nFrom someone\nTo: y\n\nbody\n",
        # a part with no headers and no blank line
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nbody\n--b--\n",
    ],
)
def test_what_the_standard_parser_treats_specially_is_left_to_it(raw: bytes) -> None:
    assert parse_mime(raw) is None
    assert parse_email(raw).item is not None  # and the standard parser still does the job


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"Subject: only headers",
        b"Subject: x\r\n\r\nCRLF body\r\n",
        b"Subject: x\rTo: y\r\rlone CR\r",
        b"From sender@example.com Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n",
        b"Subject:\n folded\n\tagain\nX-Raw: \xe5\xb1\x95\xe6\x9c\x9f\n\n\xff\xfe raw\n",
        # preamble, blanks after boundaries, an epilogue, nested multiparts with similar names
        b"Content-Type: multipart/mixed; boundary=b\n\npreamble\n--b \t\n"
        b"Content-Type: multipart/alternative; boundary=b1\n\n--b1\n\nplain, not --b1 a line\n"
        b"--b1\n\nsecond\n--b1--\nepi\n--b\n\nlast\n--b--\r\nafter\n",
        # boundary text inside a line, and a boundary line with something after it
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx --b\n--bx\n--b-- y\n--b--",
        # lone CR line endings throughout
        b"Content-Type: multipart/mixed; boundary=b\r\r--b\rSubject: x\r\rbody\r--b--\r",
        # a nested multipart whose epilogue is empty, then one whose epilogue is a blank line
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
        b"Content-Type: multipart/mixed; boundary=c\n\n--c\n\nx\n--c--\n--b\n"
        b"Content-Type: multipart/mixed; boundary=c\n\n--c\n\ny\n--c--\n\n--b--\n",
        # a close boundary at the very end with no line ending; an empty part body
        b'Content-Type: multipart/mixed; boundary="q q"\n\n--q q\n\n--q q--',
    ],
)
def test_plain_structures_take_the_fast_path_and_agree(raw: bytes) -> None:
    assert check(raw)


# -- generated structures -------------------------------------------------------------------------
# Mostly well-formed, so that the fast path really runs, with the traps it must see through
# mixed in: boundary-like text, boundaries that are prefixes of each other, blanks after
# boundary lines, folded and 8-bit headers, every kind of line ending, stray envelope lines.

_BOUNDARIES = ["b", "b1", "b-1", "==x==", "a b"]
_WORDS = ["text", "text", "text", "x --b", "--b1x", "--b-- y", "From x", "a: b", " ", "", "\xe5"]
_EOLS = ["\n", "\n", "\r\n", "\r\n", "\r"]


@st.composite
def _entity(draw: st.DrawFn, depth: int, outer: tuple[str, ...] = ()) -> str:
    eol = draw(st.sampled_from(_EOLS))
    headers = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(["Subject", "X-Note", "To"] * 3 + ["From "]))
        value = draw(st.sampled_from(["", "x", "=?utf-8?b?5bGV5pyf?=", "\xe5"]))
        fold = draw(st.sampled_from(["", "", eol + " more", eol + "\tmore"]))
        sep = "" if name.endswith(" ") else ":" + draw(st.sampled_from(["", " ", "\t"]))
        headers.append(name + sep + value + fold + eol)
    free = [b for b in _BOUNDARIES if b not in outer]
    if depth and free and draw(st.booleans()):
        boundary = draw(st.sampled_from(free))
        kind = draw(st.sampled_from(["mixed", "alternative", "related"]))
        headers.append(f'Content-Type: multipart/{kind}; boundary="{boundary}"{eol}')
        parts = draw(st.lists(_entity(depth - 1, (*outer, boundary)), min_size=1, max_size=3))
        body = draw(st.sampled_from(["", "", "preamble" + eol, eol]))
        for part in parts:
            blanks = draw(st.sampled_from(["", "", " ", "\t "]))
            body += f"--{boundary}{blanks}{eol}{part}{eol}"
        body += f"--{boundary}--" + draw(st.sampled_from(["", "", "", " ", "\t", "x"]))
        body += draw(st.sampled_from(["", eol, eol, eol + "epilogue" + eol]))
    else:
        body = "".join(
            draw(st.sampled_from(_WORDS)) + draw(st.sampled_from(_EOLS))
            for _ in range(draw(st.integers(0, 3)))
        )
    blank = draw(st.sampled_from([eol] * 7 + [""]))
    return "".join(headers) + blank + body


@settings(max_examples=500, deadline=None)
@given(_entity(3), st.data())
def test_generated_messages_agree(text: str, data: st.DataObject) -> None:
    raw = text.encode("utf-8")
    check(raw)
    cut = data.draw(st.integers(0, len(raw)))
    check(raw[:cut])


def test_generated_well_formed_messages_take_the_fast_path() -> None:
    rng = random.Random(7)
    for n in range(50):
        eol = rng.choice(["\n", "\r\n"])
        parts = "".join(
            f"--outer{eol}Content-Type: text/plain{eol}{eol}part {i} line{eol}--outer-ish{eol}"
            for i in range(rng.randrange(1, 4))
        )
        raw = (
            f"Subject: n{n}{eol}Content-Type: multipart/mixed; boundary=outer{eol}{eol}"
            f"{parts}--outer--{eol}"
        ).encode()
        assert check(raw)


def _parameter_answers(raw: bytes) -> Iterator[tuple[object, object]]:
    """For each part of the message: the file name and charset parse_email reads (skipping the
    parameter parsing where the header does not hold the parameter's name), and what the
    standard library's own lookups give."""
    from evidence_archiver.extract.email import _filename, _header_map, _mentions

    for part in STANDARD.parsebytes(raw).walk():
        headers = _header_map(part)
        try:
            expected_name = part.get_filename()
        except Exception:  # noqa: BLE001 - parse_email treats a broken one as no name
            expected_name = None
        found_name = _filename(part, headers)
        yield (found_name is None), (expected_name is None)
        charset = (
            part.get_param("charset") if _mentions(headers, "content-type", "charset") else None
        )
        yield charset, part.get_param("charset")


@pytest.mark.corpus
def test_parameters_skipped_by_their_absent_name_are_absent_for_the_standard_library(
    corpus: Path,
) -> None:
    rng = random.Random(7)
    roots = [PROJECT / "fixtures"]
    roots += [corpus / "email_mail-parser", corpus / "maildir_notmuch", corpus / "adversarial"]
    checked = 0
    for _name, raw in messages_in([r for r in roots if r.exists()]):
        for copy in (raw, *damaged(raw, rng)):
            for found, expected in _parameter_answers(copy):
                assert found == expected
                checked += 1
    assert checked > 1000
