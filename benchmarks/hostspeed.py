"""A reference for how fast the host runs while a benchmark runs.

Shared and virtual machines change speed from minute to minute: the host this project's figures
were measured on ran the same pure-Python loop in 1.7 s at one moment and 3.4 s a few minutes
later. A benchmark prints the loop's time before and after its runs, so that its figures can be
read against the state of the machine instead of being compared blindly across runs.
"""

from __future__ import annotations

import time

STEPS = 20_000_000


# Run as top-level code (names in a dict, as in a script), the way the figures in this
# project's notes were taken; the same loop in a function runs about twice as fast.
_LOOP = compile("total = 0\nfor step in range(steps):\n    total += step\n", "loop", "exec")


def loop_seconds(steps: int = STEPS) -> float:
    """Seconds for ``steps`` additions in a plain Python loop (one core, no I/O)."""
    started = time.perf_counter()
    exec(_LOOP, {"steps": steps})  # noqa: S102 - our own constant code
    return time.perf_counter() - started


def report(when: str) -> None:
    print(
        f"host speed {when}: a {STEPS // 1_000_000}M-step Python loop took "
        f"{loop_seconds():.2f} s (1.7-1.8 s when the host these figures were tuned on runs at "
        "full speed)",
        flush=True,
    )
