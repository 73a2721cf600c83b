"""Running a connector's reader beside the writer, so that reading overlaps writing.

An import is a pipeline: a reader turns the source into captures, the archive writes them.
Two ways to run the reader beside the writer:

* :func:`in_background`, a thread: enough when the writer spends its time inside SQLite (which
  releases the GIL) or the reader only feeds worker processes;
* :func:`in_child_process`, a process of its own: for readers that are Python through and
  through (XML callbacks, phone-number parsing), which a thread would only slow down.

Both are bounded, so a fast reader never runs far ahead of the writer: memory stays flat
whatever the source size.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

from ..archive.runner import process_gone
from ..archive.store import fewer_collections
from ..i18n import _, language

if TYPE_CHECKING:
    # multiprocessing itself is loaded when a process is first started: most commands never do.
    from multiprocessing.connection import Connection
    from multiprocessing.context import BaseContext

T = TypeVar("T")
R = TypeVar("R")
_DONE = object()


def mp_context() -> BaseContext:
    """How worker processes are started."""
    from multiprocessing import get_context

    # fork starts workers fastest; from Python 3.12 forking a process that runs threads (the
    # IMAP fetcher and the WAL checkpointer do) is deprecated, so there the fork server does.
    return get_context("fork" if sys.version_info < (3, 12) else "forkserver")


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def in_background(items: Iterable[T], *, buffer: int = 1000) -> Generator[T, None, None]:
    """Yield ``items`` as a thread produces them, at most ``buffer`` ahead of the consumer.

    An exception in the producer is raised in the consumer. When the consumer stops early (an
    error while writing, Ctrl-C), the producer stops at its next item and its generator is
    closed, so its own clean-up (worker pools, temporary files) runs.
    """
    ready: queue.Queue[object] = queue.Queue(maxsize=buffer)
    stop = threading.Event()

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if stop.is_set():
                    break
                ready.put(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            ready.put(_Failed(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
            ready.put(_DONE)

    thread = threading.Thread(target=produce, name="evidence-reader", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, _Failed):
                raise item.error
            yield cast(T, item)
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.1)
        thread.join()


def speak(lang: str) -> None:
    """Make this (child) process write its messages in ``lang``, the language of its parent.

    A forked child has its parent's environment, but one started by the fork server (Python
    3.12 on) has the fork server's, which was read when the server started: a reason written
    in a worker would otherwise come out in another language than the command's summary.
    """
    os.environ["EVIDENCE_LANG"] = lang


def exit_with(parent: int, interval: float = 0.5, lang: str | None = None) -> None:
    """Worker initializer: end this worker soon after the process ``parent`` is gone.

    ``lang``, when given, is the parent's interface language (see :func:`speak`).

    A parent killed with SIGKILL (the OOM killer, ``kill -9``) cannot stop its pool. Forked
    workers each hold the other ends of the pool's pipes, so none of them ever reads an end of
    file: without this they would wait forever, holding the archive file open.
    """

    if lang is not None:
        speak(lang)

    def watch() -> None:
        while not process_gone(parent):
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="evidence-exit-with-parent", daemon=True).start()


class ReaderProcessError(RuntimeError):
    """The reader's process ended without saying why (killed, out of memory)."""


