"""Phone exports: SMS, MMS, call logs and chat exports as captures for the archive.

One module per format, all yielding the same shapes (see :mod:`.common`); :mod:`.detect` picks
the format from the file itself. The usual entry point is :func:`import_phone_export`::

    with Archive(path) as archive:
        report, notes = import_phone_export(archive, Path("sms-20240301.xml"), region="CN")
    report.as_json()   # {"added": 40, "duplicates": 0, "failed": 0, ...}
    notes.lines        # ["repaired 2 emoji written as surrogate-pair references"]

or, to see the captures without storing them::

    with PhoneExport(Path("WhatsApp Chat with LenderX.txt")) as export:
        for capture in export.captures(): ...
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from ...archive.ingest import (
    PreparedCapture,
    held_bytes,
    pack_prepared,
    prepare_all,
    unpack_prepared,
)
from ...errors import UsageError
from ...i18n import _
from ...model import Capture, ImportProblem, ImportReport
from ..background import in_child_process
from .common import ReadNotes, Spool, with_signatures
from .detect import FORMATS, WECHAT_FORMATS, detect_format

if TYPE_CHECKING:
    from ...archive import Archive

__all__ = [
    "FORMATS",
    "WECHAT_FORMATS",
    "PhoneExport",
    "ReadNotes",
    "detect_format",
    "import_phone_export",
]

#: From this size on, an export is read in a child process while this one writes the archive.
#: Below it, starting a process costs more than the overlap gains.
CHILD_READER_BYTES = 1_000_000
#: Items per ingest transaction. Phone messages are small and many: a larger batch than mail's
#: commits (and syncs) less often; the media a batch holds are bounded by ``Archive.ingest``.
PHONE_BATCH = 2000


class PhoneExport:
    """An opened phone export: its format is known and its header was checked.

    Opening raises :class:`~evidence_archiver.errors.SourceError` for a file that cannot be
    imported at all (hostile XML, not a phone export, a CSV without the needed columns), before
    anything is stored. Close it (or use ``with``) after the captures have been ingested: large
    media decoded from the export wait in a private spool folder until then.
    """

    def __init__(
        self,
        path: Path,
        *,
        format: str | None = None,
        region: str | None = None,
        column_map: Mapping[str, str] | None = None,
        zone: str | None = None,
        spool: Spool | None = None,
    ) -> None:
        self.path = Path(path)
        self.zone = zone
        self.column_map = dict(column_map) if column_map is not None else None
        if format is not None and format not in FORMATS:
            raise UsageError(
                _("unknown phone export format {format}: use one of {FORMATS}").format(
                    format=repr(format), FORMATS=FORMATS
                )
            )
        self.format = format or detect_format(self.path)
        self.region = region.strip().upper() if region else None
        self.notes = ReadNotes(format=self.format)
        self.spool = spool or Spool()
        self._captures: Callable[[], Iterator[Capture | ImportProblem]]
        self._closers: list[Callable[[], None]] = [self.spool.close]
        #: How many messages the export says or is seen to hold, when known before reading it
        #: (for a progress bar); ``None`` otherwise.
        self.expected: int | None = None
        try:
            self._open(column_map)
        except BaseException:
            self.close()
            raise

    def _open(self, column_map: Mapping[str, str] | None) -> None:
        fmt, path, region = self.format, self.path, self.region
        if fmt == "sms-backup-restore":
            from .backup_xml import SmsBackupReader

            reader = SmsBackupReader(path, region=region, spool=self.spool, notes=self.notes)
            self._captures = reader.captures
            self.expected = reader.declared_count
            self._closers.append(reader.close)
        elif fmt == "sms-import-export":
            from .sms_ie import SmsIeReader

            ie = SmsIeReader(path, region=region, spool=self.spool, notes=self.notes)
            self._captures = ie.captures
            self._closers.append(ie.close)
        elif fmt == "google-voice":
            from .google_voice import GoogleVoiceReader

            voice = GoogleVoiceReader(path, region=region, spool=self.spool, notes=self.notes)
            self._captures = voice.captures
            self._closers.append(voice.close)
        elif fmt in ("whatsapp", "signal"):
            from .chat_text import ChatTextReader

            chat = ChatTextReader(
                path,
                flavour=fmt,
                region=region,
                zone=self.zone,
                spool=self.spool,
                notes=self.notes,
            )
            self._captures = chat.captures
            self.expected = len(chat.messages)
        elif fmt == "csv":
            from .csv_export import CsvReader

            table = CsvReader(
                path, region=region, column_map=column_map, zone=self.zone, notes=self.notes
            )
            self._captures = table.captures
            self.expected = len(table.rows) - 1
        elif fmt in ("wechat-csv", "wechat-html", "chatlab"):
            from .wechat import ChatLabReader, MemoTraceCsvReader, MemoTraceHtmlReader

            if fmt == "wechat-csv":
                self._captures = MemoTraceCsvReader(path, zone=self.zone, notes=self.notes).captures
            elif fmt == "wechat-html":
                page = MemoTraceHtmlReader(path, zone=self.zone, notes=self.notes)
                self._captures = page.captures
                self.expected = page.expected
            else:
                self._captures = ChatLabReader(path, zone=self.zone, notes=self.notes).captures
        else:
            raise UsageError(_("reading {fmt} exports is not supported yet").format(fmt=fmt))

    @property
    def connector(self) -> str:
        return self.format

    def captures(self) -> Iterator[Capture | ImportProblem]:
        """The export's captures, in file order, read in this process."""
        return with_signatures(self._captures())

    def for_archive(
        self, *, in_child: bool | None = None
    ) -> Iterator[Capture | ImportProblem | PreparedCapture]:
        """What :meth:`Archive.ingest` is given: the captures, those with an item prepared.

        A large export (``in_child=None``) or any (``in_child=True``) is read in a child process
        that also prepares each item's rows (:func:`prepare`), so reading a backup and writing
        the archive run on two cores and little crosses between them; this process's notes are
        brought up to date when the last capture is out. Otherwise the captures are read here
        and the writer prepares them.
        """
        if in_child is None:
            try:
                in_child = self.path.stat().st_size >= CHILD_READER_BYTES
            except OSError:
                in_child = False
        if not in_child:
            return self.captures()
        return self._prepared_in_child()

    def _prepared_in_child(
        self,
    ) -> Generator[Capture | ImportProblem | PreparedCapture, None, None]:
        notes = yield from in_child_process(
            _read_in_child,
            self.path,
            self.format,
            self.region,
            self.column_map,
            self.zone,
            self.spool.folder(),
            weigh=held_bytes,
            # Enough items in flight to cover a whole ingest batch being written, so the
            # reader keeps working meanwhile; each batch holds at most 1 MB of media, so a
            # backup where every message is a picture keeps the writer near 140 MB.
            batch_size=256,
            lookahead=16,
            batch_bytes=1 << 20,
            pack=pack_prepared,
            unpack=unpack_prepared,
        )
        self.notes.merge(notes)

    def close(self) -> None:
        for closer in self._closers:
            closer()

    def __enter__(self) -> PhoneExport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _read_in_child(
    path: Path,
    format: str,
    region: str | None,
    column_map: dict[str, str] | None,
    zone: str | None,
    spool_folder: Path,
) -> Generator[Capture | ImportProblem | PreparedCapture, None, ReadNotes]:
    """The reader's side of :meth:`PhoneExport.for_archive` in a child process."""
    with PhoneExport(
        path,
        format=format,
        region=region,
        column_map=column_map,
        zone=zone,
        spool=Spool(spool_folder),
    ) as export:
        yield from prepare_all(export.captures())
        return export.notes


def import_phone_export(
    archive: Archive,
    path: Path,
    *,
    format: str | None = None,
    region: str | None = None,
    column_map: Mapping[str, str] | None = None,
    zone: str | None = None,
    batch_size: int = PHONE_BATCH,
    progress: Callable[[int], None] | None = None,
    in_child: bool | None = None,
) -> tuple[ImportReport, ReadNotes]:
    """Import one phone export into ``archive``; return the ingest report and reader notes.

    ``zone`` (an IANA name such as ``Asia/Shanghai``) is where chat exports' wall-clock times
    were shown; by default ``EVIDENCE_TZ`` or this computer's zone. Idempotent: a second run
    (or a newer backup overlapping this one) adds only messages not yet archived and counts
    the rest as ``duplicates``. ``in_child`` is passed to :meth:`PhoneExport.for_archive`.
    """
    with PhoneExport(
        path, format=format, region=region, column_map=column_map, zone=zone
    ) as export:
        report = archive.ingest(
            export.for_archive(in_child=in_child),
            connector=export.connector,
            container=str(export.path),
            batch_size=batch_size,
            progress=progress,
        )
    return report, export.notes
