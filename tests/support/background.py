"""Commands a test starts in the background: stopping them, and waiting on what they do."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.pipeline_run import kill_group


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C the group (the job finishes its batch), SIGKILL it if it hangs."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
            return
        except subprocess.TimeoutExpired:
            pass
    kill_group(process)


def wait_for(what: str, ready: Callable[[], Any], timeout_s: float, log: Path) -> Any:
    """Poll ``ready()`` until it returns something truthy; fail showing the log's tail."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := ready():
            return found
        time.sleep(1.0)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    pytest.fail(f"{what} within {timeout_s:.0f} s; {log.name}:\n{tail}")
