"""What the dashboard decides to show, and how its client reports a misbehaving API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.api.models import CheckResult, Funnel, FunnelStage, Health, MinuteKpis
from app.dashboard.client import ApiClient, ApiError, ApiUnavailable
from app.dashboard.view import alerts, current_minute, dead_letter_light, notices
from tests.support.serve import serving

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def minute(i: int, events: int = 2400, views: int = 2000, purchases: int = 40) -> MinuteKpis:
    at = T0 + timedelta(minutes=i)
    return MinuteKpis(
        minute=at.isoformat().replace("+00:00", "Z"),
        page_views=views,
        add_to_carts=300,
        purchases=purchases,
        remove_from_carts=0,
        events=events,
        revenue="100.00",
        aov="2.50",
        cart_rate=0.15,
        purchase_rate=0.1,
        conversion_rate=round(purchases / views, 6),
        sessions=900,
        late_dropped=0,
        deadlettered=0,
        final=False,
        latency_ms={"p50": 100.0, "p95": 500.0, "p99": 900.0, "count": 10},
        watermark="2026-11-25T17:50:00Z",
        written_at="2026-11-25T18:00:00Z",
    )


def test_the_tiles_skip_the_minute_still_filling() -> None:
    minutes = [minute(0), minute(1), minute(2)]
    now = T0 + timedelta(minutes=2, seconds=30)  # minute 2 runs until 18:03
    shown, complete = current_minute(minutes, now)
    assert shown is minutes[1] and complete
    shown, complete = current_minute(minutes, T0 + timedelta(minutes=3))
    assert shown is minutes[2] and complete
    shown, complete = current_minute([minute(2)], now)  # only a partial one: show it, say so
    assert shown is not None and not complete
    assert current_minute([], now) == (None, False)


def test_a_half_counted_minute_is_never_an_anomaly() -> None:
    history = [minute(i, events=2400 + (i % 3) * 10) for i in range(30)]
    partial = minute(30, events=900)  # 20 s into the minute
    kwargs = {"window": timedelta(minutes=60), "threshold": 3.0, "since": T0}
    assert alerts([*history, partial], until=T0 + timedelta(minutes=30), **kwargs) == []
    # Once complete with that count, it is a real drop, and flagged.
    found = alerts([*history, partial], until=T0 + timedelta(minutes=31), **kwargs)
    assert [(a.metric, a.value) for a in found] == [("events/min", "900")]
    assert found[0].z < -3


def funnel(events: int, dead: int) -> Funnel:
    stages = [FunnelStage(stage="page_views", count=events, rate=None)]
    return Funnel(
        start="2026-11-25T17:00:00Z",
        end="2026-11-25T18:00:00Z",
        anchor="latest",
        minutes=60,
        page_views=events,
        add_to_carts=0,
        purchases=0,
        remove_from_carts=0,
        events=events,
        sessions=0,
        revenue="0.00",
        aov=None,
        cart_rate=None,
        purchase_rate=None,
        conversion_rate=None,
        late_dropped=0,
        deadlettered=dead,
        stages=stages,
    )


@pytest.mark.parametrize(
    ("events", "dead", "level"),
    [(990, 10, "ok"), (980, 20, "warn"), (940, 60, "fail"), (0, 0, "skipped")],
)
def test_dead_letter_rate_levels(events: int, dead: int, level: str) -> None:
    assert dead_letter_light(funnel(events, dead)).level == level


def health(status: str, age_s: float | None) -> Health:
    check = CheckResult(
        status=status,  # type: ignore[arg-type]
        latency_ms=1.0,
        detail="the stream job last wrote a while ago",
        age_s=age_s,
        last_batch_at="2026-11-25T18:00:00Z" if age_s is not None else None,
    )
    return Health(status="degraded", checked_at="2026-11-25T18:10:00Z", checks={"pipeline": check})


def test_states_are_said_in_words() -> None:
    now = T0 + timedelta(minutes=12)
    [empty] = notices(None, [], None, "latest", now)
    assert empty.text.startswith("No data yet")
    [stopped] = notices(minute(0), [minute(0)], health("fail", 720.0), "latest", now)
    assert stopped.level == "warning"
    assert stopped.text.startswith("Pipeline stopped 12 min ago (last batch at 2026-11-25 18:00")
    assert notices(minute(0), [minute(0)], health("warn", 20.0), "latest", now) == []  # lag only
    [never] = notices(minute(0), [minute(0)], health("fail", None), "latest", now)
    assert never.text.startswith("Pipeline has not reported")
    [elsewhere] = notices(minute(0), [], None, "now", now)
    assert "newest stored minute is 2026-11-25 18:00 UTC (12 min ago)" in elsewhere.text


# --- the client against a real HTTP server that breaks the contract in each way ---


async def _route(request: Request) -> Response:
    case = request.path_params["case"]
    if case == "kpis":  # a KpiRange without its minutes
        return JSONResponse({"start": "x", "end": "y", "anchor": "now", "count": 0})
    if case == "proxy":
        return PlainTextResponse("<html>bad gateway</html>", status_code=502)
    if case == "slow":
        await asyncio.sleep(2)
    return JSONResponse({"error": "internal", "message": "request id 7"}, status_code=500)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(Starlette(routes=[Route("/{case}", _route)])) as url:
        yield url


def get(url: str, path: str, **kwargs: Any) -> Any:
    client = ApiClient(url, **kwargs)
    try:
        return client.get(path)
    finally:
        client.close()


def test_a_body_breaking_the_contract_is_named(server: str) -> None:
    client = ApiClient(server)
    with pytest.raises(ApiError, match=r"/kpis broke its contract \(KpiRange\): minutes: Field"):
        client.kpis(5)
    client.close()


def test_error_bodies_and_foreign_pages_are_reported(server: str) -> None:
    with pytest.raises(ApiError, match="API error 500 internal: request id 7"):
        get(server, "/boom")
    with pytest.raises(ApiError, match="API error 502 http_error: Bad Gateway"):
        get(server, "/proxy")


def test_a_slow_api_is_unavailable_after_the_timeout(server: str) -> None:
    with pytest.raises(
        ApiUnavailable, match=rf"API unreachable at {server}: no answer within 0.5 s"
    ):
        get(server, "/slow", timeout_s=0.5)
