"""``export_bundle``: a case turned into a BagIt bag that stands on its own.

Steps, in this order:

1. Choose the items (the case's timeline, filtered by date and tags), number them as exhibits
   in time order and plan a safe file name for every original (:mod:`.exhibits`).
2. Take a snapshot of the custody log *as it stood when the export began*. Trailing events that
   only record earlier exports or timestamps (``exported``, ``timestamped``) are left out, so
   exporting the same archive twice with the same ``now`` gives the same bytes; any event that
   changes the evidence (a new item, a tag, a note, a link) comes after them and is included.
   Events about items outside the bundle are kept as ``{seq, prev_hash, hash}`` only: the chain
   can still be checked link by link up to the pinned head, without disclosing other cases.
3. Stream every original from the archive into ``data/originals/``, hashing as it goes; an
   original whose bytes no longer match the SHA-256 recorded at import stops the export.
4. Write the readable views, ``items.json``, ``timeline.csv``, ``custody.jsonl``, ``VERIFY.txt``
   and ``bundle.pdf``, then the BagIt tag files.
5. Only then, rename the finished bag into place, add the RFC 3161 timestamp if asked, and
   append the ``exported`` event to the archive's custody log.

The bag is written under a temporary name beside the target and renamed when complete, so a
crash never leaves something that looks like a finished bundle.
"""

from __future__ import annotations

import csv
import functools
import gc
import io
import json
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, Literal

from .. import __version__
from ..archive import Archive
from ..archive.custody import GENESIS
from ..archive.records import ItemRecord
from ..archive.timeutil import format_utc
from ..errors import ArchiveError, UsageError
from ..extract.files import thumbnail_png
from ..hashing import sha256_bytes
from ..i18n import _
from ..model import CustodyEvent
from . import render_html
from .bagit import BagWriter, fsync_tree, open_bag, should_deflate
from .exhibits import (
    CONVERSATION_KINDS,
    Exhibit,
    ExhibitPlan,
    Labels,
    OriginalFile,
    exhibit_number,
    extension_for,
    safe_name,
)
from .key_facts import Chronology, chronology, facts_csv, facts_json
from .zipio import fsync_dir

VOLUME_SIZE = 1000
BOOKKEEPING_ACTIONS = frozenset({"exported", "timestamped"})
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how. ``now`` fixes the clock (``--now``); ``tz`` is the user's zone."""

    case: str
    out: Path | None = None
    fmt: Literal["zip", "dir"] = "zip"
    since: datetime | None = None
    until: datetime | None = None
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    lang: Literal["zh", "en", "both"] = "both"
    pdf: bool = True
    now: datetime | None = None
    tz: tzinfo | None = None
    tsa_url: str | None = None
    tsa_ca_file: Path | None = None


@dataclass
class ExportResult:
    """What was written. ``as_json()`` is what ``evidence export --json`` prints."""

    path: Path
    items: int
    originals: int
    payload_bytes: int
    bundle_bytes: int
    tagmanifest_sha256: str
    custody_head: str
    timestamp: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    # Why bundle.pdf is not in the bundle although it was asked for (no font could be had);
    # the rest of the bundle is complete, and bag-info.txt says the same.
    pdf_left_out: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "items": self.items,
            "originals": self.originals,
            "payload_bytes": self.payload_bytes,
            "bundle_bytes": self.bundle_bytes,
            "tagmanifest_sha256": self.tagmanifest_sha256,
            "custody_head": self.custody_head,
            "timestamp": self.timestamp,
            "warnings": self.warnings,
            "pdf_left_out": self.pdf_left_out,
        }


def bundle_name(slug: str, now: datetime) -> str:
    return f"{slug}_{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


ITEM_CACHE = 256


def item_loader(archive: Archive) -> Callable[[int], ItemRecord]:
    """``archive.item`` with a small cache: the renderers walk the exhibits in order, several
    times, and each pass finds the item it is on already loaded."""
    return functools.lru_cache(maxsize=ITEM_CACHE)(archive.item)


def select_items(archive: Archive, options: ExportOptions) -> list[int]:
    """Ids of the case's items to export, in time order (tag filters applied)."""
    ids = archive.timeline_ids(options.case, since=options.since, until=options.until)
    if options.tags or options.exclude_tags:
        wanted, unwanted = set(options.tags), set(options.exclude_tags)
        tags = archive.tags_of(ids)
        ids = [
            i
            for i in ids
            if (not wanted or wanted & tags.get(i, set())) and not unwanted & tags.get(i, set())
        ]
    return ids


