"""Decoding text whose declared charset cannot be trusted.

Mail from Chinese, Korean and Japanese providers routinely labels text with a charset smaller
than the one it was written in: "gb2312" text holds GBK or GB18030 characters, "iso-8859-1"
text holds Windows-1252 quotes, "ks_c_5601-1987" is really CP949. Decoding with the label then
fails or loses characters. We map each label to its superset (a superset decodes every byte
sequence the label does, identically) and, when even that fails, detect the charset from the
bytes with charset-normalizer and say that we did.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

SUPERSETS = {
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "csgb2312": "gb18030",
    "hz-gb-2312": "hz",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "ksc5601": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "utf8": "utf-8",
}


@dataclass(frozen=True)
class Decoded:
    """Text and how it was obtained; ``note`` is set when we did not simply use the label."""

    text: str
    charset: str
    note: str | None = None


def codec_for(label: str | None) -> str | None:
    """The Python codec we decode a declared label with, or None when the label is unknown."""
    if not label:
        return None
    label = label.strip().strip('"').lower()
    label = SUPERSETS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def detect(data: bytes) -> str | None:
    """Best guess of the charset of ``data`` (None when nothing fits)."""
    # Loaded at the first text that needs it: mail whose label (or UTF-8) decodes it, which
    # is nearly all mail, never does, and every command start would pay for it.
    from charset_normalizer import from_bytes

    best = from_bytes(data[:65536]).best()
    return best.encoding if best is not None else None


def decode_text(data: bytes, declared: str | None) -> Decoded:
    """Decode ``data`` as well as can be done; never raises.

    Order: ASCII as is; the declared label's superset; UTF-8; detection; finally the declared
    (or UTF-8) codec with replacement characters, noted as lossy.
    """
    if not data:
        return Decoded("", declared or "ascii")
    if data.isascii():
        return Decoded(data.decode("ascii"), "ascii")
    codec = codec_for(declared)
    if codec is not None:
        try:
            return Decoded(data.decode(codec), codec)
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        note = None if codec in (None, "utf-8") else f"declared {declared}, decoded as UTF-8"
        return Decoded(text, "utf-8", note)
    guess = detect(data)
    if guess:
        try:
            text = data.decode(guess)
        except (UnicodeDecodeError, LookupError):
            pass
        else:
            return Decoded(text, guess, f"declared {declared or 'nothing'}, detected {guess}")
    fallback = codec or "utf-8"
    return Decoded(
        data.decode(fallback, errors="replace"),
        fallback,
        f"declared {declared or 'nothing'}; undecodable bytes replaced",
    )
