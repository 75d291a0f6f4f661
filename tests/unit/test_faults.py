"""Fault plans: when they fail, what they raise, and how ``inject`` wraps a port."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.bus import memory as memory_bus
from adapters.bus.memory import MemoryBus
from adapters.errors import ConfigurationError, TerminalError, TransientError
from adapters.faults import (
    FaultPlan,
    InjectedTerminalError,
    InjectedTransientError,
    inject,
    plan_of,
)


class Recorder:
    """A stand-in port: records calls, hands out sub-ports like a bus does."""

    label = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def publish(self, value: bytes, key: bytes | None = None) -> str:
        self.calls.append(("publish", (value,), {"key": key}))
        return "published"

    def flush(self) -> int:
        self.calls.append(("flush", (), {}))
        return 0

    def upsert_many(self, collection: str, documents: list[dict[str, Any]], key: list[str]) -> int:
        self.calls.append(("upsert_many", (collection,), {}))
        return len(documents)

    def write(self, dataset: str, rows: int) -> int:
        self.calls.append(("write", (dataset,), {}))
        return rows

    def publisher(self) -> Recorder:
        return Recorder()

    def reader(self, group: str) -> Recorder:
        return Recorder()

    def _private(self) -> str:
        return "private"


def outcomes(plan: FaultPlan, op: str, n: int) -> list[bool]:
    """For ``n`` calls of ``op``: True where the plan let the call pass."""
    passed = []
    for _ in range(n):
        try:
            plan.check(op)
            passed.append(True)
        except (TransientError, TerminalError):
            passed.append(False)
    return passed


# ------------------------------------------------------------------- FaultPlan


def test_an_empty_plan_never_fails() -> None:
    plan = FaultPlan()
    assert all(outcomes(plan, "publish", 20))
    assert (plan.calls, plan.injected) == (20, 0)


def test_fail_every_fails_each_nth_call_and_counts() -> None:
    plan = FaultPlan(fail_every=3)
    assert outcomes(plan, "publish", 7) == [True, True, False, True, True, False, True]
    assert plan.calls == 7
    assert plan.injected == 2


def test_fail_every_one_fails_every_call() -> None:
    plan = FaultPlan(fail_every=1)
    assert outcomes(plan, "publish", 4) == [False] * 4


def test_the_error_message_names_the_op_and_the_reason() -> None:
    plan = FaultPlan(fail_every=2)
    plan.check("upsert_many")
    with pytest.raises(InjectedTransientError, match=r"upsert_many: call 2 \(every 2\)"):
        plan.check("upsert_many")


def test_transient_plans_raise_retryable_errors() -> None:
    plan = FaultPlan(fail_every=1)
    with pytest.raises(TransientError) as info:
        plan.check("publish")
    assert isinstance(info.value, InjectedTransientError)
    assert not isinstance(info.value, TerminalError)


def test_terminal_plans_raise_non_retryable_errors() -> None:
    plan = FaultPlan(fail_every=1, transient=False)
    with pytest.raises(TerminalError) as info:
        plan.check("publish")
    assert isinstance(info.value, InjectedTerminalError)
    assert not isinstance(info.value, TransientError)


def test_fail_on_keys_fails_only_the_listed_keys() -> None:
    plan = FaultPlan(fail_on_keys=frozenset({"user-7"}))
    plan.check("publish", ["user-1"])
    plan.check("publish", [])
    with pytest.raises(InjectedTransientError, match="key 'user-7'"):
        plan.check("publish", ["user-2", "user-7"])
    assert (plan.calls, plan.injected) == (3, 1)


def test_ops_restricts_the_plan_and_other_ops_are_not_counted() -> None:
    plan = FaultPlan(fail_every=2, ops=frozenset({"publish"}))
    assert all(outcomes(plan, "flush", 5))
    assert plan.calls == 0
    assert outcomes(plan, "publish", 4) == [True, False, True, False]
    assert plan.calls == 4


def test_an_outage_fails_every_matching_call_until_recover() -> None:
    plan = FaultPlan()
    plan.outage(60)
    with pytest.raises(InjectedTransientError, match="outage"):
        plan.check("publish")
    with pytest.raises(InjectedTransientError, match="outage"):
        plan.check("flush")
    plan.recover()
    plan.check("publish")
    assert plan.injected == 2


def test_an_outage_ends_by_itself() -> None:
    plan = FaultPlan()
    plan.outage(0.05)
    with pytest.raises(InjectedTransientError):
        plan.check("publish")
    time.sleep(0.1)
    plan.check("publish")


def test_an_outage_respects_ops() -> None:
    plan = FaultPlan(ops=frozenset({"upsert_many"}))
    plan.outage(60)
    plan.check("ping")
    with pytest.raises(InjectedTransientError):
        plan.check("upsert_many")


# ------------------------------------------------------------------ from_query


def test_from_query_without_fault_params_is_none() -> None:
    assert FaultPlan.from_query({}) is None
    assert FaultPlan.from_query({"partitions": "3", "faults": "x"}) is None


def test_from_query_reads_every_parameter() -> None:
    plan = FaultPlan.from_query(
        {
            "partitions": "3",
            "fault.fail_every": "4",
            "fault.fail_keys": "a, b,,c ",
            "fault.transient": "false",
            "fault.ops": "publish,flush",
        }
    )
    assert plan is not None
    assert plan.fail_every == 4
    assert plan.fail_on_keys == frozenset({"a", "b", "c"})
    assert plan.transient is False
    assert plan.ops == frozenset({"publish", "flush"})


def test_from_query_defaults() -> None:
    plan = FaultPlan.from_query({"fault.fail_every": "2"})
    assert plan is not None
    assert plan.transient is True
    assert plan.ops == frozenset()
    assert plan.fail_on_keys == frozenset()


@pytest.mark.parametrize("value", ["0", "false", "FALSE", "no"])
def test_from_query_transient_false_spellings(value: str) -> None:
    plan = FaultPlan.from_query({"fault.transient": value})
    assert plan is not None
    assert plan.transient is False


def test_from_query_outage_starts_an_outage() -> None:
    plan = FaultPlan.from_query({"fault.outage_s": "60"})
    assert plan is not None
    with pytest.raises(InjectedTransientError, match="outage"):
        plan.check("publish")


def test_an_outage_file_fails_calls_while_it_exists(tmp_path: Path) -> None:
    switch = tmp_path / "archive-down"
    plan = FaultPlan.from_query({"fault.outage_file": str(switch), "fault.ops": "write"})
    assert plan is not None
    plan.check("write")  # no file: the call passes
    switch.touch()
    with pytest.raises(InjectedTransientError, match="archive-down exists"):
        plan.check("write")
    plan.check("read")  # outside the plan's ops
    switch.unlink()
    plan.check("write")
    assert plan.injected == 1


def test_a_slow_file_delays_calls_while_it_exists_and_fails_none(tmp_path: Path) -> None:
    switch = tmp_path / "slow-sink"
    plan = FaultPlan.from_query(
        {"fault.slow_file": str(switch), "fault.delay_s": "0.2", "fault.ops": "add_once"}
    )
    assert plan is not None

    def timed(op: str) -> float:
        started = time.monotonic()
        plan.check(op)
        return time.monotonic() - started

    assert timed("add_once") < 0.1  # no file: no delay
    switch.touch()
    assert timed("add_once") >= 0.2
    assert timed("upsert_many") < 0.1  # outside the plan's ops
    switch.unlink()
    assert timed("add_once") < 0.1
    assert plan.injected == 0  # slow, never failed


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="delay_s must be 0 or more"):
        FaultPlan.from_query({"fault.delay_s": "-1"})


def test_from_query_rejects_unknown_parameters_and_lists_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="fail_evry") as info:
        FaultPlan.from_query({"fault.fail_evry": "3"})
    known_ones = ("fail_every", "fail_keys", "transient", "ops", "outage_s", "outage_file")
    for known in (*known_ones, "delay_s", "slow_file"):
        assert known in str(info.value)


@pytest.mark.parametrize(
    "params", [{"fault.fail_every": "three"}, {"fault.outage_s": "soon"}, {"fault.fail_every": ""}]
)
def test_from_query_rejects_bad_numbers(params: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="bad fault parameter"):
        FaultPlan.from_query(params)


# ---------------------------------------------------------------------- inject


def test_inject_passes_calls_through_and_keeps_attributes() -> None:
    inner = Recorder()
    port = inject(inner, FaultPlan())
    assert port.publish(b"v", key=b"k") == "published"
    assert port.label == "recorder"
    assert port._private() == "private"
    assert inner.calls == [("publish", (b"v",), {"key": b"k"})]
    assert "inject(" in repr(port)


def test_inject_fails_before_the_call_reaches_the_port() -> None:
    inner = Recorder()
    port = inject(inner, FaultPlan(fail_every=2))
    port.flush()
    with pytest.raises(InjectedTransientError):
        port.flush()
    assert len(inner.calls) == 1


def test_private_methods_are_not_checked() -> None:
    plan = FaultPlan(fail_every=1)
    port = inject(Recorder(), plan)
    assert port._private() == "private"
    assert plan.calls == 0


def test_bytes_keys_match_as_text() -> None:
    port = inject(Recorder(), FaultPlan(fail_on_keys=frozenset({"user-7"})))
    port.publish(b"v", key=b"user-1")
    with pytest.raises(InjectedTransientError, match="user-7"):
        port.publish(b"v", key=b"user-7")


def test_str_keys_match_positional_and_keyword() -> None:
    port = inject(Recorder(), FaultPlan(fail_on_keys=frozenset({"orders"})))
    port.upsert_many("sessions", [{}], ["id"])
    with pytest.raises(InjectedTransientError, match="orders"):
        port.upsert_many("orders", [{}], ["id"])
    with pytest.raises(InjectedTransientError, match="orders"):
        port.upsert_many(collection="orders", documents=[{}], key=["id"])


def test_dataset_keyword_is_a_key() -> None:
    port = inject(Recorder(), FaultPlan(fail_on_keys=frozenset({"events"})))
    assert port.write(dataset="sessions", rows=3) == 3
    with pytest.raises(InjectedTransientError, match="events"):
        port.write(dataset="events", rows=3)


def test_publishers_and_readers_are_wrapped_with_the_same_plan() -> None:
    plan = FaultPlan(fail_every=2, ops=frozenset({"publish"}))
    port = inject(Recorder(), plan)
    publisher = port.publisher()
    reader = port.reader("group")
    assert plan_of(publisher) is plan
    assert plan_of(reader) is plan
    publisher.publish(b"1")
    with pytest.raises(InjectedTransientError):
        publisher.publish(b"2")


def test_plan_of_is_none_for_an_unwrapped_port() -> None:
    assert plan_of(Recorder()) is None
    assert plan_of(object()) is None


@pytest.fixture
def memory_topic() -> Iterator[str]:
    topic = f"faults_{uuid.uuid4().hex[:10]}"
    yield topic
    memory_bus.reset(topic)


def test_an_injected_memory_bus_drops_nothing_it_accepted(memory_topic: str) -> None:
    plan = FaultPlan(fail_every=3, ops=frozenset({"publish"}))
    bus = inject(MemoryBus(f"memory://{memory_topic}"), plan)
    bus.ensure(1)
    publisher = bus.publisher()
    accepted = []
    for i in range(9):
        try:
            publisher.publish(str(i).encode())
            accepted.append(str(i).encode())
        except InjectedTransientError:
            pass
    assert len(accepted) == 6
    reader = bus.reader("g")
    assert [m.value for m in reader.read(max_messages=100, timeout_s=0.1)] == accepted
    assert bus.topic == memory_topic

    plan.outage(60)
    with pytest.raises(InjectedTransientError, match="outage"):
        publisher.publish(b"x")
    plan.recover()
    publisher.publish(b"y")
