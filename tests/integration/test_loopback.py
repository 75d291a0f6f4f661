"""`streamkit api` and `streamkit dashboard` listen on the loopback address unless told otherwise.

Issue 8: local services are for this machine. Kafka and the MongoDB-wire server are checked
in test_local_stack.py, the emulators in test_local_emulators.py, the Spark driver in
test_spark_kafka.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.serve import free_port
from tests.support.background import stop, wait_for
from tests.support.sockets import listening, loopback

pytestmark = [pytest.mark.integration]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


def _start(log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            # No store is needed to listen: the API opens it on the first request.
            env={**os.environ, "STREAMKIT_HOT_STORE_URL": "memory://loopback"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.mark.timeout(180)
def test_the_api_and_the_dashboard_listen_on_loopback_by_default(tmp_path: Path) -> None:
    api_port, dash_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    # No --host: the defaults are what is checked.
    api = _start(tmp_path / "api.log", "api", "--port", str(api_port))
    dashboard = _start(
        tmp_path / "dashboard.log", "dashboard", "--port", str(dash_port), "--api", api_url
    )
    try:
        wait_for(
            "the API did not answer",
            lambda: _answers(f"{api_url}/health"),
            60,
            tmp_path / "api.log",
        )
        wait_for(
            "the dashboard did not answer",
            lambda: _answers(f"http://127.0.0.1:{dash_port}/_stcore/health"),
            90,
            tmp_path / "dashboard.log",
        )
        for process, port in ((api, api_port), (dashboard, dash_port)):
            found = listening(process.pid)
            assert port in {p for _, p in found}, found
            assert all(loopback(ip) for ip, _ in found), found
    finally:
        stop(api)
        stop(dashboard)
