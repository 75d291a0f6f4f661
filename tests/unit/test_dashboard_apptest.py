"""The dashboard script under Streamlit's AppTest, reading the real API over real HTTP.

The API (``app.api.main:create_app``) is served by uvicorn on a free port in
this process, backed by the memory hot store, which is seeded with documents
of the shape the stream job writes (app/pipeline/sinks.py, docs/kpis.md).
The dashboard reaches it only through its URL, as it would in production.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from adapters.ports import HotStore
from adapters.registry import open_bus, open_hot_store
from app.alerts.engine import AlertState
from app.alerts.store import AlertStore
from app.api.main import create_app
from app.pipeline.documents import HEALTH, JOB, KPI_MINUTES, SESSION_MINUTES
from app.settings import ApiSettings, Settings, get_settings
from tests.support.serve import closed_port_url, serving

pytestmark = pytest.mark.timeout(120)

SCRIPT = Path(__file__).resolve().parents[2] / "app" / "dashboard" / "app.py"
#: Seeded minutes: 90 of them, long past, so "Browse latest data" (the default) must find them.
FIRST = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
MINUTES = 90
LATEST = FIRST + timedelta(minutes=MINUTES - 1)  # 10:29
SPIKE = FIRST + timedelta(minutes=80)  # 10:20


def minute_doc(i: int, *, spike_at: int | None = None, first: datetime = FIRST) -> dict[str, Any]:
    """Minute ``i`` after FIRST, as the job stores it: ~2,400 events, ~2 % conversion.

    The wobble is deterministic and never strays 2 sd from its trailing mean, so
    only a seeded spike can pass |z| > 3. The spike minute triples purchases at
    the same event volume, so only its conversion rate is anomalous.
    """
    wobble = math.sin(1.3 * i)
    views = 2000 + round(40 * wobble)
    purchases = 40 + round(2 * wobble)
    carts = 300
    removes = 60
    if i == spike_at:  # 6 % conversion; 80 fewer carts keep the volume at 2,400
        views, carts, purchases = 2000, 220, 120
    if i == MINUTES - 1:  # the latest minute: round numbers the tiles must show exactly
        views, carts, purchases, removes = 1500, 360, 30, 510
    minute = first + timedelta(minutes=i)
    return {
        "minute": minute,
        "page_views": views,
        "add_to_carts": carts,
        "purchases": purchases,
        "remove_from_carts": removes,
        "events": views + carts + purchases + removes,
        "revenue_cents": 123450 if i == MINUTES - 1 else purchases * 4_115,
        "sessions": 1234 if i == MINUTES - 1 else 900 + round(30 * wobble),
        "late_dropped": 1,
        "deadlettered": 3 if i == MINUTES - 1 else 2,
        "final": i < MINUTES - 10,
        "watermark": first + timedelta(minutes=MINUTES - 10),
        "written_at": datetime.now(UTC),
        "batch_id": i,
        # p50 and p95 in bucket b30 (≤ 591 ms), the slowest 5 % in b40 (≤ 3,657 ms).
        "latency": {"b30": 95, "b40": 5},
        "latency_batch": i,
    }


def seed(
    store: HotStore,
    *,
    spike_at: int | None = None,
    health_age_s: float = 2.0,
    first: datetime = FIRST,
) -> None:
    """90 minutes of traffic from ``first``, closed sessions, and the job's health document."""
    docs = [minute_doc(i, spike_at=spike_at, first=first) for i in range(MINUTES)]
    store.upsert_many(KPI_MINUTES, docs, ["minute"])
    sessions = [
        {
            "minute": first + timedelta(minutes=i),
            "sessions": 10,
            "converted": 2,
            "events": 70,
            "duration_ms": 10 * 300_000,
            "revenue_cents": 9_000,
            "written_at": datetime.now(UTC),
        }
        for i in range(MINUTES)
    ]
    store.upsert_many(SESSION_MINUTES, sessions, ["minute"])
    wrote = datetime.now(UTC) - timedelta(seconds=health_age_s)
    health = {
        "job": JOB,
        "batch_id": MINUTES,
        "last_batch_at": wrote,
        "input_rows": 2_500,
        "input_rate": 41.7,
        "processing_rate": 900.0,
        "batch_duration_ms": 2_100,
        "lag_records": 12,
    }
    store.upsert_many(HEALTH, [health], ["job"])


@pytest.fixture
def store() -> Iterator[HotStore]:
    hot = open_hot_store(f"memory://dashboard_{uuid.uuid4().hex[:10]}")
    try:
        yield hot
    finally:
        for collection in (KPI_MINUTES, SESSION_MINUTES, HEALTH):
            hot.drop(collection)
        hot.close()


