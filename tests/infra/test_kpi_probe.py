"""The KPI probe against a real HTTP server: what it reads, and what it reports."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from infra.common import kpi_probe


class _Api(BaseHTTPRequestHandler):
    latest: dict[str, Any] | None = None
    seen_keys: list[str | None] = []

    def do_GET(self) -> None:
        type(self).seen_keys.append(self.headers.get("X-API-Key"))
        if self.path != "/kpis/latest" or self.latest is None:
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps(self.latest).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Api.seen_keys = []
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _minute(age_s: float, p95: float | None) -> dict[str, Any]:
    start = (datetime.now(UTC) - timedelta(seconds=age_s)).replace(microsecond=0)
    return {
        "minute": start.isoformat().replace("+00:00", "Z"),
        "latency_ms": {"p50": 400.0, "p95": p95, "p99": None, "count": 10},
    }


def test_reads_the_latest_minute_with_the_first_key(api: str) -> None:
    _Api.latest = _minute(30, 812.0)
    latest = kpi_probe.read_latest(api + "/", "key-one, key-two")
    assert latest == _Api.latest
    assert _Api.seen_keys == ["key-one"]
    assert kpi_probe.p95_of(latest, datetime.now(UTC)) == 812.0


def test_no_minute_yet_is_none(api: str) -> None:
    _Api.latest = None
    assert kpi_probe.read_latest(api, "") is None
    assert _Api.seen_keys == [None]


def test_stale_or_untimed_minutes_report_nothing() -> None:
    now = datetime.now(UTC)
    assert kpi_probe.p95_of(_minute(kpi_probe.MAX_AGE_S + 60, 500.0), now) is None
    assert kpi_probe.p95_of(_minute(10, None), now) is None
    assert kpi_probe.p95_of(None, now) is None


def test_lambda_handler_prints_an_emf_record(
    api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _Api.latest = _minute(20, 2500.0)
    monkeypatch.setenv("PROBE_API_URL", api)
    monkeypatch.setenv("PROBE_API_KEY", "k")
    monkeypatch.setenv("PROBE_STACK", "dev")
    assert kpi_probe.lambda_handler({}, None) == {"p95_ms": 2500.0}
    record = json.loads(capsys.readouterr().out)
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive == {
        "Namespace": "Streamkit",
        "Dimensions": [["Stack"]],
        "Metrics": [{"Name": "EndToEndLatencyP95", "Unit": "Milliseconds"}],
    }
    assert record["Stack"] == "dev" and record["EndToEndLatencyP95"] == 2500.0


def test_cloud_run_entry_prints_a_structured_log_line(
    api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _Api.latest = _minute(20, 640.0)
    monkeypatch.setenv("PROBE_API_URL", api)
    monkeypatch.delenv("PROBE_API_KEY", raising=False)
    assert kpi_probe.main() == 0
    line = json.loads(capsys.readouterr().out)
    assert line[kpi_probe.LOG_FIELD] == 640.0 and line["severity"] == "INFO"


def test_nothing_is_reported_without_a_fresh_minute(
    api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _Api.latest = _minute(kpi_probe.MAX_AGE_S * 2, 300.0)
    monkeypatch.setenv("PROBE_API_URL", api)
    assert kpi_probe.lambda_handler({}, None) == {"p95_ms": None}
    assert kpi_probe.main() == 0
    assert capsys.readouterr().out == ""


def test_a_literal_key_is_used_as_it_is() -> None:
    assert kpi_probe.resolve_key("plain") == "plain"
