"""Shared fixtures: real archives in temporary folders, the shared corpus, a fixed clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evidence_archiver import Archive

# The real Dovecot server and the misbehaving proxy used by the IMAP tests; the local RFC 3161
# timestamp authority and the sample case used by the export tests.
pytest_plugins = ["dovecot", "tsa"]

PROJECT = Path(__file__).resolve().parent.parent
FIXTURES = PROJECT / "fixtures"
CORPUS = PROJECT.parent / "shared" / "corpus"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class FakeClock:
    """A clock that starts at a fixed moment and moves one second per reading."""

    def __init__(self, start: datetime = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture(autouse=True)
def english_interface(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tests read the English interface whatever the machine's locale; a test that wants
    Chinese sets EVIDENCE_LANG itself. Compiled catalogues go to a temporary cache."""
    monkeypatch.setenv("EVIDENCE_LANG", "en")
    monkeypatch.setenv("EVIDENCE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def archive_path(tmp_path: Path) -> Path:
    return tmp_path / "archive.db"


@pytest.fixture
def archive(archive_path: Path, clock: FakeClock) -> Iterator[Archive]:
    with Archive(archive_path, clock=clock) as arch:
        yield arch


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared real-world samples. Absent on a developer's laptop: skip; absent in CI: fail."""
    if not CORPUS.is_dir():
        if IN_CI:
            pytest.fail(f"the shared corpus is missing at {CORPUS}; CI must provide it")
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    return CORPUS
