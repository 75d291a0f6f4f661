"""Rounds of ``streamkit alerts`` over memory bindings: figures read, rules fired and resolved,
the webhook called, state kept through a hot-store outage."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from adapters.faults import FaultPlan, inject
from adapters.ports import HotStore
from adapters.registry import open_bus, open_hot_store
from app.alerts.loop import AlertLoop
from app.alerts.webhook import Webhook
from app.pipeline.backoff import Backoff
from app.pipeline.documents import HEALTH, JOB, KPI_MINUTES
from app.settings import Settings
from tests.support.documents import T0, minute_doc
from tests.support.webhook import Receiver

NOW = T0 + timedelta(minutes=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def stack(plan: FaultPlan | None = None) -> tuple[HotStore, HotStore]:
    """The store the loop uses (through ``plan`` when given) and a direct handle on it."""
    name = f"memory://alerts-{uuid.uuid4().hex[:8]}"
    direct = open_hot_store(name)
    return (inject(direct, plan) if plan else direct), direct


def loop_over(hot: HotStore, receiver: Receiver) -> AlertLoop:
    bus = open_bus(f"memory://events-{uuid.uuid4().hex[:8]}")
    bus.ensure(1)
    settings = Settings(hot_store_url="memory://unused", api={"check_timeout_s": 1.0})
    hook = Webhook(receiver.url, backoff=Backoff(budget_s=0))
    return AlertLoop(settings, hot, lambda: bus, webhook=hook)


def test_a_flood_of_dead_letters_and_a_stalled_job_fire_then_resolve(receiver: Receiver) -> None:
    hot, _ = stack()
    hot.upsert_many(
        KPI_MINUTES,
        [minute_doc(i) | {"written_at": NOW} for i in range(9)]
        + [minute_doc(9) | {"written_at": NOW, "deadlettered": 50}],
        ["minute"],
    )
    stalled = {"job": JOB, "last_batch_at": NOW - timedelta(seconds=90), "lag_records": 500}
    hot.upsert_many(HEALTH, [stalled | {"processing_rate": 2000.0}], ["job"])
    loop = loop_over(hot, receiver)
    loop.start()

    fired = loop.round(NOW)
    assert sorted((t.rule, t.kind) for t in fired.transitions) == [
        ("consumer_lag", "firing"),
        ("deadletter_share", "firing"),
    ]
    assert [d.ok for d in fired.deliveries] == [True, True] and len(receiver.bodies) == 2
    firing = {a["rule"] for a in loop.store.active()[1] if a["state"] == "firing"}
    assert fired.saved and firing == {"consumer_lag", "deadletter_share"}

    hot.upsert_many(KPI_MINUTES, [minute_doc(10) | {"written_at": NOW}], ["minute"])
    hot.upsert_many(HEALTH, [{"job": JOB, "last_batch_at": NOW, "lag_records": 0}], ["job"])
    resolved = loop.round(NOW + timedelta(seconds=10))
    assert sorted((t.rule, t.kind) for t in resolved.transitions) == [
        ("consumer_lag", "resolved"),
        ("deadletter_share", "resolved"),
    ]
    assert all(a["state"] == "pending" for a in loop.store.active()[1])
    assert len(loop.store.recent(T0)) == 4


def test_the_hot_store_down_fires_dependency_down_and_state_is_saved_later(
    receiver: Receiver,
) -> None:
    plan = FaultPlan()
    hot, direct = stack(plan)
    loop = loop_over(hot, receiver)
    plan.outage(3600)
    loop.start()  # the store is down: no state to load, and it says so

    down = loop.round(NOW)
    assert [(t.rule, t.labels, t.kind) for t in down.transitions] == [
        ("dependency_down", (("dependency", "hot_store"),), "firing")
    ]
    assert not down.saved and receiver.bodies[0]["text"].startswith("[FIRING] dependency_down")

    plan.recover()
    up = loop.round(NOW + timedelta(seconds=10))
    assert [(t.rule, t.kind) for t in up.transitions] == [("dependency_down", "resolved")]
    assert up.saved
    history = AlertLoop(loop.settings, direct, loop.bus).store.recent(T0)
    assert [h["kind"] for h in history] == ["resolved", "firing"]  # the outage's, saved late