def api_url(store: HotStore, **api: Any) -> Iterator[str]:
    bus = open_bus(f"memory://dashboard_bus_{uuid.uuid4().hex[:10]}/events")
    bus.ensure(1)
    settings = Settings(api=ApiSettings(**api))
    with serving(create_app(settings, hot_store=store, bus=bus)) as url:
        yield url


@pytest.fixture
def api(store: HotStore) -> Iterator[str]:
    """The real API on a free port, reading ``store``."""
    yield from api_url(store)


@pytest.fixture
def open_dashboard(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., AppTest]]:
    """Run the script once against an API URL (and key), as `streamkit dashboard` would."""

    def run(url: str, key: str = "") -> AppTest:
        monkeypatch.setenv("STREAMKIT_DASHBOARD__API_URL", url)
        monkeypatch.setenv("STREAMKIT_DASHBOARD__API_KEY", key)
        get_settings.cache_clear()
        at = AppTest.from_file(str(SCRIPT), default_timeout=30).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    yield run
    get_settings.cache_clear()
    st.cache_resource.clear()  # the cached API clients of this test's servers


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def texts(elements: Any) -> list[str]:
    return [e.value for e in elements]


def test_the_tiles_show_the_latest_minute(store: HotStore, api: str, open_dashboard: Any) -> None:
    seed(store)
    at = open_dashboard(api)
    assert at.title[0].value == "streamkit"
    assert metrics(at) == {
        "Events/s": "40.0",  # 2,400 events / 60
        "Sessions": "1,234",
        "Revenue": "1234.50",  # the API's decimal string, as it is
        "AOV": "41.15",  # 1234.50 / 30
        "Conversion": "2.00%",  # 30 / 1,500
        "P95 latency": "591 ms",  # the upper bound of bucket b30
        "Dead letters/min": "3",
    }
    assert any("Minute 2026-01-01 10:29 UTC (complete)" in c for c in texts(at.caption))
    assert not at.warning and not at.error


def test_the_health_panel_is_green_with_reasons(
    store: HotStore, api: str, open_dashboard: Any
) -> None:
    seed(store)
    green = texts(open_dashboard(api).success)
    names = [t.split(" · ")[0] for t in green]
    assert names == [
        "**API**",
        "**Hot store**",
        "**Bus**",
        "**Pipeline lag**",
        "**Dead-letter rate**",
    ]
    pipeline = next(t for t in green if "Pipeline lag" in t)
    assert "lag 12" in pipeline  # the API's words for the job's consumer lag
    # 2 dead letters a minute (3 in the last) against ~2,400 events and 1 late: about 0.08 %.
    rate = next(t for t in green if "Dead-letter rate" in t)
    assert "0.08% of" in rate


def test_the_funnel_sums_the_shown_hour(store: HotStore, api: str, open_dashboard: Any) -> None:
    seed(store)
    at = open_dashboard(api)
    shown = [minute_doc(i) for i in range(MINUTES - 60, MINUTES)]  # 09:30 … 10:29
    views = sum(d["page_views"] for d in shown)
    carts = sum(d["add_to_carts"] for d in shown)
    buys = sum(d["purchases"] for d in shown)
    expected = (
        f"Page views {views:,} → carts {carts:,} ({carts / views:.2%}) → "
        f"purchases {buys:,} ({buys / carts:.2%}) · conversion {buys / views:.2%}"
    )
    assert expected in texts(at.markdown)
    sessions = next(t for t in texts(at.markdown) if t.startswith("Sessions closed"))
    # 60 minutes x 10 sessions, 2 in 10 converted, 5 min and 7 events each, 90.00 / 10 sessions.
    assert sessions == (
        "Sessions closed: 600 · converted 120 (20.00%) · average 5.0 min and 7.0 events · "
        "revenue per session 9.00"
    )


def test_a_conversion_spike_is_listed(store: HotStore, api: str, open_dashboard: Any) -> None:
    seed(store, spike_at=80)
    at = open_dashboard(api)
    table = at.dataframe[0].value
    assert list(table["minute"]) == ["2026-01-01 10:20 UTC"]
    row = table.iloc[0]
    assert row["metric"] == "conversion rate"
    assert row["value"] == "6.00%"  # 120 / 2,000
    assert row["z"] > 3
    assert "over 60 min" in row["baseline"]


def test_without_a_spike_nothing_is_listed(store: HotStore, api: str, open_dashboard: Any) -> None:
    seed(store)
    at = open_dashboard(api)
    assert not at.dataframe
    assert any(c.startswith("No anomalies") for c in texts(at.caption))


