"""Google Voice from Google Takeout: ``Voice/Calls/*.html`` (texts, group texts, calls, voicemail).

Design:

* Each HTML page is an original of its own (a conversation page holds many messages, a call page
  one call); every message or call points back to it with ``locator="message N"``.
* Times come from the page (``<abbr class="dt|published" title="2022-06-30T18:06:39.894-07:00">``),
  which carries the offset; the file name's time is only a name.
* Media links omit the extension (``src="Tony - Text - 2022-07-01T01_06_39Z-2-1"``): the file
  with that name and any extension next to the page is the attachment. Voicemail and recorded
  calls keep their audio as an attachment and the transcript as the body.
* Pages are parsed with the standard library's tolerant HTML parser (never an XML parser: the
  pages declare an XHTML DTD, and nothing here should fetch or expand it).
* Accepts the Takeout folder (any level down to ``Calls``), a single page, or the Takeout zip.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any

from ...errors import SourceError
from ...hashing import blob_from_bytes
from ...i18n import _
from ...model import Attachment, Capture, Direction, ImportProblem, Item, ItemKind, SourceRef
from .common import (
    ReadNotes,
    Spool,
    SpooledReader,
    guess_media_type,
    message_key,
    phone,
    safe_filename,
    thread_key,
)

CONNECTOR = "google-voice"
VOID = frozenset({"br", "img", "meta", "link", "input", "hr", "source", "wbr", "col", "area"})
CALL_TITLES: dict[str, tuple[Direction, str, tuple[str, ...]]] = {
    "placed call to": ("out", "outgoing", ()),
    "received call from": ("in", "incoming", ()),
    "missed call from": ("in", "missed", ("missed",)),
    "voicemail from": ("in", "voicemail", ("voicemail",)),
    "recorded call with": ("unknown", "recorded", ("recorded",)),
}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def find_all(self, tag: str | None = None, cls: str | None = None) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and (cls is None or cls in child.classes):
                    yield child
                yield from child.find_all(tag, cls)

    def find(self, tag: str | None = None, cls: str | None = None) -> Node | None:
        return next(self.find_all(tag, cls), None)

    def text(self) -> str:
        parts: list[str] = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag == "br":
                parts.append("\n")
            else:
                parts.append(child.text())
        return "".join(parts)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_html(text: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def _iso(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _duration(value: str) -> int:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", value.strip())
    if not match:
        return 0
    h, m, s = match.groups()
    return int(h or 0) * 3600 + int(m or 0) * 60 + round(float(s or 0))


def _tel(node: Node | None) -> tuple[str, str]:
    """``(number, name)`` of a ``vcard`` element."""
    if node is None:
        return "", ""
    link = node if node.tag == "a" and "tel" in node.classes else node.find("a", "tel")
    number = link.attrs.get("href", "").removeprefix("tel:") if link else ""
    name_node = node.find(None, "fn")
    return number, " ".join(name_node.text().split()) if name_node else ""


class GoogleVoiceReader(SpooledReader):
    """Every Google Voice page under a Takeout folder or zip, or one page."""

    connector = CONNECTOR

    def __init__(
        self,
        path: Path,
        *,
        region: str | None = None,
        spool: Spool | None = None,
        notes: ReadNotes | None = None,
    ) -> None:
        super().__init__(path, region=region, spool=spool, notes=notes)
        self.files: dict[str, Callable[[], bytes]] = {}
        self._zip: zipfile.ZipFile | None = None
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file():
                    self.files[file.relative_to(path).as_posix()] = file.read_bytes
        elif zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            for name in self._zip.namelist():
                if not name.endswith("/"):
                    self.files[name] = self._member_reader(name)
        else:
            # One page: its media are the files beside it.
            self.path = path.parent
            for file in sorted(path.parent.iterdir()):
                if file.is_file() and (file == path or not file.name.endswith(".html")):
                    self.files[file.name] = file.read_bytes
        self.pages = sorted(
            name
            for name in self.files
            if name.lower().endswith(".html") and ("Calls/" in name or "/" not in name)
        )
        if not self.pages:
            raise SourceError(
                _(
                    "no Google Voice pages (Voice/Calls/*.html) in {path}; point at the unpacked "
                    "Takeout folder, its Voice/Calls folder or the Takeout zip"
                ).format(path=path)
            )

    def _member_reader(self, name: str) -> Callable[[], bytes]:
        archive = self._zip
        assert archive is not None
        return lambda: archive.read(name)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def _container(self, name: str) -> str:
        if self._zip is not None:
            return f"{self._zip.filename}!{name}"
        return str(self.path / name)

    def _media(self, page: str, link: str) -> Attachment | None:
        """The file a link names, with whatever extension it was saved with."""
        folder = str(PurePosixPath(page).parent)
        stem = PurePosixPath(link).name
        prefix = f"{folder}/{stem}" if folder != "." else stem
        for name in (prefix, *sorted(n for n in self.files if n.startswith(prefix + "."))):
            if name in self.files and not name.endswith(".html"):
                data = self.files[name]()
                media_type = guess_media_type(name)
                return Attachment(
                    self.spool.blob(data, media_type),
                    safe_filename(PurePosixPath(name).name),
                    media_type,
                    text=data.decode("utf-8", "replace") if media_type.startswith("text/") else "",
                )
        return None

    def captures(self) -> Iterator[Capture | ImportProblem]:
        try:
            for page in self.pages:
                yield from self._page(page)
        finally:
            self.close()

    def _page(self, page: str) -> Iterator[Capture | ImportProblem]:
        raw = self.files[page]()
        container = self._container(page)
        blob = blob_from_bytes(raw, "text/html")
        yield Capture(SourceRef(CONNECTOR, container, "whole file"), original=blob, item=None)
        root = parse_html(raw.decode("utf-8", "replace"))
        self.notes.records += 1
        chat = root.find("div", "hChatLog")
        if chat is not None:
            yield from self._conversation(page, container, blob.sha256, root, chat)
            return
        call = root.find("div", "haudio")
        if call is not None:
            yield from self._call(page, container, blob.sha256, call)
            return
        yield ImportProblem(
            SourceRef(CONNECTOR, container, "whole file"),
            _("not a Google Voice conversation or call page (no hChatLog or haudio section)"),
        )

    def _conversation(
        self, page: str, container: str, sha: str, root: Node, chat: Node
    ) -> Iterator[Capture | ImportProblem]:
        messages = list(chat.find_all("div", "message"))
        me_numbers: set[str] = set()
        others: dict[str, str] = {}
        for message in messages:
            number, name = _tel(message.find("cite", "sender"))
            if name == "Me":
                me_numbers.add(phone(number, self.region))
        participants = chat.find("div", "participants")
        for cite in [*(participants.find_all("cite") if participants else ())] + [
            m.find("cite", "sender") for m in messages if m.find("cite", "sender")
        ]:
            number, name = _tel(cite)
            normalised = phone(number, self.region)
            if normalised and normalised not in me_numbers and name != "Me":
                others.setdefault(normalised, name)
        group = participants is not None or len(others) > 1
        thread = thread_key(tuple(others))
        if not others:
            # Only the borrower wrote: the other side is named by the page title or file name.
            name = self._other_name(root, page)
            thread = f"name:{name.lower()}" if name else None
            others = {"": name} if name else {}
        for index, message in enumerate(messages, start=1):
            source = SourceRef(CONNECTOR, container, f"message {index}")
            stamp = message.find("abbr", "dt")
            when = _iso(stamp.attrs.get("title", "")) if stamp else None
            number, name = _tel(message.find("cite", "sender"))
            sender = phone(number, self.region)
            outgoing = name == "Me" or sender in me_numbers
            q = message.find("q")
            body = q.text().strip() if q else ""
            attachments: list[Attachment] = []
            missing: list[str] = []
            links = [n.attrs.get("src", "") for n in message.find_all("img")]
            links += [n.attrs.get("href", "") for n in message.find_all("a", "vcard")]
            links += [n.attrs.get("src", "") for n in message.find_all("audio")]
            for link in filter(None, links):
                found = self._media(page, link)
                if found is None:
                    missing.append(link)
                else:
                    attachments.append(found)
            direction: Direction = "out" if outgoing else "in"
            recipients = tuple(n for n in others if n and n != sender) if outgoing or group else ()
            details: dict[str, Any] = {"page": page}
            flags: tuple[str, ...] = ()
            kind: ItemKind
            if missing:
                details["missing_attachments"] = missing
                flags = ("attachment-missing",)
            if group:
                flags += ("group",)
            kind = "mms" if attachments or missing or group else "sms"
            who = ", ".join(n or num for num, n in others.items()) or "unknown"
            item = Item(
                kind=kind,
                occurred_at=when,
                direction=direction,
                sender="" if outgoing else sender,
                sender_name="" if outgoing else name,
                recipients=recipients if outgoing or group else (),
                title=f"Google Voice text {'to' if outgoing else 'from'} "
                + (who if outgoing else name or sender or "unknown"),
                body=body,
                thread_key=thread,
                flags=flags,
                details=details,
            )
            key = message_key(
                kind,
                thread or "",
                when,
                direction,
                body,
                ",".join(a.blob.sha256 for a in attachments),
            )
            yield Capture(
                source,
                original=None,
                item=item,
                attachments=tuple(attachments),
                dedup_key=key,
                container_sha256=sha,
            )

    @staticmethod
    def _other_name(root: Node, page: str) -> str:
        title = root.find("title")
        text = " ".join(title.text().split()) if title else ""
        if text.startswith("Me to "):
            return text.removeprefix("Me to ").strip()
        stem = PurePosixPath(page).name
        match = re.match(r"^(?P<name>.+?) - (?:Text|Group Conversation)\b", stem)
        return match.group("name").strip() if match else ""

    def _call(
        self, page: str, container: str, sha: str, call: Node
    ) -> Iterator[Capture | ImportProblem]:
        source = SourceRef(CONNECTOR, container, "message 1")
        heading = call.find("span", "fn")
        label_text = " ".join(heading.text().split()).lower() if heading else ""
        direction: Direction = "unknown"
        label = "call"
        flags: tuple[str, ...] = ()
        for prefix, value in CALL_TITLES.items():
            if label_text.startswith(prefix):
                direction, label, flags = value
                break
        number, name = _tel(call.find("div", "contributor"))
        normalised = phone(number, self.region)
        stamp = call.find("abbr", "published")
        when = _iso(stamp.attrs.get("title", "")) if stamp else None
        length = call.find("abbr", "duration")
        duration = _duration(length.attrs.get("title", "")) if length else 0
        transcript_node = call.find("span", "full-text")
        transcript = " ".join(transcript_node.text().split()) if transcript_node else ""
        attachments: list[Attachment] = []
        missing: list[str] = []
        for audio in call.find_all("audio"):
            link = audio.attrs.get("src", "")
            found = self._media(page, link) if link else None
            if found is not None:
                attachments.append(found)
            elif link:
                missing.append(link)
        details: dict[str, Any] = {
            "page": page,
            "call_type": label,
            "duration_s": duration,
            "number": number,
        }
        if missing:
            details["missing_attachments"] = missing
            flags = (*flags, "attachment-missing")
        who = name or number or "unknown number"
        minutes, seconds = divmod(duration, 60)
        title = f"{label.capitalize()} call {'to' if direction == 'out' else 'from'} {who}"
        if label == "recorded":
            title = f"Recorded call with {who}"
        if duration:
            title += f" ({minutes} min {seconds} s)" if minutes else f" ({seconds} s)"
        item = Item(
            kind="call",
            occurred_at=when,
            direction=direction,
            sender=normalised if direction != "out" else "",
            sender_name=name if direction != "out" else "",
            recipients=(normalised,) if direction == "out" and normalised else (),
            title=title,
            body=transcript,
            thread_key=thread_key(normalised),
            flags=tuple(flags),
            details=details,
        )
        key = message_key("call", normalised, when, direction, label, str(duration))
        yield Capture(
            source,
            original=None,
            item=item,
            attachments=tuple(attachments),
            dedup_key=key,
            container_sha256=sha,
        )
