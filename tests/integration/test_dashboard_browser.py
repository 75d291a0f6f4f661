"""The dashboard in a real browser, on the real stack, with traffic flowing through it.

`streamkit pipeline` runs on fresh topics and a fresh database; generated
traffic is replayed with its times shifted to now; `streamkit api` and
`streamkit dashboard` run as a user would start them. Chromium opens the
dashboard; the tiles must name the newest minute up to now and show exactly
what GET /kpis says about it. The page is saved as docs/img/dashboard.png.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.ports import Bus
from adapters.registry import open_hot_store
from app.dashboard.browser import (
    browser,
    chromium_path,
    open_dashboard,
    screenshot,
    wait_for_metrics,
)
from app.generate import Options, generate
from app.pipeline.documents import HEALTH
from tests.support.background import stop, wait_for
from tests.support.pipeline_run import Run, isolated
from tests.support.serve import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.kafka,
    pytest.mark.mongo,
    pytest.mark.spark,
    pytest.mark.timeout(900),
]

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"
RATE = 2_000
SECONDS = 20
LABELS = ("Events/s", "Sessions", "Revenue", "AOV", "Conversion", "P95 latency", "Dead letters/min")


@pytest.fixture
def run(topics: tuple[Bus, Bus], tmp_path: Path) -> Iterator[Run]:
    with isolated(topics, tmp_path) as setup:
        yield setup


@pytest.fixture
def background(run: Run, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start ``streamkit args…`` in the background; every one is stopped at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> subprocess.Popen[bytes]:
        process = run.start(*args, log=tmp_path / f"{name}.log", PYTHONUNBUFFERED="1")
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        stop(process)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


def expected_tiles(minute: dict[str, Any]) -> dict[str, str]:
    """The tiles for one minute of the API, formatted as the dashboard promises."""
    rate, p95 = minute["conversion_rate"], minute["latency_ms"]["p95"]
    latency = "–" if p95 is None else f"{p95:,.0f} ms" if p95 < 10_000 else f"{p95 / 1000:,.1f} s"
    return {
        "Events/s": f"{minute['events'] / 60:,.1f}",
        "Sessions": f"{minute['sessions']:,}",
        "Revenue": minute["revenue"],
        "AOV": minute["aov"] or "–",
        "Conversion": "–" if rate is None else f"{rate:.2%}",
        "P95 latency": latency,
        "Dead letters/min": f"{minute['deadlettered']:,}",
    }


def test_the_dashboard_shows_what_the_api_serves(
    run: Run, background: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    chromium_path()  # no browser is a failure naming the fix, before minutes of set-up
    data = tmp_path / "events.csv.gz"
    generate(Options.over(data, RATE * 60, 1))

    # Everything a user would start, as they would; the dashboard first sees no data.
    api_port, dash_port = free_port(), free_port()
    api, dashboard = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{dash_port}"
    job = background("pipeline", "pipeline")
    background("api", "api", "--host", "127.0.0.1", "--port", str(api_port))
    background("dashboard", "dashboard", "--port", str(dash_port), "--api", api)
    log = tmp_path / "pipeline.log"
    wait_for("the API did not answer", lambda: answers(f"{api}/health"), 60, tmp_path / "api.log")
    wait_for(
        "the dashboard did not answer",
        lambda: answers(f"{dashboard}/_stcore/health"),
        60,
        tmp_path / "dashboard.log",
    )
    wait_for("the stream job did not start", lambda: "checkpoint " in _text(log), 300, log)

    replay = run.command(
        "replay", str(data), "--rate", str(RATE), "--timing", "now", "--limit", str(RATE * SECONDS)
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    replayed_at = datetime.now(UTC)
    wait_for("the stream job did not catch up", lambda: caught_up(run, replayed_at), 180, log)
    assert job.poll() is None, _text(log)[-3000:]

    # The tiles show the newest minute the wall clock has passed. /kpis/latest is not
    # that one here: each generated record dated 100 years ahead is dead-lettered into
    # a minute of that year, which is then the newest stored. So: the newest up to now.
    newest = wait_for("no minute up to now", lambda: newest_until_now(api), 30, log)
    settled = datetime.fromisoformat(newest["minute"]) + timedelta(minutes=1, seconds=1)
    time.sleep(max(0.0, (settled - datetime.now(UTC)).total_seconds()))

    with browser() as page:
        open_dashboard(page, dashboard)
        named, shown, want = "", {}, {}
        for _ in range(10):  # a refresh may land between the reads: read them all again
            shown = wait_for_metrics(page, LABELS)
            named = minute_named(page.inner_text("body"))
            want = expected_tiles(minute_at(api, named or newest["minute"]))
            if named == newest["minute"] and shown == want:
                break
            page.wait_for_timeout(2_000)
        if shown != want or named != newest["minute"]:
            screenshot(page, tmp_path / "dashboard.png")
        assert named == newest["minute"], f"the tiles show {named}, the newest is {newest}"
        assert shown == want, f"tiles {shown} but the API says {want} for {named}"
        assert float(shown["Events/s"].replace(",", "")) > 0
        body = page.inner_text("body")
        assert "API unreachable" not in body and "No data yet" not in body
        for name in ("API", "Hot store", "Bus"):
            assert f"{name} · OK" in body, body[:3000]
        screenshot(page, DOCS_IMG)
    assert job.poll() is None, "the stream job stopped while the dashboard read its output"


def newest_until_now(api: str) -> dict[str, Any] | None:
    """The newest minute in the wall-clock range of the last 30 minutes, or None."""
    minutes = httpx.get(f"{api}/kpis", params={"minutes_back": 30}).json()["minutes"]
    return minutes[-1] if minutes else None


def minute_at(api: str, minute: str) -> dict[str, Any]:
    """The API's document of one minute (``2026-11-26T00:22:00Z``)."""
    start = datetime.fromisoformat(minute)
    params = {"start": minute, "end": (start + timedelta(minutes=1)).isoformat()}
    [found] = httpx.get(f"{api}/kpis", params=params).json()["minutes"]
    return dict(found)


def minute_named(page_text: str) -> str:
    """The minute the tiles say they show, from their caption, as the API writes it."""
    found = re.search(r"Minute (\d{4}-\d\d-\d\d) (\d\d:\d\d) UTC \(complete\)", page_text)
    return f"{found[1]}T{found[2]}:00Z" if found else ""


def caught_up(run: Run, since: datetime) -> bool:
    """The job reported a trigger after ``since`` that found nothing new: all is processed."""
    store = open_hot_store(run.hot_url)
    try:
        health = store.latest(HEALTH, "job") or {}
    finally:
        store.close()
    idle = health.get("idle_at")
    return bool(idle and idle.replace(tzinfo=idle.tzinfo or UTC) > since)


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
