"""One contract every phone reader keeps, checked over every fixture and corpus sample:
the container comes first and hashes to its bytes, every message points back into it with a
locator and a natural key, times carry a zone, and attachments hash to their bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evidence_archiver.archive.ingest import PreparedCapture, prepare_all
from evidence_archiver.connectors.sms import PhoneExport
from evidence_archiver.hashing import sha256_bytes
from evidence_archiver.model import Blob, Capture, ImportProblem

PHONE = Path(__file__).resolve().parent.parent / "fixtures" / "phone"
CORPUS_GLOBS = [
    "sms-backup-restore_*/*.xml",
    "whatsapp_signal_chat-miner/test_*.txt",
    "google-voice-takeout_psanford/*.html",
    "google-voice-takeout_wjcarpenter/test_data",
]
FIXTURES = sorted(p for p in PHONE.iterdir() if p.suffix in (".xml", ".txt", ".csv"))


def _bytes(blob: Blob) -> bytes:
    if blob.data is not None:
        return blob.data
    assert blob.path is not None
    return blob.path.read_bytes()


def check_contract(path: Path) -> int:
    with PhoneExport(path, region="CN", zone="UTC") as export:
        captures = list(export.captures())
        containers = {
            c.original.sha256: c
            for c in captures
            if isinstance(c, Capture) and c.item is None and c.original is not None
        }
        assert containers, "the export file itself is stored as an original"
        first = captures[0]
        assert isinstance(first, Capture)
        assert first.item is None
        if path.is_file() and first.original is not None:
            assert first.original.sha256 == sha256_bytes(path.read_bytes())
        keys: set[str] = set()
        items = 0
        for capture in captures:
            if isinstance(capture, ImportProblem):
                assert capture.reason
                continue
            if capture.item is None:
                continue
            items += 1
            assert capture.original is None
            assert capture.container_sha256 in containers
            assert capture.source.locator
            assert capture.dedup_key
            assert capture.dedup_key not in keys, capture.source.locator
            keys.add(capture.dedup_key)
            moment = capture.item.occurred_at
            assert moment is None or moment.utcoffset() is not None
            assert capture.item.direction in ("in", "out", "unknown")
            for attachment in capture.attachments:
                assert sha256_bytes(_bytes(attachment.blob)) == attachment.blob.sha256
                assert "/" not in attachment.filename
        return items


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_keeps_the_contract(path: Path) -> None:
    assert check_contract(path) > 0


@pytest.mark.corpus
def test_every_corpus_sample_keeps_the_contract(corpus: Path) -> None:
    paths = [p for pattern in CORPUS_GLOBS for p in sorted(corpus.glob(pattern))]
    assert len(paths) >= 24
    total = sum(check_contract(p) for p in paths)
    assert total > 150


def _summary(captures: list[Capture | ImportProblem]) -> list[object]:
    """What a reader said, without where its spool happened to put large media."""
    out: list[object] = []
    for c in captures:
        if isinstance(c, ImportProblem):
            out.append(c)
            continue
        blobs = [(a.blob.sha256, a.blob.size, a.filename, a.text) for a in c.attachments]
        original = c.original.sha256 if c.original else None
        out.append((c.source, original, c.item, blobs, c.dedup_key, c.container_sha256))
    return out


def _prepared_summary(entries: list[Any]) -> list[object]:
    """What the archive writer is given, without where a spool happened to put large media."""
    out: list[object] = []
    for e in entries:
        if isinstance(e, PreparedCapture):
            blobs = [(a.blob.sha256, a.blob.size, a.filename, a.text) for a in e.attachments]
            original = e.original.sha256 if e.original else None
            out.append(e._replace(original=original, attachments=tuple(blobs)))
        else:
            out.extend(_summary([e]))
    return out


@pytest.mark.corpus
def test_a_reader_in_a_child_process_says_exactly_what_it_says_here(corpus: Path) -> None:
    paths = FIXTURES + [p for pattern in CORPUS_GLOBS for p in sorted(corpus.glob(pattern))]
    for path in paths:
        with PhoneExport(path, region="CN", zone="UTC") as here:
            # Read here, the writer would prepare each capture itself.
            expected = list(prepare_all(here.captures()))
        with PhoneExport(path, region="CN", zone="UTC") as there:
            got = list(there.for_archive(in_child=True))
            assert _prepared_summary(got) == _prepared_summary(expected), path
            # The child prepared every item's rows, so the writer need not.
            assert not [c for c in got if isinstance(c, Capture) and c.item is not None]
        assert there.notes == here.notes, path
