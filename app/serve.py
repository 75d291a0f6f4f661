"""The API and the dashboard as child processes, for the demo and the benchmarks.

Each runs the same console command a user would type, in its own process
group, on a free port (or a given one), and is waited for until it answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import psutil

from adapters.errors import StreamkitError
from app.settings import Settings


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when nothing listens there, else a port the kernel picks."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred or 0))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServedProcess:
    """``streamkit <args>`` serving HTTP on ``port``, output to ``log``."""

    #: A path that answers 200 once the server is up.
    ready_path = "/"
    what = "server"

    def __init__(
        self,
        settings: Settings,
        args: list[str],
        port: int,
        log: Path,
        env: Mapping[str, str] | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        """Start it and wait until ``ready_path`` answers 200."""
        self.port, self.log = port, log
        self.url = f"http://127.0.0.1:{port}"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own console script
                [sys.executable, "-m", "app.cli", *args],
                env={**os.environ, **settings.environment(), **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.ps = psutil.Process(self.process.pid)
        self._wait(timeout_s)

    def _wait(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}{self.ready_path}", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        msg = f"the {self.what} did not start on {self.url}; see {self.log}"
        raise StreamkitError(msg)

    def stop(self) -> None:
        """SIGTERM its process group (both servers shut down gracefully), SIGKILL if it hangs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=15)


class ApiProcess(ServedProcess):
    """``streamkit api`` on a free port (or ``port``)."""

    ready_path = "/openapi.json"
    what = "KPI API"

    def __init__(
        self,
        settings: Settings,
        log: Path,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        """Start it and wait until it answers."""
        port = free_port(port)
        super().__init__(settings, ["api", "--port", str(port)], port, log, env)


class DashboardProcess(ServedProcess):
    """``streamkit dashboard`` reading ``api_url``, on a free port (or ``port``)."""

    ready_path = "/_stcore/health"
    what = "dashboard"

    def __init__(
        self, settings: Settings, api_url: str, log: Path, port: int | None = None
    ) -> None:
        """Start it and wait until Streamlit answers its health check."""
        port = free_port(port)
        args = ["dashboard", "--port", str(port), "--api", api_url]
        super().__init__(settings, args, port, log)
