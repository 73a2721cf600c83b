"""Media type from content, and what photos, screenshots and recordings tell about themselves.

* :func:`sniff_media_type` looks at the first bytes (``filetype``'s signatures, a PDF header
  anywhere in the first KiB, UTF-8 text) and falls back to the file name only when the content
  says nothing: a ``.pdf`` that is really a JPEG is stored as a JPEG.
* :func:`image_facts` reads size, format and the EXIF fields that matter as evidence: when the
  picture was taken (with its offset when the camera wrote one) and by which device.
* :func:`audio_facts` reads duration and format (mutagen; AMR by counting its frames), and
  :func:`recording_hint` the time and phone number that call-recorder apps put in file names
  (``Call recording +8613812345678_20240305_142210.m4a``, ``20240305142210_13812345678.amr``,
  and the layouts of Chinese phones: :mod:`.recordings`), so a recording can be matched with
  the call-log entry.
* :func:`thumbnail_png` makes the small picture a bundle shows (derived, rebuilt on demand).

Times without a zone in the file (EXIF without ``OffsetTimeOriginal``, file names) are kept as
local wall-clock text and never turned into an instant by guessing a zone.
"""

from __future__ import annotations

import io
import mimetypes
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import filetype  # type: ignore[import-untyped]

PDF_MEDIA_TYPE = "application/pdf"
OCTET_STREAM = "application/octet-stream"
THUMBNAIL_SIZE = 320

# EXIF tag numbers (EXIF 2.32): the main IFD and the Exif sub-IFD.
_EXIF_IFD = 0x8769
_MAKE, _MODEL, _SOFTWARE, _DATETIME = 271, 272, 305, 306
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL = 36867, 36881


def sniff_media_type(head: bytes, filename: str = "") -> str:
    """The media type of a file from its first bytes (``head``: at least 8 KiB if available)."""
    if b"%PDF-" in head[:1024]:
        return PDF_MEDIA_TYPE
    kind = filetype.guess(head) if head else None
    if kind is not None:
        return str(kind.mime)
    guessed, _ = mimetypes.guess_type(filename)
    if head and b"\x00" not in head[:8192]:
        try:
            head[:8192].decode("utf-8")
        except UnicodeDecodeError as exc:
            # A cut in the middle of a multi-byte character at the end is still text.
            if exc.start < len(head[:8192]) - 4:
                return guessed or OCTET_STREAM
        if guessed and (guessed.startswith("text/") or guessed.endswith(("json", "xml"))):
            return guessed
        return "text/plain"
    return guessed or OCTET_STREAM


