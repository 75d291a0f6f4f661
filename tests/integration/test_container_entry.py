"""The images' entry commands, run natively: there is no Docker engine to run the images.

The commands are read from the Dockerfile (the API's from the final stage, the default target
that Cloud Run runs), never copied here, so the tests run exactly what the image would. Each
is started as the runtime starts it, with ``$PORT`` set, from the repository root with the
venv's bin on PATH and the memory hot store; the image's HEALTHCHECK runs against it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from app.serve import free_port
from tests.support.dockerfile import ROOT, argv, healthcheck_argv, stage, stages

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

VENV_BIN = Path(sys.executable).parent


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    port: int
    env: dict[str, str]
    command: list[str]
    log: Path


def api_stage_cmd() -> list[str]:
    final = stages()[-1]
    assert final.name == "api", "the API must be the default (last) target"
    return argv(final.last("CMD"))


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:  # noqa: S310
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def wait_for_http(running: Running, path: str = "/health", deadline_s: float = 45.0) -> None:
    give_up = time.monotonic() + deadline_s
    while time.monotonic() < give_up:
        if running.process.poll() is not None:
            pytest.fail(
                f"the entry command exited ({running.process.returncode}):\n{logs(running)}"
            )
        try:
            get(running.port, path)
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"nothing answered on port {running.port} in {deadline_s} s:\n{logs(running)}")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Kill what the command started, children included."""
    # A command without `exec` leaves its server as a grandchild that killing the shell
    # alone would orphan; the command runs in its own session, so the group is only its own.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # its own session: only this test's processes
    process.wait(timeout=10)


def logs(running: Running) -> str:
    return running.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    command = api_stage_cmd()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMKIT_")}
    env |= {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "STREAMKIT_HOT_STORE_URL": f"memory://entry-{uuid.uuid4().hex[:8]}",
        "STREAMKIT_API__CHECK_BUS": "false",
        "STREAMKIT_STATE_DIR": str(tmp_path / "state"),
    }
    log = tmp_path / "entry.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - the Dockerfile's own command
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    it = Running(process, port, env, command, log)
    try:
        wait_for_http(it)
        yield it
    finally:
        stop_group(process)


def test_the_final_stage_runs_uvicorn_on_port_through_a_shell() -> None:
    command = api_stage_cmd()
    assert command[:2] == ["sh", "-c"]
    script = shlex.split(command[2])
    # exec: uvicorn replaces the shell, so it is PID 1 and receives the runtime's SIGTERM.
    assert script[:2] == ["exec", "uvicorn"]
    assert script[script.index("--port") + 1] == "${PORT:-8080}"
    assert script[script.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - a container's interface


def test_the_entry_command_serves_the_api(running: Running) -> None:
    status, headers, body = get(running.port, "/health")
    health = json.loads(body)
    # An empty store: the hot store answers, the pipeline has never reported.
    assert status == 503 and health["status"] == "unhealthy"
    assert health["checks"]["hot_store"]["status"] == "ok"
    assert health["checks"]["pipeline"]["status"] == "fail"

    status, headers, body = get(running.port, "/kpis/latest")
    assert status == 404 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"] == "no_data"

    status, _, body = get(running.port, "/openapi.json")
    assert status == 200
    paths = json.loads(body)["paths"]
    assert {"/kpis/latest", "/kpis", "/funnel", "/sessions", "/health", "/metrics"} <= set(paths)


def test_what_ran_is_the_dockerfiles_command(running: Running) -> None:
    # The shell exec'd uvicorn: the child is uvicorn itself, with the Dockerfile's arguments
    # and $PORT expanded, not a shell in between.
    script = shlex.split(running.command[2].replace("${PORT:-8080}", str(running.port)))
    ran = psutil.Process(running.process.pid).cmdline()
    uvicorn_args = ran[ran.index(next(a for a in ran if a.endswith("uvicorn"))) + 1 :]
    assert uvicorn_args == script[2:]
    assert Path(next(a for a in ran if a.endswith("uvicorn"))).parent == VENV_BIN


def test_the_images_healthcheck_passes_against_it(running: Running) -> None:
    final = stages()[-1]
    check = healthcheck_argv(final.last("HEALTHCHECK"))
    passed = subprocess.run(check, env=running.env, capture_output=True, timeout=30, check=False)  # noqa: S603
    assert passed.returncode == 0, passed.stderr
    # A port where nothing listens must fail it.
    elsewhere = running.env | {"PORT": str(free_port())}
    failed = subprocess.run(check, env=elsewhere, capture_output=True, timeout=30, check=False)  # noqa: S603
    assert failed.returncode != 0


def test_sigterm_stops_it_cleanly(running: Running) -> None:
    running.process.send_signal(signal.SIGTERM)  # what Cloud Run and `docker stop` send
    # uvicorn shuts down gracefully, then re-raises the signal so its parent sees why it ended.
    assert running.process.wait(timeout=15) in (0, -signal.SIGTERM), logs(running)
    assert "Application shutdown complete" in logs(running)
    assert "Finished server process" in logs(running)


def test_the_dashboard_entry_command_serves_streamlit_on_port(tmp_path: Path) -> None:
    dashboard = stage("dashboard")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMKIT_")}
    env |= {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "HOME": str(tmp_path),  # Streamlit keeps its machine id and config under ~/.streamlit
        "STREAMKIT_DASHBOARD__API_URL": f"http://127.0.0.1:{free_port()}",  # nothing there
    }
    log = tmp_path / "dashboard.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - the Dockerfile's own command
            argv(dashboard.last("CMD")),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Running(process, port, env, argv(dashboard.last("CMD")), log)
    try:
        wait_for_http(running, path="/_stcore/health", deadline_s=90)
        assert get(port, "/_stcore/health")[:1] == (200,)
        # The Python of the command replaced itself with Streamlit: one process, Streamlit's.
        assert "streamlit" in psutil.Process(process.pid).cmdline()
        check = healthcheck_argv(dashboard.last("HEALTHCHECK"))
        passed = subprocess.run(check, env=env, capture_output=True, timeout=30, check=False)  # noqa: S603
        assert passed.returncode == 0, passed.stderr
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) in (0, -signal.SIGTERM), logs(running)
    finally:
        stop_group(process)
