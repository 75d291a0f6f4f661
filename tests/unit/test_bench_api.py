"""The API benchmark's priorities: the hot-store server yields to serving for the run only."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil
import pytest

from app.bench.api import hot_store_deprioritized
from app.localstack.paths import StackPaths
from app.localstack.processes import spawn, stop
from app.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", pipeline={"nice": 7})


def test_the_hot_store_server_runs_at_the_jobs_priority_during_the_run(settings: Settings) -> None:
    paths = StackPaths.of(settings)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    record = spawn(sleeper, pid_file=paths.pid_file("mongo"), log_file=paths.log_file("mongo"))
    try:
        server = psutil.Process(record.pid)
        assert server.nice() == 0
        with hot_store_deprioritized(settings, print):
            assert server.nice() == 7
        # Back to 0; raising a priority takes root, so a user's server keeps 7 (with a message).
        assert server.nice() == (0 if os.geteuid() == 0 else 7)
    finally:
        stop(record)


def test_without_a_local_server_nothing_is_touched(settings: Settings) -> None:
    with hot_store_deprioritized(settings, print):
        pass  # no pid file: a hot store elsewhere is not ours to renice
