"""The figures the alert rules compare, from stored documents (the stored shape of the job)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.alerts.observe import (
    CONSUMER_LAG,
    CONVERSION_Z,
    DEADLETTER_SHARE,
    DEADLETTERED,
    DEPENDENCY_UP,
    LATE_DROPPED,
    LATENCY_P95,
    NEWEST_MINUTE_AGE,
    dependency_figures,
    job_figures,
    kpi_figures,
    merge,
)
from app.alerts.rules import load_rules
from tests.support.documents import T0, minute_doc

STALL = timedelta(seconds=90)


def minutes(n: int, **last: Any) -> list[dict[str, Any]]:
    docs = [minute_doc(i, views=100, buys=3 + i % 2) for i in range(n)]
    docs[-1] |= last
    return docs


def test_every_metric_a_rule_names_is_computed_here() -> None:
    computed = {
        LATENCY_P95,
        CONVERSION_Z,
        DEADLETTER_SHARE,
        NEWEST_MINUTE_AGE,
        CONSUMER_LAG,
        DEPENDENCY_UP,
    }
    assert {rule.metric for rule in load_rules()} == computed


def test_the_newest_minute_gives_latency_share_and_age() -> None:
    docs = minutes(3, deadlettered=30, events=200, late_dropped=10, latency={"b40": 3})
    figures = kpi_figures(docs, now=T0 + timedelta(minutes=5))
    assert figures[DEADLETTER_SHARE] == {(): 30 / 240}
    assert (figures[DEADLETTERED], figures[LATE_DROPPED]) == ({(): 30.0}, {(): 10.0})
    assert figures[NEWEST_MINUTE_AGE] == {(): 300.0}  # written at T0
    assert 0 < figures[LATENCY_P95][()] < 60
    assert CONVERSION_Z not in figures  # 2 minutes of history: too short to score


def test_a_conversion_spike_scores_against_the_trailing_hour() -> None:
    docs = minutes(30)
    docs[-1] |= {"purchases": 40}
    figures = kpi_figures(docs, now=T0 + timedelta(minutes=31))
    assert figures[CONVERSION_Z][()] > 3
    calm = kpi_figures(minutes(30), now=T0 + timedelta(minutes=31))
    assert calm[CONVERSION_Z][()] < 3


def test_no_minutes_no_figures() -> None:
    assert kpi_figures([], now=T0) == {}


@pytest.mark.parametrize(
    ("doc", "lag_s"),
    [
        ({"lag_records": 0, "processing_rate": 2000.0, "last_batch_at": T0}, 0.0),
        # Writing batches but behind since 30 s: the oldest waiting record is up to 30 s old.
        (
            {
                "lag_records": 60_000,
                "processing_rate": 2000.0,
                "last_batch_at": T0,
                "caught_up_at": T0 - timedelta(seconds=30),
            },
            30.0,
        ),
        # Stopped 90 s ago with records waiting, from a job that wrote no catch-up time: the
        # stall is the lag.
        (
            {
                "lag_records": 10,
                "processing_rate": 2000.0,
                "last_batch_at": T0 - timedelta(seconds=90),
            },
            90.0,
        ),
    ],
)
def test_consumer_lag_in_seconds(doc: dict[str, Any], lag_s: float) -> None:
    assert job_figures({"job": "streamkit-pipeline", **doc}, now=T0) == {CONSUMER_LAG: {(): lag_s}}


def test_a_stopped_job_falls_behind_as_records_arrive() -> None:
    # Its last batch was caught up (lag 0), 30 s ago; since then the bus has grown.
    stopped = {
        "lag_records": 0,
        "processing_rate": 2000.0,
        "last_batch_at": T0 - timedelta(seconds=30),
        "end_offsets": {"0": 10, "1": 5},
    }
    assert job_figures(stopped, now=T0) == {CONSUMER_LAG: {(): 0.0}}  # its own count
    grown = {0: 12, 1: 5, 2: 3}  # partition 2 is new to it: all 3 records are behind
    assert job_figures(stopped, now=T0, bus_ends=grown) == {CONSUMER_LAG: {(): 30.0}}
    assert job_figures(stopped, now=T0, bus_ends={0: 10, 1: 5}) == {CONSUMER_LAG: {(): 0.0}}
    # Caught up at the start of its last batch, 45 s ago: the oldest waiting record's bound.
    started = stopped | {"caught_up_at": T0 - timedelta(seconds=45)}
    assert job_figures(started, now=T0, bus_ends=grown) == {CONSUMER_LAG: {(): 45.0}}
    # The bus can say when the oldest waiting record was published, 12 s ago: that is the lag.
    oldest = int((T0 - timedelta(seconds=12)).timestamp() * 1000)
    exact = job_figures(started, now=T0, bus_ends=grown, oldest_waiting_ms=oldest)
    assert exact == {CONSUMER_LAG: {(): 12.0}}
    # Offsets that are not numbers: the job's own count again.
    odd = stopped | {"end_offsets": {"0": "x"}}
    assert job_figures(odd, now=T0, bus_ends=grown) == {CONSUMER_LAG: {(): 0.0}}


def test_no_health_document_no_lag() -> None:
    assert job_figures(None, now=T0) == {} and job_figures({"lag_records": None}, now=T0) == {}


def test_dependencies_are_up_or_down_per_check() -> None:
    figures = dependency_figures({"hot_store": "fail", "bus": "ok", "pipeline": "warn"})
    assert figures == {
        DEPENDENCY_UP: {(("dependency", "bus"),): 1.0, (("dependency", "hot_store"),): 0.0}
    }
    assert dependency_figures({"bus": "skipped"}) == {}
    assert set(merge(figures, {CONSUMER_LAG: {(): 1.0}})) == {DEPENDENCY_UP, CONSUMER_LAG}