def plan_exhibits(
    archive: Archive, ids: Sequence[int], load: Callable[[int], ItemRecord] | None = None
) -> ExhibitPlan:
    """Number the items and give every original one safe path (shared originals once).

    The plan is a temporary database (see :class:`ExhibitPlan`): the caller closes it.
    """
    plan = ExhibitPlan(load or item_loader(archive))
    try:
        for n, item_id in enumerate(ids, 1):
            number = exhibit_number(n, len(ids))
            record = plan.load(item_id)
            e = Exhibit(number=number, item_id=item_id, load=plan.load)

            def file_for(sha: str, name: str, role: str) -> OriginalFile:
                info = archive.original_info(sha)
                return plan.file_for(sha, name, role, info.size, info.media_type)

            if record.original_sha256:
                info = archive.original_info(record.original_sha256)
                name = f"{number}_{record.kind}{extension_for(info.media_type)}"
                e.original = file_for(record.original_sha256, name, "item")
            if record.container_sha256:
                base = safe_name(record.source.container, default="container")
                e.container = file_for(record.container_sha256, f"{number}_{base}", "container")
            for k, a in enumerate(record.attachments, 1):
                name = f"{number}-A{k}_{safe_name(a.filename, default='attachment')}"
                e.attachments.append((a.id, file_for(a.sha256, name, "attachment")))
            if record.kind in CONVERSATION_KINDS:
                e.thread = plan.thread_for(record.thread_key or record.sender or "conversation")
            plan.add_exhibit(e)
    except BaseException:
        plan.close()
        raise
    return plan


@dataclass(frozen=True)
class CustodySnapshot:
    """Where the bundle's copy of the custody log ends: event ``length`` with hash ``head``."""

    length: int
    head: str


def custody_snapshot(archive: Archive) -> CustodySnapshot:
    """The log as it stood, less trailing bookkeeping events (see the module docstring).

    One streaming pass: the log of a large archive is never held in memory.
    """
    snapshot = CustodySnapshot(0, GENESIS)
    for event in archive.custody.events():
        if event.action not in BOOKKEEPING_ACTIONS:
            snapshot = CustodySnapshot(event.seq, event.hash)
    return snapshot


def _concerns(event: CustodyEvent, slug: str, plan: ExhibitPlan) -> bool:
    if event.subject == f"case:{slug}":
        return True
    kind, _sep, key = event.subject.partition(":")
    if kind == "item":
        return key.isascii() and key.isdigit() and str(int(key)) == key and plan.has_item(int(key))
    return kind == "original" and plan.has_original(key)


def custody_lines(
    events: Iterable[CustodyEvent],
    snapshot: CustodySnapshot,
    slug: str,
    plan: ExhibitPlan,
) -> Iterator[str]:
    for ev in events:
        if ev.seq > snapshot.length:
            break
        if _concerns(ev, slug, plan):
            row: dict[str, Any] = {
                "seq": ev.seq,
                "at": format_utc(ev.at),
                "action": ev.action,
                "subject": ev.subject,
                "details": ev.details,
                "prev_hash": ev.prev_hash,
                "hash": ev.hash,
            }
        else:
            row = {"seq": ev.seq, "prev_hash": ev.prev_hash, "hash": ev.hash, "redacted": True}
        yield json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"


