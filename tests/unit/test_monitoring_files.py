"""The Docker stack's Prometheus and Grafana files agree with what the API exposes.

Every series a Grafana panel queries must be one the API's ``/metrics`` serves (or one
Prometheus makes itself, ``ALERTS``), every panel must use the provisioned data source, and
Prometheus's config must load the generated rule file. ``promtool`` checks the same files in
``tests/integration/test_prometheus_rules.py``; these need no build.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.registry import open_hot_store
from app.alerts.rules import PROMETHEUS_RULES
from app.api.main import create_app
from app.pipeline.documents import HEALTH, JOB, KPI_MINUTES
from app.settings import Settings
from tests.support.documents import minute_doc

LOCAL = Path(__file__).resolve().parents[2] / "infra" / "local"
DASHBOARD = LOCAL / "grafana" / "dashboards" / "streamkit.json"
DATASOURCES = LOCAL / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = LOCAL / "grafana" / "provisioning" / "dashboards" / "streamkit.yml"
PROMETHEUS = LOCAL / "prometheus" / "prometheus.yml"

#: Series Prometheus makes itself from the rules.
_PROMETHEUS_OWN = {"ALERTS", "ALERTS_FOR_STATE"}
#: PromQL words that look like series names but are functions or keywords.
_PROMQL_WORDS = {
    "sum",
    "by",
    "rate",
    "count",
    "or",
    "vector",
    "histogram_quantile",
    "le",
    "route",
    "status",
    "without",
}


def panels() -> list[dict[str, Any]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [p for p in dashboard["panels"] if p["type"] != "row"]


@pytest.fixture(scope="module")
def exposed() -> set[str]:
    """Every sample name the API's /metrics serves with a job, minutes and traffic stored."""
    store = open_hot_store(f"memory://monitoring-{uuid.uuid4().hex[:8]}")
    now = datetime.now(UTC)
    store.upsert_many(
        KPI_MINUTES, [minute_doc(i) | {"written_at": now} for i in range(10)], ["minute"]
    )
    health = {
        "job": JOB,
        "batch_id": 7,
        "last_batch_at": now,
        "input_rows": 100,
        "input_rate": 50.0,
        "processing_rate": 80.0,
        "batch_duration_ms": 900,
        "lag_records": 3,
        "rows": {"event": 90, "late": 1, "reject": 9, "minute": 2, "session": 4},
        "sink_seconds": 0.4,
        "end_offsets": {"0": 40, "1": 30, "2": 30},
        "lag_by_partition": {"0": 3, "1": 0, "2": 0},
        "trigger_lag_ms": 0,
        "state_rows": 120,
        "state_memory_bytes": 65536,
    }
    store.upsert_many(HEALTH, [health], ["job"])
    settings = Settings(hot_store_url="memory://unused", api={"check_bus": False})
    with TestClient(create_app(settings, hot_store=store)) as api:
        api.get("/kpis/latest")  # some request metrics
        text = api.get("/metrics").text
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def test_every_panel_queries_series_the_api_serves(exposed: set[str]) -> None:
    for panel in panels():
        for target in panel["targets"]:
            # Label matchers ({…}) and ranges ([5m]) name no series.
            expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", target["expr"])
            names = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr)) - _PROMQL_WORDS
            unknown = names - exposed - _PROMETHEUS_OWN
            assert not unknown, (
                f"panel {panel['title']!r} queries {sorted(unknown)}, not on /metrics"
            )


def test_every_rule_metric_has_a_panel() -> None:
    queried = " ".join(t["expr"] for p in panels() for t in p["targets"])
    rules = yaml.safe_load(PROMETHEUS_RULES.read_text())["groups"][0]["rules"]
    for rule in rules:
        metric = rule["expr"].split()[0]
        assert metric in queried, f"no panel shows {metric} (rule {rule['labels']['rule']})"


def test_panels_use_the_provisioned_data_source() -> None:
    (source,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090" and source["type"] == "prometheus"
    for panel in panels():
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert all(t["datasource"]["uid"] == source["uid"] for t in panel["targets"])
        assert panel["description"], f"panel {panel['title']!r} says nothing of what it shows"


def test_panels_do_not_overlap() -> None:
    cells: set[tuple[int, int]] = set()
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        mine = {
            (x, y)
            for x in range(box["x"], box["x"] + box["w"])
            for y in range(box["y"], box["y"] + box["h"])
        }
        assert not cells & mine, f"panel {panel['title']!r} overlaps another"
        cells |= mine


def test_prometheus_loads_the_generated_rules_and_scrapes_the_api() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    assert [PROMETHEUS.parent / f for f in config["rule_files"]] == [PROMETHEUS_RULES]
    (api,) = [job for job in config["scrape_configs"] if job["job_name"] == "streamkit-api"]
    assert api["metrics_path"] == "/metrics"
    assert api["static_configs"][0]["targets"] == ["api:8080"]
    providers = yaml.safe_load(PROVIDERS.read_text())["providers"]
    assert providers[0]["options"]["path"] == "/var/lib/grafana/dashboards"
