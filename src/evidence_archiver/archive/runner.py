"""Which process runs an import, so that a run still marked ``running`` can be told apart from
one whose process was killed (power cut, SIGKILL, a closed laptop lid that never came back).

An import row records the process id, the host name and, where the system tells it, when that
process started; the start time guards against a new process that happens to get the same id.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Runner:
    pid: int
    host: str
    started: str | None  # the process's start time in clock ticks since boot (Linux), or None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields count from its end.
    return stat.rsplit(")", 1)[-1].split()


def _start_ticks(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def process_gone(pid: int) -> bool:
    """True once the process ``pid`` has ended, also when it was killed and not yet reaped by
    whoever started it (a zombie). Without ``/proc`` (macOS) only the signal test tells."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, under another user
    fields = _stat_fields(pid)
    return fields is not None and fields[:1] == ["Z"]


def host_name() -> str:
    """This computer's name, as ``socket.gethostname()`` gives it (without loading socket where
    the system tells it directly)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def this_process() -> Runner:
    return Runner(os.getpid(), host_name(), _start_ticks(os.getpid()))


def is_alive(runner: Runner) -> bool | None:
    """True if the process is still running, False if it is gone, None when this computer
    cannot tell (the import ran on another host, or nothing was recorded)."""
    if runner.pid <= 0 or runner.host != host_name():
        return None
    if process_gone(runner.pid):
        return False
    if runner.started is not None:
        now = _start_ticks(runner.pid)
        if now is not None and now != runner.started:
            return False  # the id was reused by a newer process
        if now is None and Path("/proc").is_dir():
            return False  # reaped in between
    return True
