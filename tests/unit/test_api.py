"""The KPI API on the memory hot store: shapes, ranges, validation, health, keys, limits."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.errors import ConfigurationError
from adapters.faults import FaultPlan, inject
from adapters.ports import HotStore
from adapters.registry import open_hot_store
from app.api.guard import client_address
from app.api.health import Memo
from app.api.main import create_app
from app.api.models import KpiRange
from app.pipeline.documents import HEALTH, JOB, KPI_MINUTES, SESSION_MINUTES, minute_view
from app.settings import Settings
from tests.support.documents import T0, minute_doc


def settings(**api: Any) -> Settings:
    return Settings(hot_store_url="memory://unused", api={"check_bus": False, **api})


@pytest.fixture
def store() -> HotStore:
    return open_hot_store(f"memory://api-{uuid.uuid4().hex[:10]}")


def client(store: HotStore, **api: Any) -> TestClient:
    return TestClient(create_app(settings(**api), hot_store=store))


@pytest.fixture
def api(store: HotStore) -> Iterator[TestClient]:
    with client(store) as c:
        yield c


def test_latest_is_the_newest_minute_in_the_documented_shape(
    store: HotStore, api: TestClient
) -> None:
    store.upsert_many(KPI_MINUTES, [minute_doc(i) for i in range(3)], ["minute"])
    r = api.get("/kpis/latest")
    assert r.status_code == 200
    assert r.json() == minute_view(minute_doc(2))
    assert r.json()["revenue"] == "123.45" and r.json()["aov"] == "41.15"


def test_a_minute_years_ahead_is_not_latest(store: HotStore, api: TestClient) -> None:
    store.upsert_many(KPI_MINUTES, [minute_doc(i) for i in range(3)], ["minute"])
    store.upsert_many(KPI_MINUTES, [minute_doc(0) | {"minute": T0.replace(year=2126)}], ["minute"])
    assert api.get("/kpis/latest").json()["minute"] == "2026-01-01T10:02:00Z"
    body = api.get("/kpis", params={"minutes_back": 2, "anchor": "latest"}).json()
    assert body["count"] == 2


def test_latest_without_data_is_a_typed_404(api: TestClient) -> None:
    r = api.get("/kpis/latest")
    assert r.status_code == 404
    assert r.json()["error"] == "no_data"


def test_minutes_back_anchored_on_the_latest_minute(store: HotStore, api: TestClient) -> None:
    store.upsert_many(KPI_MINUTES, [minute_doc(i) for i in range(10)], ["minute"])
    body = api.get("/kpis", params={"minutes_back": 3, "anchor": "latest"}).json()
    assert [m["minute"] for m in body["minutes"]] == [
        "2026-01-01T10:07:00Z",
        "2026-01-01T10:08:00Z",
        "2026-01-01T10:09:00Z",
    ]
    assert body["count"] == 3 and body["anchor"] == "latest"
    assert (body["start"], body["end"]) == ("2026-01-01T10:07:00Z", "2026-01-01T10:10:00Z")


def test_a_range_is_encoded_as_its_model_would_be(store: HotStore, api: TestClient) -> None:
    # /kpis splices cached minute bytes into the per-request bounds: the result
    # must be exactly what FastAPI would have sent for the KpiRange model.
    store.upsert_many(KPI_MINUTES, [minute_doc(i) for i in range(4)], ["minute"])
    r = api.get("/kpis", params={"minutes_back": 3, "anchor": "latest"})
    assert r.headers["content-type"] == "application/json"
    model = KpiRange.model_validate_json(r.content)
    assert r.content == model.model_dump_json().encode()
    assert model.count == len(model.minutes) == 3


def test_minutes_back_from_the_wall_clock_misses_old_data(store: HotStore, api: TestClient) -> None:
    store.upsert_many(KPI_MINUTES, [minute_doc(i) for i in range(3)], ["minute"])
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    store.upsert_many(KPI_MINUTES, [minute_doc(0) | {"minute": now}], ["minute"])
    body = api.get("/kpis", params={"minutes_back": 5}).json()
    assert [m["minute"] for m in body["minutes"]] == [now.strftime("%Y-%m-%dT%H:%M:00Z")]


def test_an_explicit_range_is_half_open_and_naive_times_are_utc(
    store: HotStore, api: TestClient
) -> None:
    store.upsert_many(KPI_MINUTES, [minute_doc(i) for i in range(10)], ["minute"])
    r = api.get("/kpis", params={"start": "2026-01-01T10:02", "end": "2026-01-01T11:05:00+01:00"})
    assert [m["minute"][11:16] for m in r.json()["minutes"]] == ["10:02", "10:03", "10:04"]


@pytest.mark.parametrize(
    ("params", "param", "says"),
    [
        ({"minute_back": "5"}, "minute_back", "unknown parameter"),
        ({"minutes_back": "0"}, "minutes_back", "greater than or equal to 1"),
        ({"minutes_back": "10081"}, "minutes_back", "less than or equal to 10080"),
        ({"minutes_back": "ten"}, "minutes_back", "valid integer"),
        ({"anchor": "yesterday"}, "anchor", "'now' or 'latest'"),
        ({"start": "2026-01-01T10:00"}, "query", "start and end go together"),
        ({"start": "2026-01-01T10:00", "end": "2026-01-01T09:00"}, "query", "before end"),
        ({"start": "2026-01-01", "end": "2026-01-09"}, "query", "longer than 7 days"),
        ({"start": "last tuesday", "end": "2026-01-09"}, "start", "datetime"),
        # Found by the schemathesis run: before year 1 once converted to UTC.
        (
            {"start": "2026-01-01", "end": "0001-01-01T00:00:00+00:01"},
            "end",
            "outside the calendar",
        ),
        (
            {"minutes_back": "5", "start": "2026-01-01T10:00", "end": "2026-01-01T11:00"},
            "query",
            "not both",
        ),
    ],
)
def test_bad_parameters_are_a_422_naming_the_parameter(
    api: TestClient, params: dict[str, str], param: str, says: str
) -> None:
    for path in ("/kpis", "/funnel", "/sessions"):
        r = api.get(path, params=params)
        assert r.status_code == 422, (path, r.text)
        body = r.json()
        assert body["error"] == "invalid_request"
        assert any(d["param"] == param and says in d["message"] for d in body["details"]), body
        assert "Traceback" not in r.text


def test_the_funnel_takes_rates_from_the_sums(store: HotStore, api: TestClient) -> None:
    # Averaging the per-minute rates would give (0.1 + 0.5) / 2 = 0.3; the sums give 60/300.
    docs = [minute_doc(0, views=200, carts=20, buys=2), minute_doc(1, views=100, carts=40, buys=8)]
    store.upsert_many(KPI_MINUTES, docs, ["minute"])
    body = api.get("/funnel", params={"minutes_back": 5, "anchor": "latest"}).json()
    assert (body["page_views"], body["add_to_carts"], body["purchases"]) == (300, 60, 10)
    assert body["cart_rate"] == 0.2 and body["purchase_rate"] == pytest.approx(0.166667)
    assert body["conversion_rate"] == pytest.approx(0.033333)
    assert body["revenue"] == "246.90" and body["aov"] == "24.69"
    assert [(s["stage"], s["count"], s["rate"]) for s in body["stages"]] == [
        ("page_views", 300, None),
        ("add_to_carts", 60, 0.2),
        ("purchases", 10, pytest.approx(0.166667)),
    ]
    assert body["minutes"] == 2 and body["late_dropped"] == 4


def test_an_empty_funnel_has_null_rates_not_errors(api: TestClient) -> None:
    body = api.get("/funnel").json()
    assert body["page_views"] == 0 and body["conversion_rate"] is None and body["aov"] is None
    assert body["revenue"] == "0.00"


def test_session_stats_come_from_the_per_minute_sums(store: HotStore, api: TestClient) -> None:
    store.upsert_many(KPI_MINUTES, [minute_doc(5)], ["minute"])
    sums = [
        {
            "minute": T0,
            "sessions": 3,
            "converted": 1,
            "events": 30,
            "duration_ms": 90_000,
            "revenue_cents": 1000,
        },
        {
            "minute": T0 + timedelta(minutes=4),
            "sessions": 1,
            "converted": 1,
            "events": 2,
            "duration_ms": 30_000,
            "revenue_cents": 501,
        },
    ]
    store.upsert_many(SESSION_MINUTES, sums, ["minute"])
    body = api.get("/sessions", params={"minutes_back": 10, "anchor": "latest"}).json()
    assert body["sessions"] == 4 and body["converted"] == 2 and body["conversion_rate"] == 0.5
    assert body["avg_duration_s"] == 30.0 and body["avg_events"] == 8.0
    assert body["revenue"] == "15.01" and body["revenue_per_session"] == "3.75"


def health_doc(age_s: float, lag: int = 10) -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(seconds=age_s)
    return {
        "job": JOB,
        "batch_id": 12,
        "last_batch_at": at,
        "lag_records": lag,
        "input_rate": 1990.5,
    }


@pytest.mark.parametrize(
    ("age_s", "lag", "status", "code", "check"),
    [
        (3, 10, "healthy", 200, "ok"),
        (3, 500_000, "degraded", 200, "warn"),
        (90, 10, "degraded", 200, "warn"),
        (600, 10, "unhealthy", 503, "fail"),
        (None, 10, "unhealthy", 503, "fail"),
    ],
)
def test_health_follows_the_pipelines_freshness_and_lag(
    store: HotStore,
    api: TestClient,
    age_s: float | None,
    lag: int,
    status: str,
    code: int,
    check: str,
) -> None:
    # The document is made here, not at collection: its age is relative to now.
    if age_s is not None:
        store.upsert_many(HEALTH, [health_doc(age_s, lag)], ["job"])
    r = api.get("/health")
    assert r.status_code == code
    body = r.json()
    assert body["status"] == status and body["checks"]["pipeline"]["status"] == check
    assert body["checks"]["hot_store"]["status"] == "ok"
    assert body["checks"]["bus"]["status"] == "skipped"


def test_an_idle_report_keeps_an_old_batch_fresh(store: HotStore, api: TestClient) -> None:
    store.upsert_many(HEALTH, [health_doc(900) | {"idle_at": datetime.now(UTC)}], ["job"])
    assert api.get("/health").json()["checks"]["pipeline"]["status"] == "ok"


def test_a_failing_hot_store_degrades_health_and_is_a_503_on_data(store: HotStore) -> None:
    store.upsert_many(HEALTH, [health_doc(3, 10)], ["job"])
    down = inject(store, FaultPlan(fail_every=1))
    with TestClient(create_app(settings(), hot_store=down)) as c:
        health = c.get("/health")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "degraded" and body["checks"]["hot_store"]["status"] == "fail"
        assert body["checks"]["pipeline"]["status"] == "warn"
        assert body["checks"]["pipeline"]["detail"].startswith("could not read the job's report")
        r = c.get("/kpis/latest")
        assert r.status_code == 503 and r.json()["error"] == "unavailable"


def test_unreadable_stored_data_is_a_500_without_a_stack_trace(
    store: HotStore, api: TestClient
) -> None:
    store.upsert_many(KPI_MINUTES, [minute_doc(0) | {"purchases": "three"}], ["minute"])
    r = api.get("/kpis/latest")
    assert r.status_code == 500
    assert r.json()["error"] == "internal" and r.headers["x-request-id"] in r.json()["message"]
    assert "Traceback" not in r.text and "three" not in r.text


def test_keys_guard_everything_but_health(
    store: HotStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with client(store, keys="first-key,second-key") as c:
        for path in (
            "/kpis/latest",
            "/kpis",
            "/funnel",
            "/sessions",
            "/metrics",
            "/docs",
            "/openapi.json",
            "/nope",
        ):
            r = c.get(path)
            assert r.status_code == 401, path
            assert r.json()["error"] == "unauthorized"
        assert c.get("/kpis", headers={"X-API-Key": "second-key"}).status_code == 200
        assert c.get("/kpis", headers={"X-API-Key": "first-key"}).status_code == 200
        assert c.get("/kpis", headers={"X-API-Key": "first-ke"}).status_code == 401
        assert c.get("/health").status_code in (200, 503)
    assert "first-key" not in caplog.text and "second-key" not in caplog.text


def test_the_rate_limit_answers_429_with_retry_after(store: HotStore) -> None:
    with client(store, keys="a,b", rate_limit="3/minute") as c:
        codes = [c.get("/kpis", headers={"X-API-Key": "a"}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = c.get("/kpis", headers={"X-API-Key": "a"})
        assert r.json()["error"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
        # Per key: the other key has its own budget.
        assert c.get("/kpis", headers={"X-API-Key": "b"}).status_code == 200


def test_refused_keys_have_a_budget_per_client_address(store: HotStore) -> None:
    with client(store, keys="good", auth_failure_limit="2/minute", proxy_hops=1) as c:
        wrong = {"X-API-Key": "guess", "X-Forwarded-For": "1.1.1.1"}
        assert [c.get("/kpis", headers=wrong).status_code for _ in range(3)] == [401, 401, 429]
        r = c.get("/kpis", headers=wrong)
        assert r.json()["error"] == "rate_limited" and "refused keys" in r.json()["message"]
        # Another client has its own budget; a good key is never counted against it.
        other = {"X-API-Key": "guess", "X-Forwarded-For": "2.2.2.2"}
        assert c.get("/kpis", headers=other).status_code == 401
        good = {"X-API-Key": "good", "X-Forwarded-For": "1.1.1.1"}
        assert c.get("/kpis", headers=good).status_code == 200


def test_behind_a_proxy_the_limit_follows_the_address_it_appended(store: HotStore) -> None:
    # Without keys the limit is per client address; what the client writes into
    # X-Forwarded-For itself (left of the proxy's entry) must not give it a new budget.
    with client(store, rate_limit="2/minute", proxy_hops=1) as c:
        spoofed = [{"X-Forwarded-For": f"10.0.0.{i}, 1.1.1.1"} for i in range(3)]
        assert [c.get("/kpis", headers=h).status_code for h in spoofed] == [200, 200, 429]
        assert c.get("/kpis", headers={"X-Forwarded-For": "2.2.2.2"}).status_code == 200
    # Without proxy_hops the header is not trusted at all: one connection, one budget.
    with client(store, rate_limit="2/minute") as c:
        codes = [
            c.get("/kpis", headers={"X-Forwarded-For": f"9.9.9.{i}"}).status_code for i in range(3)
        ]
        assert codes == [200, 200, 429]


@pytest.mark.parametrize(
    ("forwarded", "hops", "expected"),
    [
        ("", 0, "testclient"),
        ("6.6.6.6", 0, "testclient"),
        ("6.6.6.6, 1.2.3.4", 1, "1.2.3.4"),
        ("6.6.6.6, 1.2.3.4, 10.0.0.9", 2, "1.2.3.4"),
        ("1.2.3.4", 2, "testclient"),  # did not pass both proxies
    ],
)
def test_the_client_address(forwarded: str, hops: int, expected: str) -> None:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    scope = {"client": ("testclient", 50000), "headers": headers}
    assert client_address(scope, hops) == expected


def test_several_forwarded_lines_are_one_list_in_order() -> None:
    # Each of two proxies added a line after the client's own: together they are one list.
    lines = (b"6.6.6.6", b"1.2.3.4", b"10.0.0.9")
    scope = {"client": ("testclient", 50000), "headers": [(b"x-forwarded-for", v) for v in lines]}
    assert client_address(scope, 2) == "1.2.3.4"


class _CountingStore:
    """The memory store, counting the pings /health makes."""

    def __init__(self, inner: HotStore) -> None:
        self.inner, self.pings = inner, 0

    def ping(self, timeout_s: float = 5.0) -> float:
        self.pings += 1
        return self.inner.ping(timeout_s)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_health_answers_are_reused_for_health_cache_s(store: HotStore) -> None:
    store.upsert_many(HEALTH, [health_doc(3)], ["job"])
    counting = _CountingStore(store)
    with TestClient(create_app(settings(health_cache_s=30), hot_store=counting)) as c:  # type: ignore[arg-type]
        answers = [c.get("/health").json() for _ in range(5)]
    assert counting.pings == 1 and all(a == answers[0] for a in answers)
    counting = _CountingStore(store)
    with TestClient(create_app(settings(health_cache_s=0), hot_store=counting)) as c:  # type: ignore[arg-type]
        for _ in range(3):
            c.get("/health")
    assert counting.pings == 3


def test_cors_is_off_unless_origins_are_listed(store: HotStore) -> None:
    origin = {"Origin": "https://dash.example.com"}
    with client(store) as c:
        assert "access-control-allow-origin" not in c.get("/kpis", headers=origin).headers
    with client(store, cors_origins="https://dash.example.com") as c:
        r = c.get("/kpis", headers=origin)
        assert r.headers["access-control-allow-origin"] == "https://dash.example.com"


def test_metrics_count_requests_by_route_template_and_show_the_pipeline(
    store: HotStore, api: TestClient
) -> None:
    store.upsert_many(
        HEALTH, [health_doc(3) | {"batch_duration_ms": 1500, "rows": {"event": 40}}], ["job"]
    )
    api.get("/kpis", params={"minutes_back": 5})
    api.get("/kpis", params={"minutes_back": 6})
    api.get("/no/such/path")
    text = api.get("/metrics").text
    assert 'streamkit_api_requests_total{method="GET",route="/kpis",status="200"} 2.0' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "streamkit_pipeline_health_up 1.0" in text
    assert "streamkit_pipeline_batch_duration_seconds 1.5" in text
    assert "streamkit_pipeline_consumer_lag_records 10.0" in text
    assert 'streamkit_pipeline_batch_rows{kind="event"} 40.0' in text


def test_the_openapi_document_lists_every_endpoint_and_the_key_header(store: HotStore) -> None:
    with client(store) as c:
        assert (
            "components" not in c.get("/openapi.json").json()
            or "securitySchemes" not in (c.get("/openapi.json").json()["components"])
        )  # no keys: the document must not ask for one
    with client(store, keys="k") as c:
        spec = c.get("/openapi.json", headers={"X-API-Key": "k"}).json()
        assert {"/kpis/latest", "/kpis", "/funnel", "/sessions", "/health", "/metrics"} <= set(
            spec["paths"]
        )
        params = {p["name"] for p in spec["paths"]["/kpis"]["get"]["parameters"]}
        assert params == {"minutes_back", "start", "end", "anchor"}
        assert "APIKeyHeader" in spec["components"]["securitySchemes"]


def test_production_refuses_to_serve_without_keys() -> None:
    def app(**api: object) -> object:
        return create_app(
            Settings(env="production", hot_store_url="memory://open", api=api),
            hot_store=open_hot_store("memory://open"),
        )

    with pytest.raises(ConfigurationError, match="no STREAMKIT_API__KEYS.*ALLOW_OPEN=true"):
        app()
    app(keys="k1")  # keys: served
    app(allow_open=True)  # open on purpose: served
    # Outside production an open API is the local default.
    create_app(Settings(hot_store_url="memory://open"), hot_store=open_hot_store("memory://open"))


def test_requests_during_a_health_check_share_it() -> None:
    calls: list[float] = []

    def slow_check() -> Any:
        calls.append(time.monotonic())
        time.sleep(0.3)
        return {"status": "healthy"}

    memo = Memo(ttl_s=5)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: memo.get(slow_check), range(4)))
    assert len(calls) == 1 and all(a is answers[0] for a in answers)
