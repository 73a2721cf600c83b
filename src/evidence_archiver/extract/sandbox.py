"""Run an extractor over many inputs in worker processes that may be killed.

A hostile or broken file must never hang or crash an import. Parsers are large C and Python
code bases (pdfminer, pdfium, Pillow, Tesseract) that can loop, recurse, or allocate without
bound on crafted input, and a Python thread cannot be stopped from outside. So each job runs in
a worker *process*:

* one worker per core (``Limits.workers``), each taking one job at a time over a pipe, so the
  cores are used in parallel and a worker's imports are paid once, not per job;
* a **wall-time limit** per job: the parent waits on the pipes with a deadline and kills a
  worker whose job overruns it, then starts a fresh one;
* a **memory limit** per worker: ``resource.setrlimit(RLIMIT_AS)`` in the worker, so an
  allocation past it raises ``MemoryError`` (reported as such) instead of swapping the machine;
* a worker that dies (a segfault in C code, ``os._exit``) is noticed by its pipe closing, the
  job is reported with the exit code or signal, and a fresh worker takes over.

Every job comes back as an :class:`Outcome` in input order, either with the value or with the
reason it failed; the rest of the jobs go on.

Workers are plain ``python -m evidence_archiver.extract.sandbox`` child processes talking
length-prefixed pickles over their stdin and stdout, not ``multiprocessing`` processes: a fork
of a parent that has threads (a progress bar) can deadlock, and the ``spawn``/``forkserver``
start methods re-import the caller's ``__main__``, which breaks any script without a main
guard. A fresh interpreter per worker costs a few hundred milliseconds once per worker.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from ..errors import EvidenceError
from ..i18n import _

J = TypeVar("J")
R = TypeVar("R")

DEFAULT_SECONDS = 60.0
DEFAULT_MEMORY_MB = 1536
STARTUP_SECONDS = 120.0
MAX_DEFAULT_WORKERS = 8
# Imported by each worker before it says it is ready, so no job's time limit pays for them.
PRELOAD = ("evidence_archiver.extract.documents", "pdfplumber", "pypdfium2", "PIL.Image")
_HEADER = struct.Struct("!Q")


class SandboxError(EvidenceError):
    """The extraction workers cannot start at all (not a problem of one input)."""


@dataclass(frozen=True)
class Limits:
    """Per-job wall time (seconds), per-worker address space (MiB), number of workers."""

    seconds: float = DEFAULT_SECONDS
    memory_mb: int = DEFAULT_MEMORY_MB
    workers: int = 0  # 0: one per core

    def worker_count(self) -> int:
        if self.workers > 0:
            return self.workers
        # The cores this process may use; capped so a big server does not get 64 workers
        # with a memory limit each.
        usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        cores = len(usable) if usable else (os.cpu_count() or 1)
        return max(1, min(cores, MAX_DEFAULT_WORKERS))


@dataclass(frozen=True)
class Outcome(Generic[J, R]):
    """One job's result: ``value`` when it ran to the end, else ``failure`` says why not."""

    job: J
    value: R | None
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def _write_message(stream: IO[bytes], value: Any) -> None:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise EOFError("the worker closed its pipe")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_message(stream: IO[bytes]) -> Any:
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    return pickle.loads(_read_exact(stream, size))


def _serve(memory_mb: int) -> None:
    """Body of a worker process: apply the memory limit, then serve jobs until stdin closes."""
    import logging
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # A crash on a hostile file must not leave a core dump (a copy of its contents) behind.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # The protocol owns the real stdout; anything a library prints goes to stderr instead.
    channel = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    requests = os.fdopen(0, "rb", buffering=0)
    # A parser's complaints are collected by the extractor itself; the terminal stays clean.
    logging.getLogger().setLevel(logging.CRITICAL)
    for module in PRELOAD:  # a worker that cannot even import exits here, before "ready"
        __import__(module)
    _write_message(channel, ("ready", None))
    while True:
        try:
            func, job = _read_message(requests)
        except EOFError:
            return
        try:
            reply: tuple[str, Any] = ("ok", func(job))
        except MemoryError:
            reply = (
                "failed",
                _("needs more than the memory limit of {memory_mb} MB").format(memory_mb=memory_mb),
            )
        except RecursionError:
            reply = ("failed", _("its structure nests too deeply to read (recursion limit)"))
        except Exception as exc:
            reply = (
                "failed",
                _("the extractor failed: {kind}: {error}").format(
                    kind=type(exc).__name__, error=str(exc)[:200]
                ),
            )
        try:
            _write_message(channel, reply)
        except MemoryError:
            _write_message(
                channel,
                (
                    "failed",
                    _("its result exceeds the memory limit of {memory_mb} MB").format(
                        memory_mb=memory_mb
                    ),
                ),
            )


def _child_env() -> dict[str, str]:
    # The worker must import what the parent can (a test module's function, say).
    paths = [p for p in sys.path if p and Path(p).is_dir()]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["OMP_THREAD_LIMIT"] = "1"
    return env


