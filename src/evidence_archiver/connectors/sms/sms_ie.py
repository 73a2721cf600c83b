"""SMS Import / Export (the open-source Android app, ``com.github.tmo1.sms_ie``).

Its message export (format ``v2``, app 2.0 and later) is a zip holding ``messages.ndjson`` (one
JSON object per line: the Android SMS or MMS provider's columns as strings, plus the app's own
``__display_name``, ``__sender_address``, ``__recipient_addresses`` and ``__parts``) and a
``data/`` folder with each MMS part's bytes, named after the last segment of the part's
``_data`` path. Its call log export is a JSON array of ``CallLog.Calls`` rows.

Design: the ndjson is streamed line by line from the zip (never loaded whole); each line is a
capture with ``locator="line N"``; the column meanings are Android's, the same as in SMS Backup &
Restore files, so the natural keys agree and a message present in both exports is archived once.
Accepts the zip, the folder it unpacks to, a bare ``messages.ndjson`` or the call log ``.json``.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from ...errors import SourceError
from ...hashing import blob_from_file
from ...i18n import _
from ...model import Attachment, Capture, Direction, ImportProblem, Item, SourceRef
from .backup_xml import CALL_TYPES, MMS_BOXES, PRESENTATION, SMS_TYPES, UNKNOWN_NAMES
from .common import (
    ReadNotes,
    Spool,
    SpooledReader,
    call_item,
    clean,
    epoch_to_datetime,
    message_key,
    phone,
    safe_filename,
    thread_key,
)

CONNECTOR = "sms-import-export"


def _name(record: dict[str, Any]) -> str:
    name = str(record.get("__display_name") or "").strip()
    return "" if name.lower() in UNKNOWN_NAMES else name


class SmsIeReader(SpooledReader):
    """A messages zip / folder / ndjson, or a call log JSON, from SMS Import / Export."""

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
        self._zip: zipfile.ZipFile | None = None
        self._folder: Path | None = None
        self._ndjson: list[str] = []
        self._calls: list[str] = []
        if path.is_dir():
            self._folder = path
            self._ndjson = sorted(p.name for p in path.glob("*.ndjson"))
            self._calls = sorted(p.name for p in path.glob("*.json"))
        elif zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            names = self._zip.namelist()
            self._ndjson = [n for n in names if n.endswith(".ndjson")]
            self._calls = [n for n in names if n.endswith(".json")]
        elif path.suffix.lower() == ".json" or path.read_bytes()[:64].lstrip().startswith(b"["):
            self._folder = path.parent
            self._calls = [path.name]
        else:
            self._folder = path.parent
            self._ndjson = [path.name]
        if not self._ndjson and not self._calls:
            raise SourceError(
                _(
                    "{name} holds no SMS Import/Export data (messages.ndjson or a call log .json)"
                ).format(name=path.name)
            )

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def _open(self, name: str) -> IO[bytes]:
        if self._zip is not None:
            return self._zip.open(name)
        assert self._folder is not None
        return (self._folder / name).open("rb")

    def _data(self, name: str) -> bytes | None:
        member = f"data/{name}"
        if self._zip is not None:
            try:
                return self._zip.read(member)
            except KeyError:
                return None
        assert self._folder is not None
        file = self._folder / "data" / safe_filename(name)
        return file.read_bytes() if file.is_file() else None

    def captures(self) -> Iterator[Capture | ImportProblem]:
        container = str(self.path)
        media = "application/zip" if self._zip is not None else "application/x-ndjson"
        if self.path.is_dir():
            containers = [
                (self.path / n, f"{self.path / n}") for n in [*self._ndjson, *self._calls]
            ]
        else:
            containers = [(self.path, container)]
        shas: dict[str, str] = {}
        for file, label in containers:
            kind = "application/json" if file.suffix == ".json" else media
            blob = blob_from_file(file, kind)
            shas[label] = blob.sha256
            yield Capture(SourceRef(CONNECTOR, label, "whole file"), original=blob, item=None)
        try:
            for name in self._ndjson:
                label = container if not self.path.is_dir() else str(self.path / name)
                yield from self._messages(name, label, shas[label])
            for name in self._calls:
                label = container if not self.path.is_dir() else str(self.path / name)
                yield from self._call_log(name, label, shas[label])
        finally:
            self.close()

    def _messages(self, name: str, container: str, sha: str) -> Iterator[Capture | ImportProblem]:
        where = f"{name} " if self._zip is not None else ""
        with self._open(name) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
            for number, line in enumerate(text, start=1):
                if not line.strip():
                    continue
                source = SourceRef(CONNECTOR, container, f"{where}line {number}")
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise ValueError("not a JSON object")
                    convert: Callable[..., Capture] = (
                        self._mms if "__parts" in record or "msg_box" in record else self._sms
                    )
                    yield convert(record, source, sha)
                    self.notes.records += 1
                except (ValueError, TypeError, KeyError) as exc:
                    yield ImportProblem(
                        source, _("could not read this message: {error}").format(error=exc)
                    )

    def _sms(self, record: dict[str, Any], source: SourceRef, sha: str) -> Capture:
        raw = clean(str(record.get("address") or ""))
        number = phone(raw, self.region)
        direction, flags = SMS_TYPES.get(str(record.get("type", "")), ("unknown", ()))
        when = epoch_to_datetime(record.get("date"))
        body = clean(str(record.get("body") or ""))
        name = _name(record)
        details: dict[str, Any] = {"address": raw, "type": record.get("type", "")}
        if name:
            details["contact_name"] = name
        if when is None:
            flags = (*flags, "no-date")
        item = Item(
            kind="sms",
            occurred_at=when,
            direction=direction,
            sender=number if direction == "in" else "",
            sender_name=name if direction == "in" else "",
            recipients=(number,) if direction == "out" and number else (),
            title=f"SMS {'from' if direction == 'in' else 'to'} {name or raw or 'unknown number'}",
            body=body,
            thread_key=thread_key(number),
            flags=tuple(flags),
            details=details,
        )
        key = message_key("sms", number, when, direction, body)
        return Capture(source, original=None, item=item, dedup_key=key, container_sha256=sha)

    def _mms(self, record: dict[str, Any], source: SourceRef, sha: str) -> Capture:
        direction, flags = MMS_BOXES.get(str(record.get("msg_box", "")), ("unknown", ()))
        when = epoch_to_datetime(record.get("date"))
        sender_rec = record.get("__sender_address") or {}
        sender = phone(clean(str(sender_rec.get("address") or "")), self.region)
        if sender == "insert-address-token":
            sender = ""
        recipients = tuple(
            dict.fromkeys(
                n
                for r in record.get("__recipient_addresses") or []
                if (n := phone(clean(str(r.get("address") or "")), self.region))
                and n != "insert-address-token"
                and n != sender
            )
        )
        texts: list[str] = []
        attachments: list[Attachment] = []
        missing: list[str] = []
        for part in record.get("__parts") or []:
            media_type = clean(str(part.get("ct") or "")).lower() or "application/octet-stream"
            if media_type == "application/smil":
                continue
            data_path = clean(str(part.get("_data") or ""))
            text = clean(str(part.get("text") or ""))
            if not data_path:
                if media_type.startswith("text/plain") and text:
                    texts.append(text)
                continue
            stored = PurePosixPath(data_path).name
            data = self._data(stored)
            filename = safe_filename(str(part.get("name") or ""), str(part.get("cl") or ""), stored)
            if data is None:
                missing.append(filename)
                continue
            if media_type.startswith("text/plain"):
                texts.append(data.decode("utf-8", "replace"))
                continue
            attachments.append(Attachment(self.spool.blob(data, media_type), filename, media_type))
        body = "\n".join(texts)
        subject = clean(str(record.get("sub") or ""))
        name = _name(sender_rec) if direction == "in" else ""
        details: dict[str, Any] = {"msg_box": record.get("msg_box", "")}
        if missing:
            details["missing_attachments"] = missing
            flags = (*flags, "attachment-missing")
        if when is None:
            flags = (*flags, "no-date")
        counterparties = (sender,) if direction == "in" and sender else recipients
        who = name or ", ".join(counterparties) or "unknown number"
        item = Item(
            kind="mms",
            occurred_at=when,
            direction=direction,
            sender=sender,
            sender_name=name,
            recipients=recipients,
            title=subject or f"MMS {'from' if direction == 'in' else 'to'} {who}",
            body=body,
            thread_key=thread_key(counterparties),
            flags=tuple(flags),
            details=details,
        )
        extra = ",".join([a.blob.sha256 for a in attachments])
        key = message_key(
            "mms", ",".join(sorted(counterparties)), when, direction, subject + "\n" + body, extra
        )
        return Capture(
            source,
            original=None,
            item=item,
            attachments=tuple(attachments),
            dedup_key=key,
            container_sha256=sha,
        )

    def _call_log(self, name: str, container: str, sha: str) -> Iterator[Capture | ImportProblem]:
        with self._open(name) as raw:
            try:
                rows = json.load(raw)
            except ValueError as exc:
                yield ImportProblem(
                    SourceRef(CONNECTOR, container, name),
                    _("not a call log JSON: {error}").format(error=exc),
                )
                return
        if not isinstance(rows, list):
            yield ImportProblem(
                SourceRef(CONNECTOR, container, name), _("not a call log JSON array")
            )
            return
        for index, row in enumerate(rows, start=1):
            source = SourceRef(CONNECTOR, container, f"entry {index}")
            if not isinstance(row, dict):
                yield ImportProblem(source, _("not a call record"))
                continue
            yield self._call(row, source, sha)
            self.notes.records += 1

    def _call(self, row: dict[str, Any], source: SourceRef, sha: str) -> Capture:
        raw = clean(str(row.get("number") or ""))
        if raw.startswith("-"):
            raw = ""
        number = phone(raw, self.region)
        presentation = PRESENTATION.get(str(row.get("presentation", "")), "")
        direction: Direction
        direction, label, flags = CALL_TYPES.get(str(row.get("type", "")), ("unknown", "call", ()))
        when = epoch_to_datetime(row.get("date"))
        duration_text = str(row.get("duration") or "0")
        duration = int(duration_text) if duration_text.isdigit() else 0
        name = _name(row) or clean(str(row.get("name") or ""))
        details: dict[str, Any] = {"number": raw, "call_type": label, "duration_s": duration}
        if presentation:
            details["presentation"] = presentation
        item, key = call_item(
            number=number,
            raw=raw,
            name=name,
            presentation=presentation,
            direction=direction,
            label=label,
            when=when,
            duration=duration,
            flags=tuple(flags),
            details=details,
        )
        return Capture(source, original=None, item=item, dedup_key=key, container_sha256=sha)
