"""Readers run beside the writer: in a child process (:func:`in_child_process`), with the
child's items, return value, failures and early stops all reaching the caller."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import time
from collections.abc import Generator
from pathlib import Path

import pytest

from evidence_archiver.connectors.background import ReaderProcessError, _widen, in_child_process


def numbers(count: int) -> Generator[int, None, str]:
    yield from range(count)
    return f"made {count}"


def failing_after(count: int) -> Generator[int, None, None]:
    yield from range(count)
    raise ValueError(f"bad record after {count}")


class Unpicklable(Exception):
    def __init__(self, text: str, handle: object) -> None:
        super().__init__(text)
        self.handle = handle

    def __reduce__(self) -> object:
        raise TypeError("cannot cross a pipe")


def failing_oddly() -> Generator[int, None, None]:
    yield 1
    raise Unpicklable("the reader broke", lambda: None)


def dying(count: int) -> Generator[int, None, None]:
    yield from range(count)
    os._exit(3)


def endless() -> Generator[int, None, None]:
    n = 0
    while True:
        yield n
        n += 1


def weighed(item: bytes) -> int:
    return len(item)


def blobs(count: int, size: int) -> Generator[bytes, None, int]:
    for n in range(count):
        yield bytes([n % 256]) * size
    return count


def drain(produced: Generator[int, None, object]) -> tuple[list[int], object]:
    """Every item, then the generator's return value."""
    got: list[int] = []
    while True:
        try:
            got.append(next(produced))
        except StopIteration as stop:
            return got, stop.value


@pytest.mark.parametrize("count", [0, 1, 127, 128, 129, 1000])
def test_items_arrive_in_order_with_the_return_value(count: int) -> None:
    got, value = drain(in_child_process(numbers, count, batch_size=128))
    assert got == list(range(count))
    assert value == f"made {count}"


def test_a_failure_in_the_child_is_raised_here_after_the_items_before_it() -> None:
    produced = in_child_process(failing_after, 300, batch_size=64)
    got = [next(produced) for _ in range(300)]
    assert got == list(range(300))
    with pytest.raises(ValueError, match="bad record after 300"):
        next(produced)


def test_an_exception_that_cannot_be_pickled_keeps_its_text() -> None:
    with pytest.raises(RuntimeError, match="Unpicklable: the reader broke"):
        list(in_child_process(failing_oddly))


def test_a_child_that_dies_is_reported_not_waited_for() -> None:
    with pytest.raises(ReaderProcessError, match="exit code 3"):
        list(in_child_process(dying, 10))


def test_stopping_early_stops_the_child() -> None:
    produced = in_child_process(endless, batch_size=16)
    assert [next(produced) for _ in range(100)] == list(range(100))
    produced.close()
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert multiprocessing.active_children() == []


def test_large_items_cross_in_smaller_batches() -> None:
    # 64 items of 1 MiB with a 4 MiB budget: the child sends batches of 4, not one of 64,
    # and everything arrives intact.
    produced = in_child_process(
        blobs, 64, 1 << 20, batch_size=1000, weigh=weighed, batch_bytes=4 << 20
    )
    got = list(produced)
    assert [b[0] for b in got] == [n % 256 for n in range(64)]
    assert all(len(b) == 1 << 20 for b in got)


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="pipe sizes are a Linux feature")
def test_the_pipe_from_a_reader_holds_a_whole_batch() -> None:
    receiving, sending = multiprocessing.Pipe(duplex=False)
    try:
        before = fcntl.fcntl(receiving.fileno(), fcntl.F_GETPIPE_SZ)
        _widen(receiving)
        after = fcntl.fcntl(receiving.fileno(), fcntl.F_GETPIPE_SZ)
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        assert after == max(before, min(limit, 4 << 20))
        # A batch of that size goes in without anyone reading: the child never waits for the
        # receiving thread to get the GIL.
        sending.send_bytes(b"x" * (after - 64))
        assert receiving.recv_bytes() == b"x" * (after - 64)
    finally:
        receiving.close()
        sending.close()


def _crossing_form(item: int) -> tuple[str, int]:
    return ("packed", item)


def _item_again(packed: tuple[str, int]) -> int:
    assert packed[0] == "packed"
    return packed[1]


def test_items_may_cross_packed_and_arrive_unpacked() -> None:
    got, value = drain(
        in_child_process(numbers, 300, batch_size=64, pack=_crossing_form, unpack=_item_again)
    )
    assert got == list(range(300))
    assert value == "made 300"


def test_a_prepared_capture_crosses_as_a_plain_tuple_and_comes_back_whole() -> None:
    import pickle

    from evidence_archiver.archive.ingest import pack_prepared, prepare, unpack_prepared
    from evidence_archiver.hashing import blob_from_bytes
    from evidence_archiver.model import Attachment, Capture, ImportProblem, Item, SourceRef

    source = SourceRef("sms-backup-restore", "backup.xml", "element 3 (line 5)")
    prepared = prepare(
        Capture(
            source,
            original=None,
            item=Item(kind="mms", title="MMS from 乐贷", body="您的借款已逾期"),
            attachments=(
                Attachment(blob_from_bytes(b"\x89PNG", "image/png"), "a.png", "image/png"),
            ),
            dedup_key="mms|95555|1|in|abc",
        )
    )
    problem = ImportProblem(source, "unreadable")
    packed = [pack_prepared(prepared), pack_prepared(problem)]
    assert type(packed[0]) is tuple
    assert packed[1] is problem
    back = [unpack_prepared(p) for p in pickle.loads(pickle.dumps(packed))]
    assert back == [prepared, problem]
    assert type(back[0]) is type(prepared)
    assert back[0].where == "backup.xml element 3 (line 5)"
