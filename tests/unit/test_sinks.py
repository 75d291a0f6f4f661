"""The stream job's sinks on memory bindings: where each kind of row goes, and idempotency."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import orjson
import pytest

from adapters.faults import FaultPlan, inject
from adapters.ports import Archive, Bus, HotStore
from adapters.registry import open_archive, open_bus, open_hot_store
from app.pipeline.backoff import Backoff
from app.pipeline.crash import CrashPlan
from app.pipeline.documents import SESSION_MINUTES, SESSION_SUMS
from app.pipeline.sinks import EVENTS, LATE_EVENTS, REJECTS, SESSIONS, Sinks
from tests.support.batches import MINUTE, batch


@dataclass
class Setup:
    hot: HotStore
    archive: Archive
    dead: Bus
    sinks: Sinks


@pytest.fixture
def setup() -> Iterator[Setup]:
    run = uuid.uuid4().hex[:10]
    hot = open_hot_store(f"memory://sinks-{run}")
    archive = open_archive(f"memory://sinks-{run}")
    dead = open_bus(f"memory://dead-{run}")
    dead.ensure(1)
    sinks = Sinks(hot, archive, dead, source="kafka:events_raw", crash=CrashPlan())
    sinks.prepare()
    yield Setup(hot, archive, dead, sinks)
    sinks.close()


def test_each_kind_of_row_reaches_its_sink(setup: Setup) -> None:
    report = setup.sinks.write(batch(closing=True), 3)

    assert report.rows == {"event": 2, "late": 1, "reject": 1, "minute": 1, "session": 1}
    [minute] = setup.hot.find_range("kpi_minutes", "minute")
    assert minute["revenue_cents"] == 5000 and minute["batch_id"] == 3
    assert sum(minute["latency"].values()) == 2 and minute["latency_batch"] == 3
    [session] = setup.hot.find_range(SESSIONS, "session_id")
    assert session["session_id"] == "s" * 32 and session["converted"] is True
    assert setup.archive.read(EVENTS).num_rows == 2
    assert setup.archive.read(LATE_EVENTS).num_rows == 1
    assert setup.archive.read(SESSIONS).num_rows == 1
    assert setup.archive.read("kpi_minutes").num_rows == 1  # final in this batch
    [reject] = setup.archive.read(REJECTS).to_pylist()
    assert (reject["reason"], reject["partition"], reject["offset"]) == ("not_json", 1, 9)
    assert reject["raw"] == b"{not json"  # the bytes as they were on the bus
    [letter] = _letters(setup.dead)
    assert letter["reason"] == "not_json" and letter["source_position"] == "1/9"
    assert letter["message"] == "not JSON: unexpected character"  # the validator's, passed on


def test_a_repeated_batch_changes_nothing_but_write_times(setup: Setup) -> None:
    setup.sinks.write(batch(closing=True), 3)
    first = setup.hot.find_range("kpi_minutes", "minute")
    setup.sinks.write(batch(closing=True), 3)
    again = setup.hot.find_range("kpi_minutes", "minute")

    def stable(docs: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in d.items() if k != "written_at"} for d in docs]

    assert stable(again) == stable(first)  # latency merged once per batch id
    assert setup.archive.read(EVENTS).num_rows == 2
    assert setup.archive.read("kpi_minutes").num_rows == 1
    ids = {letter["dead_letter_id"] for letter in _letters(setup.dead)}
    assert len(ids) == 1  # re-sent, recognisably the same letter


def test_closed_sessions_are_summed_per_end_minute_once_per_batch(setup: Setup) -> None:
    setup.sinks.write(batch(closing=True), 3)
    setup.sinks.write(batch(closing=True), 3)  # the same batch again, after a crash
    [sums] = setup.hot.find_range(SESSION_MINUTES, "minute")
    assert sums["minute"] == MINUTE - timedelta(hours=1)
    assert {f: sums[f] for f in SESSION_SUMS} == {
        "sessions": 1,
        "converted": 1,
        "events": 3,
        "duration_ms": 3_600_000,
        "revenue_cents": 5000,
    }
    setup.sinks.write(batch(closing=True), 4)  # a later batch closing another session there
    [sums] = setup.hot.find_range(SESSION_MINUTES, "minute")
    assert sums["sessions"] == 2 and sums["duration_ms"] == 7_200_000


def test_a_minute_is_archived_only_in_the_batch_where_it_becomes_final(setup: Setup) -> None:
    setup.sinks.write(batch(closing=False), 1)
    assert setup.archive.read("kpi_minutes").num_rows == 0
    assert setup.hot.find_range("kpi_minutes", "minute")[0]["final"] is False


def _letters(bus: Bus) -> list[dict[str, object]]:
    reader = bus.reader(f"t-{uuid.uuid4().hex[:6]}")
    try:
        return [orjson.loads(m.value) for m in reader.read(100, timeout_s=0.1)]
    finally:
        reader.close()


def test_a_hot_store_outage_is_waited_out_at_start_and_in_a_batch() -> None:
    # The store fails every call for the first few attempts, as a stopped server would; the
    # job's start-up (indexes) and a batch's writes wait, instead of exiting into a crash loop.
    run = uuid.uuid4().hex[:10]
    plan = FaultPlan()
    hot = inject(open_hot_store(f"memory://sinks-{run}"), plan)
    dead = open_bus(f"memory://dead-{run}")
    dead.ensure(1)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) % 3 == 0:  # up again after three waits
            plan.recover()

    sinks = Sinks(
        hot,
        open_archive(f"memory://sinks-{run}"),
        dead,
        source="kafka:events_raw",
        backoff=Backoff(budget_s=60, sleep=sleep),
    )
    plan.outage(3600)
    sinks.prepare()
    assert slept == [0.5, 1.0, 2.0] and plan.injected == 3

    plan.outage(3600)
    sinks.write(batch(closing=True), 1)
    assert len(slept) == 6 and plan.injected == 6
    assert hot.find_range("kpi_minutes", "minute")