def test_an_empty_store_says_no_data_yet(api: str, open_dashboard: Any) -> None:
    at = open_dashboard(api)
    assert any(t.startswith("No data yet") for t in texts(at.info))
    assert not at.metric
    red = texts(at.error)
    assert any("Pipeline lag" in t and "has not reported" in t for t in red)


def test_a_stopped_pipeline_is_said_in_words(
    store: HotStore, api: str, open_dashboard: Any
) -> None:
    seed(store, health_age_s=12 * 60)
    at = open_dashboard(api)
    assert any(t.startswith("Pipeline stopped 12 min ago") for t in texts(at.warning))
    assert metrics(at)["Revenue"] == "1234.50"  # the data is still shown


def test_following_the_wall_clock_says_where_the_data_is(
    store: HotStore, api: str, open_dashboard: Any
) -> None:
    seed(store)
    at = open_dashboard(api)
    at.radio(key="time_mode").set_value("Follow wall clock").run()
    assert not at.exception
    said = texts(at.info)
    assert any("newest stored minute is 2026-01-01 10:29 UTC" in t for t in said), said
    assert not at.metric


def test_a_closed_port_says_api_unreachable(open_dashboard: Any) -> None:
    url = closed_port_url()
    at = open_dashboard(url)
    assert at.error[0].value.startswith(f"API unreachable at {url}: ")
    assert "refused" in at.error[0].value
    assert not at.metric


def test_the_api_key_is_sent(store: HotStore, open_dashboard: Any) -> None:
    seed(store)
    for url in api_url(store, keys="k-right"):
        refused = open_dashboard(url, key="k-wrong")
        assert any("401 unauthorized" in t for t in texts(refused.error))
        assert not refused.metric
        assert metrics(open_dashboard(url, key="k-right"))["Sessions"] == "1,234"


def test_a_dead_letter_dated_a_century_ahead_does_not_hide_the_data(
    store: HotStore, api: str, open_dashboard: Any
) -> None:
    # Live traffic up to the last complete minute, and what one record with an event
    # time 100 years ahead leaves behind (the generator injects such records): a
    # minute document with only a dead letter, which is /kpis/latest.
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    seed(store, first=now - timedelta(minutes=MINUTES))
    ahead = now.replace(year=now.year + 100)
    future = minute_doc(0, first=ahead) | {
        **dict.fromkeys(("page_views", "add_to_carts", "purchases", "remove_from_carts"), 0),
        **{"events": 0, "revenue_cents": 0, "sessions": 0, "late_dropped": 0, "deadlettered": 1},
    }
    future.pop("latency")
    store.upsert_many(KPI_MINUTES, [future], ["minute"])
    at = open_dashboard(api)
    assert metrics(at)["Revenue"] == "1234.50"  # the newest real minute, not the empty one
    # The API no longer calls it latest (minutes more than 5 minutes ahead are not).
    assert not any("is ahead" in t for t in texts(at.warning))


def test_a_hot_store_outage_is_the_apis_reason_and_a_red_light(open_dashboard: Any) -> None:
    # The memory store behind a fault plan: every call fails as a server outage would.
    down = open_hot_store(f"memory://dashboard_{uuid.uuid4().hex[:10]}?fault.outage_s=600")
    for url in api_url(down):
        at = open_dashboard(url)
        red = texts(at.error)
        assert red[0] == "API error 503 unavailable: the hot store did not answer; retry shortly"
        assert any(t.startswith("**Hot store** · Failing") for t in red)
        assert any(t.startswith("**API** · OK") for t in texts(at.success))
        assert not at.metric
        assert not any("No data yet" in t for t in texts(at.info))


def test_a_firing_alert_is_shown_in_red_and_pending_ones_named(
    store: HotStore, api: str, open_dashboard: Any
) -> None:
    seed(store)
    now = datetime.now(UTC)
    down = AlertState("dependency_down", (("dependency", "bus"),), "firing", now, 0.0, fired_at=now)
    slow = AlertState("latency_p95", (), "pending", now, 2.5)
    AlertStore(store).save({down.key: down, slow.key: slow}, now)
    at = open_dashboard(api)
    [red] = texts(at.error)
    assert red.startswith("**dependency_down** (dependency=bus) firing since")
    assert any("pending: latency_p95" in c for c in texts(at.caption))


def test_before_any_alert_round_the_panel_says_how_to_start_one(
    store: HotStore, api: str, open_dashboard: Any
) -> None:
    seed(store)
    at = open_dashboard(api)
    assert any("`streamkit alerts` evaluates the rules" in c for c in texts(at.caption))
