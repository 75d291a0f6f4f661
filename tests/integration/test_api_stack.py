"""``streamkit api`` (uvicorn, a real process) over what the real sinks wrote to the real store.

The stream job's sink code writes a batch to the local stack's MongoDB-wire
server; the API, started as a user starts it, must answer with exactly what
``minute_view`` makes of those documents, ping the real Kafka in /health, and answer 503 on
the data endpoints (not hang, not crash) when the hot store is unreachable, while /health
says degraded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adapters.ports import HotStore
from adapters.registry import open_archive, open_bus, open_hot_store
from app.pipeline.crash import CrashPlan
from app.pipeline.documents import HEALTH, JOB, KPI_MINUTES, minute_view
from app.pipeline.sinks import Sinks
from app.serve import free_port
from tests.conftest import KAFKA_URL, MONGO_URL, require_tcp
from tests.support.batches import MINUTE, batch

pytestmark = [pytest.mark.integration, pytest.mark.mongo, pytest.mark.kafka]


class Api:
    """A ``streamkit api`` process and an HTTP client for it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "api", "--port", str(self.port), "--access-log"],
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=15)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"streamkit api exited: {self.log.read_text()}")
            try:
                self.http.get("/openapi.json", headers=self.http.headers)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        pytest.fail(f"streamkit api did not answer in 30 s: {self.log.read_text()}")

    def stop(self) -> str:
        self.http.close()
        self.process.terminate()
        self.process.wait(timeout=15)
        return self.log.read_text()


@pytest.fixture
def store() -> Iterator[tuple[str, HotStore]]:
    require_tcp(MONGO_URL, "The MongoDB-wire server")
    url = f"{MONGO_URL.rsplit('/', 1)[0]}/api_{uuid.uuid4().hex[:10]}"
    hot = open_hot_store(url)
    yield url, hot
    for collection in (KPI_MINUTES, HEALTH, "sessions", "session_minutes"):
        hot.drop(collection)
    hot.close()


def write_batches(hot: HotStore) -> None:
    """Two batches through the job's real sinks (the second re-runs the first: no double count)."""
    run = uuid.uuid4().hex[:8]
    dead = open_bus(f"memory://api-dead-{run}")
    dead.ensure(1)
    sinks = Sinks(
        hot, open_archive(f"memory://api-{run}"), dead, source="kafka:test", crash=CrashPlan()
    )
    sinks.prepare()
    sinks.write(batch(closing=True), 1)
    sinks.write(batch(closing=True), 1)
    sinks.close()


def test_the_api_serves_what_the_sinks_wrote(store: tuple[str, HotStore], tmp_path: Path) -> None:
    require_tcp(KAFKA_URL, "Kafka")
    url, hot = store
    write_batches(hot)
    hot.upsert_many(
        HEALTH, [{"job": JOB, "last_batch_at": datetime.now(UTC), "lag_records": 0}], ["job"]
    )
    api = Api(
        {"STREAMKIT_HOT_STORE_URL": url, "STREAMKIT_API__KEYS": "integration-key"},
        tmp_path / "api.log",
    )
    try:
        api.http.headers["X-API-Key"] = "integration-key"
        [stored] = hot.find_range(KPI_MINUTES, "minute")
        assert api.http.get("/kpis/latest").json() == minute_view(stored)
        window = {"start": MINUTE.isoformat(), "end": (MINUTE + timedelta(minutes=1)).isoformat()}
        assert api.http.get("/kpis", params=window).json()["minutes"] == [minute_view(stored)]
        funnel = api.http.get("/funnel", params={"anchor": "latest"}).json()
        assert (funnel["purchases"], funnel["revenue"], funnel["aov"]) == (2, "50.00", "25.00")
        sessions = api.http.get(
            "/sessions", params={"minutes_back": 120, "anchor": "latest"}
        ).json()
        assert (sessions["sessions"], sessions["converted"], sessions["avg_duration_s"]) == (
            1,
            1,
            3600.0,
        )
        health = api.http.get("/health")
        assert health.status_code == 200, health.text
        checks = health.json()["checks"]
        assert {name: c["status"] for name, c in checks.items()} == {
            "hot_store": "ok",
            "bus": "ok",
            "pipeline": "ok",
        }
        metrics = api.http.get("/metrics").text
        assert (
            'streamkit_api_requests_total{method="GET",route="/kpis/latest",status="200"} 1.0'
            in metrics
        )
        assert api.http.get("/kpis", headers={"X-API-Key": "wrong"}).status_code == 401
    finally:
        log = api.stop()
    assert "GET /kpis/latest 200" in log
    assert "integration-key" not in log


def test_an_unreachable_hot_store_is_quickly_degraded_and_a_503_on_data(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"mongodb://127.0.0.1:{port}/streamkit?serverSelectionTimeoutMS=1500"
    api = Api(
        {"STREAMKIT_HOT_STORE_URL": url, "STREAMKIT_API__CHECK_TIMEOUT_S": "1"},
        tmp_path / "api.log",
    )
    try:
        started = time.monotonic()
        health = api.http.get("/health")
        assert time.monotonic() - started < 5
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert health.json()["checks"]["hot_store"]["status"] == "fail"
        r = api.http.get("/kpis/latest")
        assert r.status_code == 503 and r.json()["error"] == "unavailable"
    finally:
        log = api.stop()
    assert "Traceback" not in log
