"""The sandbox: jobs that hang, crash, raise or exhaust memory are reported, the rest go on."""

from __future__ import annotations

import os
import time

import pytest

from evidence_archiver.extract.sandbox import Limits, SandboxError, run_isolated


def behave(job: str) -> str:
    """A job that does what its name says; run inside the sandbox's worker processes."""
    if job == "hang":
        time.sleep(3600)
    elif job == "crash":
        os.abort()
    elif job == "exit":
        os._exit(3)
    elif job == "hog":
        blocks = []
        while True:  # grows until the address-space limit stops it
            blocks.append(bytearray(64 << 20))
    elif job.startswith("nap"):
        time.sleep(0.4)
    elif job == "raise":
        raise ValueError("bad input")
    elif job == "recurse":
        return behave("recurse")
    return f"done {job} in {os.getpid()}"


def outcomes(jobs: list[str], **limits: float) -> list[tuple[str, str | None, str | None]]:
    got = run_isolated(behave, jobs, Limits(**limits))
    return [(o.job, o.value, o.failure) for o in got]


def test_results_come_back_in_input_order_with_values() -> None:
    got = outcomes([f"job{i}" for i in range(9)], seconds=30, workers=2)
    assert [job for job, _, _ in got] == [f"job{i}" for i in range(9)]
    assert all(value and value.startswith(f"done {job}") for job, value, _ in got)


def test_both_workers_take_jobs() -> None:
    # Jobs that take a while, so that the second worker has started before the first is done.
    got = outcomes([f"nap{i}" for i in range(12)], seconds=30, workers=2)
    pids = {value.rsplit(" ", 1)[1] for _, value, _ in got if value}
    assert len(pids) == 2


@pytest.mark.slow
def test_a_hanging_job_is_killed_at_the_time_limit_and_the_rest_go_on() -> None:
    start = time.monotonic()
    got = outcomes(["a", "hang", "b", "c"], seconds=1.5, workers=2)
    assert time.monotonic() - start < 20
    failures = {job: failure for job, _, failure in got}
    assert failures["hang"] == "took longer than the time limit of 1.5 s"
    assert failures["a"] is None
    assert failures["b"] is None
    assert failures["c"] is None


def test_a_crashing_worker_is_reported_with_its_signal_and_replaced() -> None:
    got = outcomes(["crash", "a", "exit", "b"], seconds=30, workers=1)
    failures = {job: failure for job, _, failure in got}
    assert failures["crash"] is not None
    assert "SIGABRT" in failures["crash"]
    assert failures["exit"] is not None
    assert "exit code 3" in failures["exit"]
    assert failures["a"] is None
    assert failures["b"] is None


def test_a_job_past_the_memory_limit_fails_with_memory_in_the_reason() -> None:
    got = outcomes(["hog", "a"], seconds=60, memory_mb=512, workers=1)
    assert got[0][2] == "needs more than the memory limit of 512 MB"
    assert got[1][2] is None


def test_exceptions_and_endless_recursion_are_reasons_not_crashes() -> None:
    got = outcomes(["raise", "recurse", "a"], seconds=30, workers=1)
    assert got[0][2] == "the extractor failed: ValueError: bad input"
    assert got[1][2] is not None
    assert "nests too deeply" in got[1][2]
    assert got[2][2] is None


def test_an_endless_job_stream_is_read_ahead_only_a_little() -> None:
    pulled: list[int] = []

    def jobs() -> object:
        n = 0
        while True:
            pulled.append(n)
            yield f"job{n}"
            n += 1

    stream = run_isolated(behave, jobs(), Limits(seconds=30, workers=2))
    first = [next(stream) for _ in range(3)]
    stream.close()
    assert [o.job for o in first] == ["job0", "job1", "job2"]
    assert len(pulled) <= 3 + 2 * 4


def test_workers_that_cannot_start_stop_the_run_with_a_clear_error() -> None:
    with pytest.raises(SandboxError, match="could not start"):
        list(run_isolated(behave, ["a"], Limits(seconds=30, memory_mb=20, workers=1)))
