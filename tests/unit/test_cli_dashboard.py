"""``streamkit dashboard``: the real command, starting the real Streamlit server."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx

from tests.support.serve import closed_port_url, free_port

#: ``streamkit dashboard``, as a user runs it.
COMMAND = [sys.executable, "-m", "app.cli", "dashboard"]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_help_says_what_it_reads() -> None:
    out = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, check=True).stdout
    assert "KPI API" in out and "--api" in out and "--port" in out


def test_an_api_that_is_not_a_url_is_refused() -> None:
    done = subprocess.run([*COMMAND, "--api", "127.0.0.1:8000"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "--api must be an http:// or https:// URL" in done.stderr


def test_it_serves_and_stops_with_its_parent() -> None:
    port = free_port()
    api = closed_port_url()
    cli = subprocess.Popen(
        [*COMMAND, "--port", str(port), "--api", api],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not listening(port):
            assert cli.poll() is None, cli.stdout.read() if cli.stdout else ""
            assert time.monotonic() < deadline, "streamlit did not listen within 60 s"
            time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/_stcore/health").text == "ok"
        # A service manager stops the command, not Streamlit: it must take Streamlit along.
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while listening(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not listening(port), "streamlit outlived the command"
        out = cli.stdout.read() if cli.stdout else ""
        assert f"dashboard on http://127.0.0.1:{port} · reading the KPI API at {api}" in out
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
