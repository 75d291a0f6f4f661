"""Alert state and history in a hot store (the memory binding; the same port as MongoDB's)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from adapters.ports import HotStore
from adapters.registry import open_hot_store
from app.alerts.engine import AlertState, Transition, evaluate
from app.alerts.rules import Rule
from app.alerts.store import AlertStore
from app.alerts.webhook import Delivery

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DOWN = Rule(name="dependency_down", summary="down", metric="up", op="<", threshold=1.0)
SLOW = Rule(name="latency_p95", summary="slow", metric="p95", op=">", threshold=2, for_s=120)
HOT = (("dependency", "hot_store"),)


@pytest.fixture
def hot() -> HotStore:
    return open_hot_store(f"memory://alerts-{uuid.uuid4().hex[:8]}")


def test_a_restarted_loop_carries_on_from_the_saved_state(hot: HotStore) -> None:
    store = AlertStore(hot)
    store.prepare()
    assert store.load() == {} and store.active() == (None, [])
    rules = [DOWN, SLOW]
    state, fired = evaluate(rules, {"up": {HOT: 0.0}, "p95": {(): 3.0}}, {}, T0)
    store.save(state, T0)
    store.record(fired, [Delivery(ok=True, status=200, attempts=1)])

    # A new loop (a new process): the pending latency alert keeps its start.
    again = AlertStore(hot).load()
    assert again == state
    later = T0 + timedelta(seconds=120)
    state, fired = evaluate(rules, {"up": {HOT: 1.0}, "p95": {(): 3.0}}, again, later)
    assert sorted((t.rule, t.kind) for t in fired) == [
        ("dependency_down", "resolved"),
        ("latency_p95", "firing"),
    ]
    store.save(state, later)
    store.record(fired)

    evaluated_at, active = store.active()
    assert evaluated_at == later
    assert [(a["rule"], a["state"]) for a in active] == [("latency_p95", "firing")]
    history = store.recent(T0 - timedelta(hours=1))
    assert [(h["rule"], h["kind"]) for h in history][-1] == ("dependency_down", "firing")
    assert len(history) == 3 and history[-1]["webhook"] == {
        "ok": True,
        "status": 200,
        "attempts": 1,
    }
    assert history[-1]["labels"] == {"dependency": "hot_store"}


def test_a_retried_record_adds_nothing_twice(hot: HotStore) -> None:
    store = AlertStore(hot)
    t = Transition("dependency_down", HOT, "firing", T0, 0.0, "down", "critical")
    store.record([t])
    store.record([t])
    assert len(store.recent(T0 - timedelta(minutes=1))) == 1


def test_history_older_than_the_retention_is_swept(hot: HotStore) -> None:
    store = AlertStore(hot, retention=timedelta(days=7))
    old = Transition("dependency_down", HOT, "firing", T0 - timedelta(days=8), 0.0, "d", "info")
    new = Transition("dependency_down", HOT, "resolved", T0, 1.0, "d", "info")
    store.record([old, new])
    assert store.sweep(T0) == 1
    assert [h["kind"] for h in store.recent(T0 - timedelta(days=30))] == ["resolved"]


def test_state_round_trips_every_field(hot: HotStore) -> None:
    store = AlertStore(hot)
    firing = AlertState("dependency_down", HOT, "firing", T0, 0.0, fired_at=T0)
    store.save({firing.key: firing}, T0)
    assert store.load() == {firing.key: firing}
