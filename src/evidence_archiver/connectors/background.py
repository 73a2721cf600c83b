"""Running a connector's reader in a thread, so that reading overlaps writing.

An import is a pipeline: a reader turns the source into captures, the archive writes them.
The writer spends most of its time inside SQLite, which releases the GIL, so a reader running
in another thread keeps a core busy in the meantime. The queue between them is bounded, so a
fast reader never runs far ahead of the writer: memory stays flat whatever the source size.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar, cast

T = TypeVar("T")
_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def in_background(items: Iterable[T], *, buffer: int = 1000) -> Iterator[T]:
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