def item_json(e: Exhibit) -> dict[str, Any]:
    r = e.record

    def original(f: OriginalFile | None) -> dict[str, Any] | None:
        if f is None:
            return None
        return {"path": f.path[5:], "sha256": f.sha256, "size": f.size, "media_type": f.media_type}

    return {
        "exhibit": e.number,
        "id": r.id,
        "kind": r.kind,
        "occurred_at": r.occurred_at.isoformat() if r.occurred_at else None,
        "occurred_at_utc": format_utc(r.occurred_at) if r.occurred_at else None,
        "acquired_at": format_utc(r.acquired_at),
        "direction": r.direction,
        "sender": r.sender,
        "sender_name": r.sender_name,
        "recipients": list(r.recipients),
        "title": r.title,
        "body": r.body,
        "thread_key": r.thread_key,
        "message_id": r.message_id,
        "flags": list(r.flags),
        "details": r.details,
        "parse_status": r.parse_status,
        "parse_error": r.parse_error,
        "original": original(e.original),
        "container": original(e.container),
        "attachments": [
            {
                "filename": a.filename,
                "media_type": a.media_type,
                "size": a.size,
                "sha256": a.sha256,
                "inline": a.inline,
                "content_id": a.content_id,
                "text": a.text,
                "path": (f.path[5:] if (f := e.attachment_file(a.id)) else None),
            }
            for a in r.attachments
        ],
        "tags": list(r.tags),
        "notes": [{"at": format_utc(n.at), "text": n.text} for n in r.notes],
        "source": {
            "connector": r.source.connector,
            "container": r.source.container,
            "locator": r.source.locator,
        },
        "sightings": [
            {
                "connector": s.connector,
                "container": s.container,
                "locator": s.locator,
                "seen_at": format_utc(s.seen_at),
            }
            for s in r.sightings
        ],
        "rendering": e.rendering[5:],
    }


TIMELINE_COLUMNS = [
    "exhibit",
    "occurred_at",
    "occurred_at_utc",
    "kind",
    "direction",
    "sender",
    "recipients",
    "title",
    "snippet",
    "tags",
    "attachments",
    "original",
    "original_sha256",
    "rendering",
]


def timeline_row(e: Exhibit) -> list[str]:
    r = e.record
    f = e.original or e.container
    return [
        e.number,
        r.occurred_at.isoformat() if r.occurred_at else "",
        format_utc(r.occurred_at) if r.occurred_at else "",
        r.kind,
        r.direction,
        r.sender,
        "; ".join(r.recipients),
        r.title,
        render_html.snippet(r.body),
        "; ".join(r.tags),
        str(len(r.attachments)),
        f.path[5:] if f else "",
        f.sha256 if f else "",
        e.rendering[5:],
    ]


VERIFY_TXT = """\
How to check this evidence bundle (no special software needed)
===============================================================

This folder is a BagIt bag (RFC 8493). Every file under data/ is listed with its SHA-256 in
manifest-sha256.txt; the tag files are listed in tagmanifest-sha256.txt.

1. Open a terminal in the bundle's top folder (the one holding bagit.txt) and run:

       sha256sum -c manifest-sha256.txt
       sha256sum -c tagmanifest-sha256.txt

   Every line must say OK. Any file not listed in manifest-sha256.txt was added later.

2. If the folder timestamp/ exists, the list of hashes was timestamped by a trusted time-stamp
   authority (RFC 3161). Check it with OpenSSL, using the authority's CA certificate that you
   obtained from the authority itself (timestamp/ holds a copy of the certificates it sent):

       openssl ts -verify -data tagmanifest-sha256.txt -in timestamp/manifest.tsr \\
           -CAfile <the authority's CA certificate> -untrusted timestamp/tsa-chain.pem

   "Verification: OK" proves that tagmanifest-sha256.txt, and through it every file in this
   bundle, existed unchanged at the time shown by:
       openssl ts -reply -in timestamp/manifest.tsr -text

3. data/custody.jsonl is the custody log of these items: each line holds the hash of the line
   before it; the last hash equals Custody-Chain-Head in bag-info.txt.

With evidence-archiver installed, 'evidence verify <bundle>' performs all of these checks.

如何核验本证据包（无需专用软件）
================================

本文件夹是一个 BagIt 包（RFC 8493）。data/ 下的每个文件及其 SHA-256 哈希值都列在
manifest-sha256.txt 中；标签文件列在 tagmanifest-sha256.txt 中。

1. 在证据包的顶层文件夹（含 bagit.txt 的文件夹）中打开终端，运行：

       sha256sum -c manifest-sha256.txt
       sha256sum -c tagmanifest-sha256.txt

   每一行都必须显示 OK（确定）。未列在 manifest-sha256.txt 中的文件是后来添加的。

2. 如果存在 timestamp/ 文件夹，说明哈希清单已由可信时间戳机构（RFC 3161）加盖时间戳。
   请使用从该机构本身获得的 CA 证书，用 OpenSSL 核验（timestamp/ 中保存了机构发送的证书副本）：

       openssl ts -verify -data tagmanifest-sha256.txt -in timestamp/manifest.tsr \\
           -CAfile <该机构的 CA 证书> -untrusted timestamp/tsa-chain.pem

   显示 "Verification: OK" 即证明 tagmanifest-sha256.txt 以及通过它列出的本包中每个文件，
   在时间戳所示时间已经存在且未被修改。查看时间：openssl ts -reply -in timestamp/manifest.tsr -text

3. data/custody.jsonl 是这些条目的保管链记录：每一行都包含上一行的哈希值；
   最后一行的哈希值与 bag-info.txt 中的 Custody-Chain-Head 相同。

如已安装 evidence-archiver，运行 'evidence verify <证据包>' 即可完成以上全部检查。
"""


