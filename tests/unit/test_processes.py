"""Pid files that survive pid reuse, and stops that take the whole process group.

These spawn ``sh`` and ``sleep`` into ``tmp_path``: no ports, no services.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psutil
import pytest

from app.localstack import processes
from app.localstack.processes import ProcessRecord

# A leader with a child, as a JVM or a wrapper script would have.
COMMAND = ["sh", "-c", "echo started; sleep 60 & sleep 60"]


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie awaiting its reaper counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def spawned(tmp_path: Path) -> Iterator[tuple[ProcessRecord, Path]]:
    """A running group from ``COMMAND`` and its pid file; killed whatever the test did."""
    pid_file = tmp_path / "run" / "svc.pid"
    record = processes.spawn(COMMAND, pid_file=pid_file, log_file=tmp_path / "logs" / "svc.log")
    try:
        yield record, pid_file
    finally:
        processes.kill_hard(record)


def children_of(record: ProcessRecord) -> list[int]:
    """The pids under the leader, once the shell has forked them."""
    found: list[int] = []

    def check() -> bool:
        found[:] = [c.pid for c in psutil.Process(record.pid).children(recursive=True)]
        return len(found) >= 2

    assert processes.wait_until(check, timeout_s=5, interval_s=0.05), "sh did not fork its sleeps"
    return found


def test_spawn_records_the_process_in_its_pid_file(
    spawned: tuple[ProcessRecord, Path], tmp_path: Path
) -> None:
    record, pid_file = spawned
    assert record.alive()
    assert record.command == tuple(COMMAND)
    assert record.create_time == pytest.approx(psutil.Process(record.pid).create_time())
    assert processes.read_record(pid_file) == record
    assert processes.running_record(pid_file) == record
    # Its own session and group, so `stop` can signal the group.
    assert os.getsid(record.pid) == record.pid
    assert os.getpgid(record.pid) == record.pid
    log = tmp_path / "logs" / "svc.log"
    assert processes.wait_until(lambda: "started" in log.read_text(), timeout_s=5)


def test_spawn_runs_in_cwd_with_extra_env(tmp_path: Path) -> None:
    pid_file, log_file = tmp_path / "p.pid", tmp_path / "p.log"
    work = tmp_path / "work"
    work.mkdir()
    record = processes.spawn(
        ["sh", "-c", 'echo "$PWD $STREAMKIT_PROBE"'],
        pid_file=pid_file,
        log_file=log_file,
        env={"STREAMKIT_PROBE": "probe-value"},
        cwd=work,
    )
    try:
        assert processes.wait_until(lambda: log_file.read_text().strip() != "", timeout_s=5)
        assert log_file.read_text().strip() == f"{work} probe-value"
    finally:
        processes.kill_hard(record)


def test_a_missing_pid_file_means_not_running(tmp_path: Path) -> None:
    assert processes.read_record(tmp_path / "none.pid") is None
    assert processes.running_record(tmp_path / "none.pid") is None


def test_a_recycled_pid_is_stale_and_its_file_removed(tmp_path: Path) -> None:
    # The pid is alive (it is this test), but it started at another time: not ours.
    me = psutil.Process()
    pid_file = tmp_path / "svc.pid"
    pid_file.write_text(
        json.dumps({"pid": me.pid, "create_time": me.create_time() - 100, "command": ["java"]})
    )
    record = processes.read_record(pid_file)
    assert record is not None
    assert not record.alive()
    assert processes.running_record(pid_file) is None
    assert not pid_file.exists()
    assert processes.stop(record) is False  # nothing of ours to stop
    assert me.is_running()


def test_a_dead_pid_is_stale(spawned: tuple[ProcessRecord, Path]) -> None:
    record, pid_file = spawned
    processes.kill_hard(record)
    assert not record.alive()
    assert processes.running_record(pid_file) is None
    assert not pid_file.exists()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "{}",
        "[]",
        "null",
        '"12345"',
        '{"pid": "abc", "create_time": 1.0, "command": []}',
        '{"pid": 1, "create_time": "yesterday", "command": []}',
        '{"pid": 1, "create_time": 1.0}',
        '{"pid": 1, "create_time": 1.0, "command": 5}',
    ],
)
def test_read_record_on_garbage_is_none(tmp_path: Path, text: str) -> None:
    pid_file = tmp_path / "svc.pid"
    pid_file.write_text(text)
    assert processes.read_record(pid_file) is None
    assert processes.running_record(pid_file) is None
    assert not pid_file.exists()


def test_stop_takes_the_whole_group(spawned: tuple[ProcessRecord, Path]) -> None:
    record, _ = spawned
    children = children_of(record)
    assert processes.stop(record, timeout_s=10) is True
    assert not record.alive()
    assert gone(record.pid)
    for pid in children:
        assert processes.wait_until(partial(gone, pid), timeout_s=5), f"child {pid} lives"
    assert processes.stop(record) is False  # a second stop is harmless


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    record = processes.spawn(
        ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
        pid_file=tmp_path / "stubborn.pid",
        log_file=tmp_path / "stubborn.log",
    )
    try:
        assert processes.wait_until(
            lambda: bool(psutil.Process(record.pid).children()), timeout_s=5, interval_s=0.05
        )
        assert processes.stop(record, timeout_s=0.5) is True
        assert gone(record.pid)
    finally:
        processes.kill_hard(record)


def test_kill_hard_takes_the_whole_group(spawned: tuple[ProcessRecord, Path]) -> None:
    record, _ = spawned
    children = children_of(record)
    processes.kill_hard(record)
    assert not record.alive()
    assert gone(record.pid)
    for pid in children:
        assert processes.wait_until(partial(gone, pid), timeout_s=5), f"child {pid} lives"
    processes.kill_hard(record)  # harmless when already dead


def test_wait_until() -> None:
    calls = []

    def third_time() -> bool:
        calls.append(1)
        return len(calls) >= 3

    assert processes.wait_until(third_time, timeout_s=5, interval_s=0.01)
    assert len(calls) == 3
    assert not processes.wait_until(lambda: False, timeout_s=0.05, interval_s=0.01)