def _serve(
    conn: Connection,
    parent_end: Connection,
    target: Callable[..., Generator[Any, None, Any]],
    args: tuple[Any, ...],
    batch_size: int,
    weigh: Callable[[Any], int] | None,
    batch_bytes: int,
    lang: str,
    pack: Callable[[Any], Any] | None,
) -> None:
    """The child's side of :func:`in_child_process`."""
    speak(lang)
    # A reader makes many short-lived objects, as the writer does (a child started by the fork
    # server does not inherit the writer's setting).
    with fewer_collections():
        # A forked child holds a copy of the parent's end of the pipe; while it does, a parent
        # killed with SIGKILL would leave it blocked in send() forever instead of BrokenPipeError.
        parent_end.close()
        batch: list[Any] = []
        try:
            produced = target(*args)
            weight = 0
            while True:
                try:
                    item = next(produced)
                except StopIteration as stop:
                    result = stop.value
                    break
                if weigh is not None:
                    weight += weigh(item)
                batch.append(item if pack is None else pack(item))
                if len(batch) >= batch_size or weight >= batch_bytes:
                    ready, batch, weight = batch, [], 0
                    conn.send(("items", ready))
            if batch:
                ready, batch = batch, []
                conn.send(("items", ready))
            conn.send(("done", result))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the parent stopped listening (it failed, or was killed): nothing to tell
        except BaseException as exc:  # noqa: BLE001 - handed to the parent, raised there
            try:
                pickle.dumps(exc)
            except Exception:  # noqa: BLE001 - an exception that cannot cross keeps its text
                exc = RuntimeError(f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                if batch:  # what was read before the failure is good: it goes first
                    conn.send(("items", batch))
                conn.send(("failed", exc))
        finally:
            conn.close()


def _widen(conn: Connection) -> None:
    """Give the pipe the largest buffer the system allows (Linux: 1 MiB instead of 64 KiB).

    With a small buffer the child blocks in ``send`` until this process's receiving thread has
    read each 64 KiB, and that thread needs the GIL for every read: whenever the writer holds
    the GIL for a while, the reader stands still. A whole batch fitting in the pipe decouples
    them. Where this cannot be set, the default buffer works, only slower.
    """
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    try:
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    except (OSError, ValueError):
        limit = 1 << 20
    with contextlib.suppress(OSError):
        fcntl.fcntl(conn.fileno(), set_size, min(limit, 4 << 20))


def in_child_process(
    target: Callable[..., Generator[T, None, R]],
    *args: Any,
    batch_size: int = 128,
    weigh: Callable[[T], int] | None = None,
    batch_bytes: int = 8 << 20,
    lookahead: int = 4,
    pack: Callable[[T], Any] | None = None,
    unpack: Callable[[Any], T] | None = None,
) -> Generator[T, None, R]:
    """Run the generator ``target(*args)`` in a child process; yield what it yields.

    Returns (as a generator's value) what ``target`` returns, so a reader can hand back its
    notes at the end. ``target``, ``args`` and ``weigh`` must be picklable where processes are
    not forked. Items cross in batches of ``batch_size``, or fewer once ``weigh`` (the bytes an
    item holds in memory) adds up to ``batch_bytes``. A thread here takes in up to
    ``lookahead`` batches, so the child keeps working while the caller is busy for a while (a
    COMMIT), and memory stays bounded at about ``lookahead + 2`` batches. An exception in the
    child is raised here; if the caller stops early, the child is stopped.

    ``pack`` (in the child) and ``unpack`` (here) may give an item a cheaper form to cross in:
    unpickling is done by the receiving thread, which holds this process's GIL meanwhile, so
    every microsecond it takes is one the caller waits (see :func:`.ingest.pack_prepared`).
    """
    context = mp_context()
    receiving, sending = context.Pipe(duplex=False)
    _widen(receiving)
    child = context.Process(  # type: ignore[attr-defined]
        target=_serve,
        args=(
            sending,
            receiving,
            target,
            args,
            batch_size,
            weigh,
            batch_bytes,
            language(),
            pack,
        ),
        name="evidence-reader",
        daemon=True,
    )
    child.start()
    sending.close()

    def messages() -> Iterator[tuple[str, Any]]:
        while True:
            try:
                message: tuple[str, Any] = receiving.recv()
            except EOFError:
                child.join()
                raise ReaderProcessError(
                    _("the reader process stopped unexpectedly (exit code {code})").format(
                        code=child.exitcode
                    )
                ) from None
            yield message
            if message[0] != "items":
                return

    received = in_background(messages(), buffer=lookahead)
    try:
        for kind, payload in received:
            if kind == "items":
                yield from payload if unpack is None else map(unpack, payload)
            elif kind == "done":
                return cast(R, payload)
            else:
                raise payload
        raise ReaderProcessError(_("the reader process ended without finishing"))
    finally:
        # Stopped first, so that the receiving thread is not left waiting for it.
        if child.is_alive():
            child.terminate()
        received.close()
        receiving.close()
        child.join()
