"""Which phone export a path is, judged from its content first and its name second.

Only the first few KiB of a file are read (a backup can be hundreds of MB). Rules, in order:

* a folder: Google Voice Takeout when it holds ``Calls/*.html`` (at any depth up to
  ``Takeout/Voice/Calls``), SMS Import/Export when it holds ``messages.ndjson``;
* a zip: by its members (``messages.ndjson`` / ``calls.ndjson``, ``_chat.txt`` or a WhatsApp
  ``.txt``, ``Voice/Calls/``);
* XML (any file starting with ``<``, after a BOM or blank space, or named ``.xml``): SMS Backup &
  Restore, whose reader refuses hostile or foreign XML with a clear message;
* HTML: a Google Voice page; ``.ndjson`` / JSON: SMS Import/Export; ``.csv``: CSV;
* WeChat, before the generic rules: a MemoTrace CSV by its header (``localId,TalkerId,…``), a
  MemoTrace HTML page by its ``chatMessages`` array, a ChatLab JSON/JSONL by its header;
* text: WhatsApp when a line looks like ``12/03/2024, 14:05 - Name: text`` or
  ``[12/03/2024, 14:05:09] Name: text``, Signal when it looks like ``[2024-03-12 14:05] Name:``.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ...errors import SourceError
from ...i18n import _
from .chat_text import LINE as CHAT_LINE
from .wechat import is_memotrace_page
from .wechat import sniff as sniff_wechat

FORMATS = (
    "sms-backup-restore",
    "sms-import-export",
    "google-voice",
    "whatsapp",
    "signal",
    "csv",
    "wechat-csv",
    "wechat-html",
    "chatlab",
)
#: The WeChat layouts (``evidence import wechat`` accepts only these).
WECHAT_FORMATS = ("wechat-csv", "wechat-html", "chatlab")

SNIFF = 8192

SIGNAL_LINE = re.compile(r"^\[\d{4}-\d{2}-\d{2},? \d{2}:\d{2}(?::\d{2})?\] [^:\n]+:", re.MULTILINE)


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(SNIFF)
    except OSError as exc:
        raise SourceError(
            _("cannot read {path}: {value}").format(path=path, value=exc.strerror or exc)
        ) from exc


def _text_format(text: str) -> str | None:
    if SIGNAL_LINE.search(text):
        return "signal"
    for line in text.splitlines()[:50]:
        match = CHAT_LINE.match(line)
        if match and ":" in match["rest"]:
            return "whatsapp"
    return None


def _zip_format(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            for name in names:
                base = name.rsplit("/", 1)[-1]
                if base in ("messages.ndjson", "calls.ndjson") or base.endswith(".ndjson"):
                    return "sms-import-export"
            for name in names:
                if "/Voice/Calls/" in "/" + name and name.endswith(".html"):
                    return "google-voice"
            for name in names:
                base = name.rsplit("/", 1)[-1]
                if base == "_chat.txt" or base.startswith("WhatsApp Chat"):
                    return "whatsapp"
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(
            _("{path} looks like a zip but cannot be opened: {error}").format(path=path, error=exc)
        ) from exc
    return None


def detect_format(path: Path) -> str:
    """The format name of a phone export (one of :data:`FORMATS`), or a :class:`SourceError`."""
    if not path.exists():
        raise SourceError(_("{path} does not exist").format(path=path))
    if path.is_dir():
        if any(path.glob("messages.ndjson")) or any(path.glob("*.ndjson")):
            return "sms-import-export"
        for pattern in (
            "*.html",
            "Calls/*.html",
            "Voice/Calls/*.html",
            "Takeout/Voice/Calls/*.html",
        ):
            if any(path.glob(pattern)):
                return "google-voice"
        raise SourceError(
            _(
                "{path} is a folder without a phone export in it (expected a Google Voice Takeout "
                "'Calls' folder or an SMS Import/Export folder with messages.ndjson)"
            ).format(path=path)
        )
    head = _head(path)
    suffix = path.suffix.lower()
    if head.startswith(b"PK\x03\x04"):
        found = _zip_format(path)
        if found:
            return found
        raise SourceError(
            _(
                "{path} is a zip without a known phone export in it (SMS Import/Export, WhatsApp "
                "or Google Voice Takeout)"
            ).format(path=path)
        )
    wechat = sniff_wechat(head, suffix)
    if wechat:
        return wechat
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    lowered = text[:2000].lower()
    if suffix in (".html", ".htm") or lowered.startswith(("<!doctype html", "<html")):
        # MemoTrace's page can carry more style and script than the sniffed head holds.
        return "wechat-html" if is_memotrace_page(path) else "google-voice"
    if suffix == ".xml" or text.startswith("<"):
        return "sms-backup-restore"
    if suffix in (".ndjson", ".json") or text.startswith("{"):
        return "sms-import-export"
    if suffix in (".csv", ".tsv"):
        return "csv"
    found = _text_format(text)
    if found:
        return found
    raise SourceError(
        _(
            "cannot tell what kind of phone export {name} is; name it with --format ({value})"
        ).format(name=path.name, value=", ".join(FORMATS))
    )
