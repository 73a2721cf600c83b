"""Where the review app does its work: one archive connection, and export jobs in threads.

Every page reads the archive through one :class:`ArchiveWorker`: a single thread that owns
the app's :class:`Archive` (an SQLite connection belongs to the thread that opened it), so
requests are answered one archive call at a time, in order, while the event loop stays free
to take the next request. One person uses the app; serialising their clicks costs nothing and
means two of their own changes never race.

An export runs in a thread of its own with its own connection (an export of a large case
takes minutes), into a private folder the app made; the page the user is sent to shows its
progress and, once it is done, a download link naming the job by a random id the server
chose. No name from a request ever becomes a path.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from ..archive import Archive
from ..errors import EvidenceError
from ..i18n import _

T = TypeVar("T")


class ArchiveWorker:
    """Runs functions of the archive on the one thread that owns its connection.

    :meth:`cached` keeps what is costly to read on a large archive (the counts of the
    overview, a case's summary, the order of a case's timeline) for as long as the archive's
    :meth:`~Archive.state_token` is unchanged: any commit, from the app or from an import in
    a terminal, drops it all. Paging through a timeline of 50,000 items then orders them once.
    """

    CACHE_ENTRIES = 32

    def __init__(self, path: Path, clock: Callable[[], Any] | None = None) -> None:
        self.path = path
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence-ui-archive")
        self._archive: Archive | None = None
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._cache_state: tuple[int, int] | None = None

    def still_valid(self, archive: Archive) -> None:
        """Keep the cache across a change of this connection's own that alters nothing cached
        (a tag, a note: no count, no case, no order), unless another connection also
        committed since (its ``data_version`` part then moved)."""
        state = archive.state_token()
        if self._cache_state is not None and state[0] == self._cache_state[0]:
            self._cache_state = state

    def cached(self, archive: Archive, key: Hashable, read: Callable[[], T]) -> T:
        """``read()``, or what it returned last for ``key`` if the archive has not changed
        since (call it on the worker's thread, inside :meth:`run`)."""
        state = archive.state_token()
        if state != self._cache_state:
            self._cache.clear()
            self._cache_state = state
        if key in self._cache:
            self._cache.move_to_end(key)
            return cast(T, self._cache[key])
        value = read()
        self._cache[key] = value
        if len(self._cache) > self.CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return value

    def _open(self) -> Archive:
        if self._archive is None:
            if self._clock is not None:
                self._archive = Archive(self.path, create=False, clock=self._clock)
            else:
                self._archive = Archive(self.path, create=False)
        return self._archive

    async def run(self, fn: Callable[[Archive], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self._open()))

    def close(self) -> None:
        def close() -> None:
            if self._archive is not None:
                self._archive.close()
                self._archive = None

        self._pool.submit(close).result()
        self._pool.shutdown()


@dataclass
class ExportJob:
    """One export: ``state`` is ``running``, ``done`` or ``failed``."""

    id: str
    case: str
    state: str = "running"
    stage: str = ""
    done: int = 0
    total: int = 0
    path: Path | None = None
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


class ExportJobs:
    """Export jobs by id, each writing into its own folder under ``folder``."""

    def __init__(
        self, archive_path: Path, folder: Path, clock: Callable[[], Any] | None = None
    ) -> None:
        self.archive_path = archive_path
        self.folder = folder
        self._clock = clock
        self._jobs: dict[str, ExportJob] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def get(self, job_id: str) -> ExportJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def start(self, case: str, *, lang: str = "both", pdf: bool = True) -> ExportJob:
        job = ExportJob(id=secrets.token_hex(12), case=case)
        with self._lock:
            self._jobs[job.id] = job
        thread = threading.Thread(
            target=self._run, args=(job, lang, pdf), name=f"evidence-ui-export-{job.id}"
        )
        thread.daemon = True
        self._threads.append(thread)
        thread.start()
        return job

    def _run(self, job: ExportJob, lang: str, pdf: bool) -> None:
        from ..export import ExportOptions, export_bundle

        out = self.folder / job.id
        out.mkdir(mode=0o700, parents=True)

        def progress(stage: str, done: int, total: int) -> None:
            job.stage, job.done, job.total = stage, done, total

        if pdf:
            from ..export.render_pdf import FontMissing, find_cjk_font

            try:
                find_cjk_font()
            except FontMissing as exc:
                # As the demo does: a bundle without its PDF, and the page says why.
                pdf = False
                job.notes.append(_("bundle.pdf left out: {reason}").format(reason=exc))
        try:
            kwargs: dict[str, Any] = {"create": False}
            if self._clock is not None:
                kwargs["clock"] = self._clock
            with Archive(self.archive_path, **kwargs) as archive:
                result = export_bundle(
                    archive,
                    ExportOptions(case=job.case, out=out, lang=lang, pdf=pdf),  # type: ignore[arg-type]
                    progress,
                )
            job.result = result.as_json()
            job.path = result.path
            job.state = "done"
        except EvidenceError as exc:
            job.error = str(exc)
            job.state = "failed"
        except Exception as exc:  # noqa: BLE001 - the page must say what happened
            job.error = f"{type(exc).__name__}: {exc}"
            job.state = "failed"

    def wait(self, timeout: float | None = None) -> None:
        for thread in list(self._threads):
            thread.join(timeout)

    def close(self) -> None:
        self.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)
