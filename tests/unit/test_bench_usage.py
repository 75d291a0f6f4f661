"""Per-service CPU and memory from real processes: a busy child counts, an ended tree is absent."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from app.bench.usage import TreeSampler

# A parent that starts a busy child and waits: the child's CPU must count for the parent's tree.
BUSY_TREE = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'while True: pass'])"


@pytest.fixture
def busy_tree() -> Iterator[subprocess.Popen[bytes]]:
    parent = subprocess.Popen([sys.executable, "-c", BUSY_TREE], start_new_session=True)
    try:
        yield parent
    finally:
        subprocess.run(["pkill", "-KILL", "-s", str(parent.pid)], check=False)
        parent.wait(timeout=10)


@pytest.fixture
def idle() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def test_a_busy_child_counts_for_its_tree_and_an_idle_process_does_not(
    busy_tree: subprocess.Popen[bytes], idle: subprocess.Popen[bytes]
) -> None:
    sampler = TreeSampler({"busy": busy_tree.pid, "idle": idle.pid})
    deadline = time.monotonic() + 10
    while sampler.sample()["busy"].processes < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # the parent has not started its child yet
    sampler.sample()  # starts the measurement of both members of the tree
    time.sleep(1.0)
    usage = sampler.sample()
    assert usage["busy"].processes == 2
    assert usage["busy"].cpu_percent > 30  # a spinning loop, even on a loaded machine
    assert usage["busy"].rss_mib > 5
    assert usage["idle"].processes == 1
    assert usage["idle"].cpu_percent < 10


def test_an_ended_service_is_absent(idle: subprocess.Popen[bytes]) -> None:
    sampler = TreeSampler({"idle": idle.pid})
    assert "idle" in sampler.sample()
    idle.kill()
    idle.wait(timeout=10)
    assert sampler.sample() == {}


def test_a_child_that_ends_before_its_first_reading_is_skipped(
    busy_tree: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of a tree with short-lived children: listed, then gone when read."""
    wait_for_child(busy_tree.pid)
    real = psutil.Process.cpu_percent

    def vanished(self: psutil.Process, interval: float | None = None) -> float:
        if self.pid != busy_tree.pid:
            raise psutil.NoSuchProcess(self.pid)
        return real(self, interval)

    monkeypatch.setattr(psutil.Process, "cpu_percent", vanished)
    usage = TreeSampler({"tree": busy_tree.pid}).sample()
    assert usage["tree"].processes == 1  # the parent; the child is skipped, not fatal


def wait_for_child(pid: int) -> None:
    deadline = time.monotonic() + 10
    while not psutil.Process(pid).children() and time.monotonic() < deadline:
        time.sleep(0.05)