def _exif_time(raw: Any) -> str | None:
    """EXIF ``2024:03:05 14:22:10`` -> ``2024-03-05T14:22:10`` (still local wall-clock time)."""
    if not isinstance(raw, str):
        return None
    try:
        stamp = datetime.strptime(raw.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007
    except ValueError:
        return None
    return stamp.isoformat()


def image_facts(data: bytes) -> dict[str, Any]:
    """``{"format": "PNG", "width": 750, "height": 1334, "taken_at": "2024-03-05T14:22:10+08:00",
    "taken_at_local": "2024-03-05T14:22:10", "device": "Apple iPhone 12", "software": ...}``.

    ``taken_at`` is present only when the file also records the offset.
    """
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        # Opening reads only the header, and EXIF sits in the header too: decode the pixels, or
        # a photo cut short after its EXIF would pass as readable.
        image.load()
        facts: dict[str, Any] = {
            "format": image.format or "",
            "width": image.width,
            "height": image.height,
        }
        exif = image.getexif()
    if not exif:
        return facts
    sub = exif.get_ifd(_EXIF_IFD)
    local = _exif_time(sub.get(_DATETIME_ORIGINAL)) or _exif_time(exif.get(_DATETIME))
    if local:
        facts["taken_at_local"] = local
        offset = sub.get(_OFFSET_TIME_ORIGINAL)
        if isinstance(offset, str) and re.fullmatch(r"[+-]\d{2}:\d{2}", offset.strip()):
            facts["taken_at"] = local + offset.strip()
    device = " ".join(
        str(v).strip().rstrip("\x00") for v in (exif.get(_MAKE), exif.get(_MODEL)) if v
    )
    if device:
        facts["device"] = device
    software = exif.get(_SOFTWARE)
    if software:
        facts["software"] = str(software).strip().rstrip("\x00")
    return facts


def image_as_png(data: bytes) -> bytes:
    """The image re-encoded as PNG (what Tesseract reads most reliably)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def thumbnail_png(data: bytes, size: int = THUMBNAIL_SIZE) -> bytes:
    """A PNG at most ``size`` pixels wide and high, for a bundle's pages."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((size, size))
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()


# Bytes per frame (table of contents byte included) by frame type, 20 ms a frame (RFC 4867 §5).
_AMR_FRAME = {
    b"#!AMR\n": (13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1),
    b"#!AMR-WB\n": (18, 24, 33, 37, 41, 47, 51, 59, 61, 6, 1, 1, 1, 1, 1, 1),
}


class DamagedAudio(ValueError):
    """The file says it is audio but its content is cut short or broken."""


def _amr_facts(data: bytes) -> dict[str, Any]:
    """Duration of an AMR file (mutagen does not read AMR), from its frames."""
    magic = next((m for m in _AMR_FRAME if data.startswith(m)), None)
    if magic is None:
        raise DamagedAudio("no AMR header")
    sizes = _AMR_FRAME[magic]
    position, frames = len(magic), 0
    while position < len(data):
        head = data[position]
        if head & 0x83:  # the padding bits of a frame header are always zero
            raise DamagedAudio(f"broken AMR frame at byte {position}")
        size = sizes[(head >> 3) & 0x0F]
        if position + size > len(data):
            raise DamagedAudio(f"the last AMR frame is cut short (file ends at byte {len(data)})")
        position += size
        frames += 1
    if not frames:
        raise DamagedAudio("an AMR header without any sound")
    return {
        "format": "AMR-WB" if magic == b"#!AMR-WB\n" else "AMR",
        "duration_seconds": round(frames * 0.02, 2),
        "sample_rate": 16000 if magic == b"#!AMR-WB\n" else 8000,
        "channels": 1,
    }


def audio_facts(source: bytes | Path, *, strict: bool = False) -> dict[str, Any]:
    """``{"format": "MP4", "duration_seconds": 125.3, "bitrate": 64000, ...}``, or ``{}``.

    Given a path, only the headers are read (a long recording is never loaded whole); AMR
    files (small: 1.6 KB a second) are read whole to count their frames. With ``strict``, a
    file that cannot be read as audio raises :class:`DamagedAudio` with the reason.
    """
    import mutagen

    head = source[:16] if isinstance(source, bytes) else _head(source, 16)
    if head.startswith(b"#!AMR"):
        data = source if isinstance(source, bytes) else source.read_bytes()
        try:
            return _amr_facts(data)
        except DamagedAudio:
            if strict:
                raise
            return {}
    try:
        audio = mutagen.File(io.BytesIO(source) if isinstance(source, bytes) else source)
    except Exception as exc:  # mutagen raises its own error types for damaged files
        if strict:
            raise DamagedAudio(str(exc) or type(exc).__name__) from exc
        return {}
    if audio is None:
        if strict:
            raise DamagedAudio("no audio stream found in it")
        return {}
    info = audio.info
    facts: dict[str, Any] = {"format": type(audio).__name__}
    length = getattr(info, "length", None)
    if length:
        facts["duration_seconds"] = round(float(length), 2)
    elif strict:
        raise DamagedAudio("it holds no sound (length 0)")
    for name in ("bitrate", "sample_rate", "channels"):
        value = getattr(info, name, None)
        if value:
            facts[name] = int(value)
    return facts


def _head(path: Path, size: int) -> bytes:
    with path.open("rb") as f:
        return f.read(size)


def recording_hint(filename: str) -> dict[str, str | int]:
    """Time and number in a call recording's file name (see :mod:`.recordings`).

    ``"Call recording +8613812345678_20240305_142210.m4a"`` ->
    ``{"local_time": "2024-03-05T14:22:10", "number": "+8613812345678"}``; a Chinese phone's
    name also gives its system and the contact's name.
    """
    from .recordings import parse_recording_name

    name = parse_recording_name(filename)
    return name.hint() if name is not None else {}
