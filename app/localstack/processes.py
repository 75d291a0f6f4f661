"""Start, find and stop the native processes of the local stack.

A pid file records the pid *and* the process's start time: ``down`` and
``status`` trust a pid only when both match, so a recycled pid (another
program that got the same number after a reboot or crash) is never killed.
Each service runs in its own session, so stopping it takes its whole process
group, children included.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class ProcessRecord:
    """What ``up`` wrote about a process it started."""

    pid: int
    create_time: float
    command: tuple[str, ...]

    def alive(self) -> bool:
        """True when this very process (not a recycled pid) is still running."""
        try:
            proc = psutil.Process(self.pid)
            same = abs(proc.create_time() - self.create_time) < 0.5
            return bool(same and proc.status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return False


def read_record(pid_file: Path) -> ProcessRecord | None:
    """The record in ``pid_file``, or None when absent or unreadable."""
    try:
        data = json.loads(pid_file.read_text())
        return ProcessRecord(int(data["pid"]), float(data["create_time"]), tuple(data["command"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_record(pid_file: Path) -> ProcessRecord | None:
    """The record in ``pid_file`` when its process is still alive; stale files are removed."""
    record = read_record(pid_file)
    if record is not None and record.alive():
        return record
    pid_file.unlink(missing_ok=True)
    return None


def spawn(
    command: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ProcessRecord:
    """Start ``command`` detached in its own session, logging to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - commands are built by the stack, not from input
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,  # own process group: `down` stops it whole
        )
    record = ProcessRecord(proc.pid, psutil.Process(proc.pid).create_time(), tuple(command))
    pid_file.write_text(json.dumps(asdict(record)))
    return record


def stop(record: ProcessRecord, timeout_s: float = 30.0) -> bool:
    """Stop the process group of ``record``: SIGTERM, then SIGKILL after ``timeout_s``.

    Returns True when the process was running and is now gone.
    """
    if not record.alive():
        return False
    group = _group_members(record.pid)
    _signal_group(record.pid, signal.SIGTERM)
    alive = _wait_exited(group, timeout_s)
    if alive:
        _signal_group(record.pid, signal.SIGKILL)
        _wait_exited(alive, 10)
    _reap(record.pid)
    return True


def kill_hard(record: ProcessRecord) -> None:
    """SIGKILL the whole group at once, as a crash would (used by recovery tests)."""
    if record.alive():
        group = _group_members(record.pid)
        _signal_group(record.pid, signal.SIGKILL)
        _wait_exited(group, 10)
        _reap(record.pid)


def _group_members(pid: int) -> list[psutil.Process]:
    try:
        leader = psutil.Process(pid)
        return [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _wait_exited(procs: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Wait until each process has exited; return those still running at the timeout.

    A zombie counts as exited: it holds no port or file any more, and its
    reaper is its parent (init, for a service started by an earlier
    ``up``), not us. ``psutil.wait_procs`` waits for the reaping, which an
    init that reaps late (or never, in some containers) turns into the full
    timeout and a needless SIGKILL.
    """
    deadline = time.monotonic() + timeout_s
    alive = procs
    while True:
        alive = [p for p in alive if _running(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    # When this very process spawned the child (tests do), collect its exit
    # status so it does not linger as a zombie holding the pid.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_until(check: Callable[[], object], timeout_s: float, interval_s: float = 0.25) -> bool:
    """Call ``check()`` until it returns truthy or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval_s)
    return False
