"""``streamkit dashboard``: run the Streamlit dashboard, which reads the KPI API over HTTP."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from adapters.errors import ConfigurationError
from app.cli.output import echo, fail_on_error
from app.cli.wiring import load_settings

#: The Streamlit script; found from this file so an installed package works too.
SCRIPT = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


@fail_on_error
def dashboard(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8501,
    host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0 for every interface).")] = (
        "127.0.0.1"
    ),
    api: Annotated[
        str | None,
        typer.Option(
            help="Base URL of the KPI API, e.g. http://127.0.0.1:8000 "
            "(default: STREAMKIT_DASHBOARD__API_URL)."
        ),
    ] = None,
) -> None:
    """Serve the dashboard: KPI tiles, funnel, time series, anomalies and health, every 5 s.

    It reads only the KPI API (start it with `streamkit api`), so it works the same
    against a cloud deployment. The key comes from STREAMKIT_DASHBOARD__API_KEY; the
    refresh period and anomaly rule from STREAMKIT_DASHBOARD__REFRESH_S, __Z_THRESHOLD
    and __Z_WINDOW_MINUTES. Stops with Ctrl-C.
    """
    if importlib.util.find_spec("streamlit") is None:
        msg = "the dashboard needs its extra: pip install 'streamkit[dashboard]'"
        raise ConfigurationError(msg)
    if api is not None and not api.startswith(("http://", "https://")):
        msg = f"--api must be an http:// or https:// URL, not {api!r}"
        raise typer.BadParameter(msg)
    env = dict(os.environ)
    if api is not None:
        env["STREAMKIT_DASHBOARD__API_URL"] = api  # the child reads its settings from the env
    shown = api or load_settings().dashboard.api_url
    echo(f"dashboard on http://{host}:{port} · reading the KPI API at {shown}")
    raise typer.Exit(_run(command(host, port), env))


def command(host: str, port: int) -> list[str]:
    """``python -m streamlit run`` on the dashboard script, headless, no usage statistics."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(SCRIPT),
        "--server.headless",
        "true",
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        # Nothing to hot-reload in a served dashboard; a watcher only costs CPU and inotify slots.
        "--server.fileWatcherType",
        "none",
        # Viewers need no "Deploy" button or developer menu.
        "--client.toolbarMode",
        "minimal",
        # Viewers of a served dashboard see a generic message, not a traceback; the
        # traceback goes to the server's log.
        "--client.showErrorDetails",
        "none",
    ]


def _run(argv: list[str], env: dict[str, str]) -> int:
    """Run Streamlit in the foreground until it exits; its exit code.

    A SIGTERM or SIGHUP sent to this process (a service manager, ``kill``) is
    passed on, so Streamlit never outlives it holding the port. Ctrl-C needs
    no passing on: the terminal sends SIGINT to the whole process group.
    """
    child = subprocess.Popen(argv, env=env)  # noqa: S603 - our own interpreter and arguments

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    passed = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {s: signal.signal(s, forward) for s in passed}
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue  # Streamlit got the same SIGINT and is stopping: wait for its code
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