class _Worker:
    def __init__(self, memory_mb: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evidence_archiver.extract.sandbox", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            env=_child_env(),
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.requests: IO[bytes] = self.process.stdin
        self.replies: IO[bytes] = self.process.stdout
        self.seq: int | None = None
        self.ready = False  # set when the worker says it has started
        self.deadline = time.monotonic() + STARTUP_SECONDS

    def give(self, seq: int, func: Callable[[Any], Any], job: Any, seconds: float) -> bool:
        """Send a job; False when the worker is already gone (it will be reported as dead)."""
        self.seq = seq
        self.deadline = time.monotonic() + seconds
        try:
            _write_message(self.requests, (func, job))
        except (BrokenPipeError, OSError):
            return False
        return True

    def stop(self, *, now: bool = False) -> None:
        if not now:
            try:
                self.requests.close()
                self.process.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for stream in (self.requests, self.replies):
            with contextlib.suppress(OSError):
                stream.close()

    def death_reason(self, memory_mb: int) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return _("the extractor stopped answering; the file may be damaged or hostile")
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return _(
                "the extractor crashed on it ({name}); the file may be damaged or hostile, or "
                "need more than the memory limit of {memory_mb} MB"
            ).format(name=name, memory_mb=memory_mb)
        return _(
            "the extractor stopped on it (exit code {code}); the file may be damaged or hostile"
        ).format(code=code)


def _check_startup(worker: _Worker, readable: bool, limits: Limits) -> None:
    """Mark a worker ready once it says so; a worker that cannot start stops the whole run.

    The time limit of a job starts only when a ready worker takes it, so the seconds an
    interpreter needs to start on a busy machine never count against a document.
    """
    if readable:
        try:
            status, _reply = _read_message(worker.replies)
        except (EOFError, OSError, pickle.UnpicklingError):
            status = "dead"
        if status == "ready":
            worker.ready = True
            return
    elif time.monotonic() < worker.deadline:
        return
    worker.stop(now=True)
    raise SandboxError(
        _(
            "the extraction worker processes could not start (is the memory limit of {memory_mb} "
            "MB too low? try --memory-mb 1536)"
        ).format(memory_mb=limits.memory_mb)
    )


def run_isolated(
    func: Callable[[J], R],
    jobs: Iterable[J],
    limits: Limits | None = None,
) -> Iterator[Outcome[J, R]]:
    """Apply ``func`` to each job in worker processes; yield outcomes in input order.

    ``func`` must be importable by name (a module-level function) and each job picklable
    (paths, bytes, small dataclasses). At most a few jobs per worker are read ahead of the
    slowest, so an endless ``jobs`` iterator is fine and memory stays bounded.
    """
    limits = limits or Limits()
    count = limits.worker_count()
    window = count * 4
    workers: list[_Worker] = []
    job_iter = iter(jobs)
    queued: dict[int, J] = {}
    done: dict[int, Outcome[J, R]] = {}
    next_seq = 0
    next_out = 0
    exhausted = False
    try:
        workers = [_Worker(limits.memory_mb) for _ in range(count)]
        while True:
            # Hand out jobs to idle workers, staying within the read-ahead window.
            for worker in workers:
                if not worker.ready or worker.seq is not None:
                    continue
                if exhausted or next_seq - next_out >= window:
                    break
                try:
                    job = next(job_iter)
                except StopIteration:
                    exhausted = True
                    break
                queued[next_seq] = job
                worker.give(next_seq, func, job, limits.seconds)
                next_seq += 1
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            if exhausted and next_out == next_seq:
                return
            # Wait for a reply, a worker starting up, or the nearest deadline.
            waiting = [w for w in workers if w.seq is not None or not w.ready]
            if not waiting:
                continue
            timeout = max(0.0, min(w.deadline for w in waiting) - time.monotonic())
            ready = set(wait([w.replies.fileno() for w in waiting], timeout=timeout))
            for index, worker in enumerate(workers):
                if not worker.ready:
                    _check_startup(worker, worker.replies.fileno() in ready, limits)
                    continue
                seq = worker.seq
                if seq is None:
                    continue
                if worker.replies.fileno() in ready:
                    try:
                        status, payload = _read_message(worker.replies)
                    except (EOFError, OSError, pickle.UnpicklingError):
                        failure = worker.death_reason(limits.memory_mb)
                    else:
                        worker.seq = None
                        ok = status == "ok"
                        done[seq] = Outcome(
                            queued.pop(seq), payload if ok else None, None if ok else str(payload)
                        )
                        continue
                elif time.monotonic() >= worker.deadline:
                    failure = _("took longer than the time limit of {seconds} s").format(
                        seconds=format(limits.seconds, "g")
                    )
                else:
                    continue
                # The worker hung or died: replace it, report the job, go on.
                worker.stop(now=True)
                workers[index] = _Worker(limits.memory_mb)
                done[seq] = Outcome(queued.pop(seq), None, failure)
    finally:
        for worker in workers:
            worker.stop(now=worker.seq is not None)


if __name__ == "__main__":
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MEMORY_MB)