class _TextSink:
    """Collects ``str`` writes into UTF-8 chunks written to a binary sink."""

    def __init__(self, out: BinaryIO, limit: int = 1 << 16) -> None:
        self.out = out
        self.buf: list[str] = []
        self.size = 0
        self.limit = limit

    def __call__(self, text: str) -> None:
        self.buf.append(text)
        self.size += len(text)
        if self.size >= self.limit:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self.out.write("".join(self.buf).encode("utf-8"))
            self.buf = []
            self.size = 0


def _stream_text(bag: BagWriter, path: str, fill: Callable[[Callable[[str], None]], None]) -> str:
    def produce(out: BinaryIO) -> None:
        sink = _TextSink(out)
        fill(sink)
        sink.flush()

    return bag.add(path, produce, compress=True)


def _copy_original(archive: Archive, f: OriginalFile) -> Callable[[BinaryIO], object]:
    return lambda out: archive.copy_original(f.sha256, out)


def export_bundle(
    archive: Archive, options: ExportOptions, progress: Progress | None = None
) -> ExportResult:
    """Write the bundle for ``options.case``; return where it is and what it holds.

    Raises :class:`UsageError` when the target exists or the case has no items, and
    :class:`ArchiveError` when an original no longer matches its recorded SHA-256.
    """
    now = options.now or archive.clock()
    if now.tzinfo is None:
        raise UsageError(_("the export time needs a time zone, e.g. 2024-05-01T12:00:00+00:00"))
    user_tz = options.tz or datetime.now(UTC).astimezone().tzinfo or UTC
    labels = Labels(options.lang)
    case = archive.case(options.case)
    ids = select_items(archive, options)
    if not ids:
        raise UsageError(
            _(
                "the case {case} has no items to export with these filters; link items with "
                "'evidence case link' or widen --since/--until/--tag"
            ).format(case=repr(options.case))
        )
    snapshot = custody_snapshot(archive)
    exhibits = plan_exhibits(archive, ids)
    try:
        chron = chronology(
            archive.facts(case.slug), archive.fact_conflicts(case.slug), exhibits.number_of
        )
        return _export(
            archive, options, progress, case, now, user_tz, labels, snapshot, exhibits, chron
        )
    finally:
        exhibits.close()


