"""``GET /alerts``: what `streamkit alerts` stored, through the API (memory hot store)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from adapters.ports import HotStore
from adapters.registry import open_hot_store
from app.alerts.engine import AlertState, Transition
from app.alerts.store import AlertStore
from app.api.main import create_app
from app.pipeline.documents import HEALTH, JOB, KPI_MINUTES
from app.settings import Settings
from tests.support.documents import minute_doc

HOT = (("dependency", "hot_store"),)


def settings(**api: object) -> Settings:
    return Settings(hot_store_url="memory://unused", api={"check_bus": False, **api})


@pytest.fixture
def store() -> HotStore:
    return open_hot_store(f"memory://alerts-api-{uuid.uuid4().hex[:8]}")


def test_active_alerts_and_recent_events_newest_first(store: HotStore) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    alerts = AlertStore(store)
    firing = AlertState("dependency_down", HOT, "firing", now - timedelta(minutes=2), 0.0, now)
    alerts.save({firing.key: firing}, now)
    old, hour_ago = now - timedelta(hours=30), now - timedelta(hours=1)
    alerts.record(
        [
            Transition("consumer_lag", (), "firing", old, 75.0, "lag", "warning"),
            Transition("consumer_lag", (), "resolved", hour_ago, 3.0, "lag", "warning"),
            Transition("dependency_down", HOT, "firing", now, 0.0, "down", "critical"),
        ]
    )
    with TestClient(create_app(settings(), hot_store=store)) as api:
        body = api.get("/alerts").json()
        assert api.get("/alerts", params={"hours": 48}).json()["recent"][-1]["at"] == (
            old.isoformat().replace("+00:00", "Z")
        )
    assert body["evaluated_at"] == now.isoformat().replace("+00:00", "Z")
    assert body["active"] == [
        {
            "rule": "dependency_down",
            "labels": {"dependency": "hot_store"},
            "state": "firing",
            "since": (now - timedelta(minutes=2)).isoformat().replace("+00:00", "Z"),
            "fired_at": now.isoformat().replace("+00:00", "Z"),
            "value": 0.0,
        }
    ]
    assert [(e["rule"], e["kind"]) for e in body["recent"]] == [
        ("dependency_down", "firing"),
        ("consumer_lag", "resolved"),
    ]  # the 30-hour-old event is outside the default 24 hours


def test_no_loop_yet_is_an_empty_answer(store: HotStore) -> None:
    with TestClient(create_app(settings(), hot_store=store)) as api:
        assert api.get("/alerts").json() == {"evaluated_at": None, "active": [], "recent": []}


@pytest.mark.parametrize("params", [{"hours": 0}, {"hours": 169}, {"limit": 501}, {"x": 1}])
def test_parameters_are_bounded(store: HotStore, params: dict[str, int]) -> None:
    with TestClient(create_app(settings(), hot_store=store)) as api:
        r = api.get("/alerts", params=params)
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"


def test_alerts_need_the_key_when_keys_are_set(store: HotStore) -> None:
    with TestClient(create_app(settings(keys="k1"), hot_store=store)) as api:
        assert api.get("/alerts").status_code == 401
        assert api.get("/alerts", headers={"X-API-Key": "k1"}).status_code == 200


def test_metrics_expose_the_figures_the_rules_compare(store: HotStore) -> None:
    now = datetime.now(UTC)
    docs = [minute_doc(i) | {"written_at": now} for i in range(10)]
    store.upsert_many(KPI_MINUTES, docs, ["minute"])
    store.upsert_many(
        HEALTH,
        [{"job": JOB, "last_batch_at": now, "lag_records": 0, "processing_rate": 9.0}],
        ["job"],
    )
    with TestClient(create_app(settings(), hot_store=store)) as api:
        text = api.get("/metrics").text
    assert 'streamkit_dependency_up{dependency="hot_store"} 1.0' in text
    assert "streamkit_pipeline_consumer_lag_seconds 0.0" in text
    for name in ("latency_p95_seconds", "newest_minute_age_seconds"):
        assert f"streamkit_pipeline_{name} " in text
    assert (
        "streamkit_kpi_deadletter_share " in text and "streamkit_kpi_conversion_zscore_abs " in text
    )