def _export(
    archive: Archive,
    options: ExportOptions,
    progress: Progress | None,
    case: Any,
    now: datetime,
    user_tz: tzinfo,
    labels: Labels,
    snapshot: CustodySnapshot,
    exhibits: ExhibitPlan,
    chron: Chronology,
) -> ExportResult:
    head = snapshot.head
    name = bundle_name(case.slug, now)
    target = options.out or Path.cwd() / (name + (".zip" if options.fmt == "zip" else ""))
    if options.out is not None and options.out.is_dir() and options.fmt == "zip":
        target = options.out / f"{name}.zip"
    if target.exists():
        raise UsageError(
            _("{target} already exists: choose another --out or remove it first").format(
                target=target
            )
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        _remove(partial)
    root = target.name.removesuffix(".zip") if options.fmt == "zip" else target.name
    bag = open_bag(partial, options.fmt, now, root)

    originals = exhibits.file_count()
    total = originals + len(exhibits)
    done = 0
    try:
        for f in exhibits.files():
            digest = bag.add(
                f.path,
                _copy_original(archive, f),
                compress=should_deflate(f.path, f.media_type),
                size_hint=f.size,
            )
            if digest != f.sha256:
                raise ArchiveError(
                    _(
                        "the original {sha256} in the archive no longer matches the SHA-256 "
                        "recorded when it was imported: the archive file is damaged; restore it "
                        "from a backup and run 'evidence status'"
                    ).format(sha256=f.sha256)
                )
            done += 1
            if progress:
                progress("originals", done, total)
        if progress:
            progress("thumbnails", done, total)
        _write_thumbnails(archive, bag, exhibits)
        _write_views(bag, exhibits, labels, options, progress, done, total)
        if progress:
            progress("index and data files", 0, 1)
        summary = _summary_rows(case, exhibits, labels, now, user_tz)
        note = labels("timestamp_requested" if options.tsa_url else "no_timestamp")
        _stream_text(
            bag,
            "data/index.html",
            lambda w: render_html.write_index(
                w,
                summary_rows=summary,
                exhibits=exhibits,
                labels=labels,
                lang=options.lang,
                timestamp_note=note,
                chronology=chron,
            ),
        )
        bag.add_bytes("data/facts.json", facts_json(chron).encode("utf-8"))
        bag.add_bytes("data/facts.csv", facts_csv(chron, labels).encode("utf-8"))
        _stream_text(bag, "data/items.json", lambda w: _write_items_json(w, exhibits))
        _stream_text(bag, "data/timeline.csv", lambda w: _write_timeline(w, exhibits))
        _stream_text(
            bag,
            "data/custody.jsonl",
            lambda w: _write_custody(w, archive, snapshot, case.slug, exhibits),
        )
        bag.add_bytes("data/VERIFY.txt", VERIFY_TXT.encode("utf-8"))
        pdf_left_out: str | None = None
        if options.pdf:
            from .render_pdf import FontMissing, prepare_font

            if progress:
                progress("bundle.pdf", 0, 1)

            volumes = pdf_volumes(exhibits)
            with tempfile.TemporaryDirectory(prefix="evidence-pdf-") as tmp:
                notes = [_volume_note(volumes, n, labels) for n in range(1, len(volumes) + 1)]
                texts = [note, *notes, *(v for row in summary for v in row), *chron.texts()]
                try:
                    font = prepare_font(exhibits, texts, Path(tmp))
                except FontMissing as exc:
                    # The night before a hearing a bundle without its PDF beats none: the
                    # HTML views and every original are there, and the reason is recorded.
                    pdf_left_out = str(exc)
                else:
                    _write_pdf_volumes(
                        bag, archive, volumes, summary, labels, now, note, notes, font, Path(tmp),
                        chron,
                    )
        if progress:
            progress("manifests", 0, 1)
        bag_info = _bag_info(case, exhibits, archive, now, user_tz, head, snapshot.length)
        if pdf_left_out:
            bag_info.append(("Bundle-PDF", f"left out: {pdf_left_out}"))
        tagmanifest = bag.finish(bag_info)
    except BaseException:
        bag.abort()
        _remove(partial)
        raise
    if options.fmt == "dir":
        fsync_tree(partial)
    partial.replace(target)
    fsync_dir(target.parent)  # the rename itself
    result = ExportResult(
        path=target,
        items=len(exhibits),
        originals=originals,
        payload_bytes=bag.payload_bytes,
        bundle_bytes=_size(target),
        tagmanifest_sha256=sha256_bytes(tagmanifest),
        custody_head=head,
        warnings=list(chron.warnings),
        pdf_left_out=pdf_left_out,
    )
    if options.tsa_url:
        from .timestamp import TimestampError, timestamp_bundle

        try:
            result.timestamp = timestamp_bundle(
                target, options.tsa_url, ca_file=options.tsa_ca_file
            ).as_json()
        except TimestampError as exc:
            raise TimestampError(
                _(
                    "the bundle was written to {target}, but it has no timestamp: {error}. Add "
                    "one later without rebuilding: evidence timestamp {target} --tsa-url URL"
                ).format(target=target, error=exc)
            ) from exc
        finally:
            _record_export(archive, case.slug, result, options)
        result.bundle_bytes = _size(target)
    else:
        _record_export(archive, case.slug, result, options)
    return result


def _write_pdf_volumes(
    bag: BagWriter,
    archive: Archive,
    volumes: Sequence[tuple[str, Sequence[Exhibit]]],
    summary: Sequence[tuple[str, str]],
    labels: Labels,
    now: datetime,
    note: str,
    notes: Sequence[str],
    font: Path,
    tmp: Path,
    chron: Chronology,
) -> None:
    from .render_pdf import write_bundle_pdf

    for number, (name, members) in enumerate(volumes, 1):
        pdf_path = tmp / f"volume-{number}.pdf"
        write_bundle_pdf(
            pdf_path,
            archive=archive,
            exhibits=members,
            summary_rows=summary,
            labels=labels,
            now=now,
            timestamp_note=note,
            volume_note=notes[number - 1],
            font=font,
            chronology=chron,
        )
        bag.add(name, functools.partial(_copy_file, pdf_path), compress=False)
        pdf_path.unlink()
        # The PDF library's objects are in reference cycles: free them now.
        gc.collect()


def pdf_volumes(exhibits: Sequence[Exhibit]) -> list[tuple[str, Sequence[Exhibit]]]:
    """The court bundle in volumes of at most :data:`VOLUME_SIZE` exhibits.

    A PDF library holds a whole document in memory, so one PDF for a case of any size would
    break the memory bound of the export; courts split large bundles into volumes anyway. A
    case of up to VOLUME_SIZE exhibits gets just ``bundle.pdf``.
    """
    parts = [exhibits[i : i + VOLUME_SIZE] for i in range(0, len(exhibits), VOLUME_SIZE)]
    return [
        ("data/bundle.pdf" if n == 1 else f"data/bundle-{n}.pdf", part)
        for n, part in enumerate(parts, 1)
    ]


def _volume_note(
    volumes: Sequence[tuple[str, Sequence[Exhibit]]], number: int, labels: Labels
) -> str:
    if len(volumes) == 1:
        return ""
    listing = "; ".join(
        f"{name[5:]}: {part[0].number} – {part[-1].number}" for name, part in volumes
    )
    return f"{labels('volume')} {number} / {len(volumes)}. {listing}"


def _record_export(
    archive: Archive, slug: str, result: ExportResult, options: ExportOptions
) -> None:
    with archive.transaction():
        archive.custody.append(
            archive.clock(),
            "exported",
            f"case:{slug}",
            {
                "bundle": result.path.name,
                "items": result.items,
                "originals": result.originals,
                "tagmanifest_sha256": result.tagmanifest_sha256,
                "custody_head": result.custody_head,
                "export_time": format_utc(options.now) if options.now else None,
            },
        )
        if result.timestamp:
            archive.custody.append(
                archive.clock(),
                "timestamped",
                f"case:{slug}",
                {"bundle": result.path.name, **result.timestamp},
            )


def _write_thumbnails(archive: Archive, bag: BagWriter, exhibits: ExhibitPlan) -> None:
    """Small PNGs of the photos and screenshots (items and attachments), for the item pages,
    recorded in ``exhibits.thumbnails`` (original sha256 -> bundle path). An image that cannot
    be read gets none: its original is in the bundle all the same."""
    made = exhibits.thumbnails
    for e in exhibits:
        files = [(e.number, e.original)] + [
            (f"{e.number}-A{n}", f) for n, (_, f) in enumerate(e.attachments, 1)
        ]
        for name, f in files:
            if f is None or not f.media_type.startswith("image/") or f.sha256 in made:
                continue
            try:
                with warnings.catch_warnings():
                    # Pillow warns about decompression bombs; a refusal is all we need here.
                    warnings.simplefilter("error")
                    png = thumbnail_png(archive.read_original(f.sha256))
            except Exception:  # noqa: BLE001 - a broken or hostile image only loses its preview
                continue
            path = f"data/thumbnails/{name}.png"
            bag.add_bytes(path, png)
            made.add(f.sha256, path)


def _write_views(
    bag: BagWriter,
    exhibits: ExhibitPlan,
    labels: Labels,
    options: ExportOptions,
    progress: Progress | None,
    done: int,
    total: int,
) -> None:
    for e in exhibits:
        page = render_html.render_item(e, labels, options.lang, exhibits.thumbnails)
        bag.add_bytes(e.rendering, page.encode("utf-8"))
        done += 1
        if progress and done % 50 == 0:
            progress("renderings", done, total)
    for thread_path in exhibits.threads():
        # A conversation page holds every message of its thread: streamed, not built whole.
        first = next(exhibits.thread_members(thread_path)).record
        title = first.thread_key or first.sender or first.title
        members = exhibits.thread_members(thread_path)
        fill = functools.partial(
            render_html.write_thread,
            path="data/" + thread_path,
            title=title,
            exhibits=members,
            labels=labels,
            lang=options.lang,
        )
        _stream_text(bag, "data/" + thread_path, fill)
    if progress:
        progress("renderings", total, total)


def _write_items_json(write: Callable[[str], None], exhibits: Sequence[Exhibit]) -> None:
    write("[\n")
    for n, e in enumerate(exhibits):
        text = json.dumps(item_json(e), ensure_ascii=False, sort_keys=True)
        write(("" if n == 0 else ",\n") + text)
    write("\n]\n")


def _write_custody(
    write: Callable[[str], None],
    archive: Archive,
    snapshot: CustodySnapshot,
    slug: str,
    plan: ExhibitPlan,
) -> None:
    for line in custody_lines(archive.custody.events(), snapshot, slug, plan):
        write(line)


def _write_timeline(write: Callable[[str], None], exhibits: Sequence[Exhibit]) -> None:
    # A byte-order mark so that spreadsheet programs read the Chinese text as UTF-8.
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    write("\ufeff")
    writer.writerow(TIMELINE_COLUMNS)
    for e in exhibits:
        writer.writerow(timeline_row(e))
        write(buf.getvalue())
        buf.seek(0)
        buf.truncate()
    write(buf.getvalue())


def _period(exhibits: Sequence[Exhibit]) -> str:
    first = last = None
    for e in exhibits:
        at = e.record.occurred_at
        if at is not None:
            first = at if first is None or at < first else first
            last = at if last is None or at > last else last
    if first is None or last is None:
        return ""
    return f"{first.date().isoformat()} .. {last.date().isoformat()}"


def _summary_rows(
    case: Any, exhibits: Sequence[Exhibit], labels: Labels, now: datetime, tz: tzinfo
) -> list[tuple[str, str]]:
    counts: dict[str, int] = {}
    for e in exhibits:
        counts[e.record.kind] = counts.get(e.record.kind, 0) + 1
    return [
        (labels("case"), case.title),
        (labels("counterparties"), ", ".join(v for _, v in case.rules)),
        (labels("period"), _period(exhibits)),
        (labels("items"), ", ".join(f"{labels.kind(k)}: {n}" for k, n in sorted(counts.items()))),
        (
            labels("exported"),
            f"{format_utc(now)} ({now.astimezone(tz).isoformat(timespec='seconds')})",
        ),
    ]


def _bag_info(
    case: Any,
    exhibits: Sequence[Exhibit],
    archive: Archive,
    now: datetime,
    tz: tzinfo,
    head: str,
    events: int,
) -> list[tuple[str, str]]:
    counts: dict[str, int] = {}
    for e in exhibits:
        counts[e.record.kind] = counts.get(e.record.kind, 0) + 1
    sources = sorted({f"{e.record.source.connector}:{e.record.source.container}" for e in exhibits})
    fields = [
        ("Source-Organization", "evidence-archiver (personal archive)"),
        ("External-Description", f"Evidence bundle for the case: {case.title}"),
        ("External-Identifier", case.slug),
        ("Bagging-Date", now.astimezone(UTC).date().isoformat()),
        ("Bag-Software-Agent", f"evidence-archiver {__version__}"),
        ("Case-Title", case.title),
        ("Case-Slug", case.slug),
    ]
    fields += [("Counterparty", f"{kind}:{value}") for kind, value in case.rules]
    fields += [
        ("Period", _period(exhibits)),
        ("Item-Count", str(len(exhibits))),
    ]
    fields += [(f"Item-Count-{kind}", str(n)) for kind, n in sorted(counts.items())]
    fields += [
        ("Export-Time-UTC", format_utc(now)),
        ("Export-Time-Local", now.astimezone(tz).isoformat(timespec="seconds")),
        ("Custody-Chain-Head", head),
        ("Custody-Chain-Length", str(events)),
        ("Trusted-Timestamp", "see timestamp/ if present (added after the bag was made)"),
    ]
    fields += [("Source-Account", s) for s in sources]
    return fields


def _copy_file(path: Path, out: BinaryIO) -> None:
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            out.write(chunk)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
