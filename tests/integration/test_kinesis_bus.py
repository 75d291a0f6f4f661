"""The Kinesis binding beyond the shared bus contract.

Reshards (a split, then a merge) while messages flow, on kinesalite, and partial
``PutRecords`` failures. The failures are injected into the real calls
through botocore's event hooks: the entries chosen are taken out of the
request before it is sent (so moto never stores them) and reported back as
failed entries, which is what Kinesis does when it throttles part of a batch.

Reshards run on kinesalite, not moto: after a split moto keeps writing to
the closed parent, and a merge copies the parents' records into the child
while keeping them in the parents, which Kinesis never does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from adapters.bus.kinesis import KinesisBus
from adapters.ports import BusMessage
from adapters.registry import open_bus
from tests.support.moto import kinesis_url, use_moto_credentials

pytestmark = [pytest.mark.emulators, pytest.mark.integration]

MIDDLE = str(2**127)  # half of Kinesis's 128-bit hash key space


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[KinesisBus]:
    """A new stream on moto's Kinesis; its publishers send only when full or flushed."""
    use_moto_credentials(monkeypatch)
    bus = open_bus(kinesis_url(f"kinesis_{uuid.uuid4().hex[:12]}", "linger_ms=600000"))
    assert isinstance(bus, KinesisBus)
    try:
        yield bus
    finally:
        bus.delete()


@pytest.fixture
def reshardable(monkeypatch: pytest.MonkeyPatch) -> Iterator[KinesisBus]:
    """A new stream on kinesalite, which reshards like Kinesis."""
    use_moto_credentials(monkeypatch)
    name = f"kinesis_{uuid.uuid4().hex[:12]}"
    bus = open_bus(kinesis_url(name, "linger_ms=0", kinesalite=True))
    assert isinstance(bus, KinesisBus)
    try:
        yield bus
    finally:
        bus.delete()


def publish(bus: KinesisBus, messages: list[tuple[bytes, bytes]]) -> None:
    publisher = bus.publisher()
    for value, key in messages:
        publisher.publish(value, key=key)
    report = publisher.flush()
    assert report.ok, report.failed
    assert report.delivered == len(messages)


def read_everything(bus: KinesisBus, group: str, expected: int) -> list[BusMessage]:
    reader = bus.reader(group)
    got: list[BusMessage] = []
    for _ in range(100):
        got.extend(reader.read(max_messages=1000, timeout_s=0.5))
        if len(got) >= expected:
            break
    reader.commit()
    reader.close()
    return got


def wave(name: str, users: int, per_user: int) -> list[tuple[bytes, bytes]]:
    return [
        (f"{name}:u{u}:{n}".encode(), f"u{u}".encode())
        for n in range(per_user)
        for u in range(users)
    ]


def reshard(bus: KinesisBus, action: str, **kwargs: str) -> None:
    """Split or merge shards and wait until the stream is ACTIVE again."""
    getattr(bus.kinesis, action)(StreamName=bus.stream, **kwargs)
    bus.kinesis.get_waiter("stream_exists").wait(
        StreamName=bus.stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )


def test_reading_follows_a_split_and_a_merge_in_key_order(reshardable: KinesisBus) -> None:
    stream = reshardable
    stream.ensure(1)
    first = wave("before-split", users=10, per_user=20)
    publish(stream, first)
    reader = stream.reader("reshard")
    early = reader.read(max_messages=50, timeout_s=5)  # part of the parent, not all of it
    reshard(stream, "split_shard", ShardToSplit="shardId-000000000000", NewStartingHashKey=MIDDLE)
    assert stream.partitions() == 2
    second = wave("after-split", users=10, per_user=20)
    publish(stream, second)
    reshard(
        stream,
        "merge_shards",
        ShardToMerge="shardId-000000000001",
        AdjacentShardToMerge="shardId-000000000002",
    )
    assert stream.partitions() == 1
    third = wave("after-merge", users=10, per_user=20)
    publish(stream, third)

    sent = first + second + third
    got = list(early)
    for _ in range(100):
        got.extend(reader.read(max_messages=1000, timeout_s=0.5))
        if len(got) >= len(sent):
            break
    assert sorted(m.value for m in got) == sorted(v for v, _ in sent)
    # The records of one key come back in publish order across both reshards:
    # children are read only once their parents are drained.
    for user in {k for _, k in sent}:
        assert [m.value for m in got if m.key == user] == [v for v, k in sent if k == user]
    assert {m.partition for m in got} == {0, 1, 2, 3}


def test_a_group_resumes_after_a_reshard(reshardable: KinesisBus) -> None:
    stream = reshardable
    stream.ensure(1)
    publish(stream, wave("old", users=4, per_user=5))
    assert len(read_everything(stream, "resume", 20)) == 20  # committed: the parent read
    reshard(stream, "split_shard", ShardToSplit="shardId-000000000000", NewStartingHashKey=MIDDLE)
    publish(stream, wave("new", users=4, per_user=5))
    again = read_everything(stream, "resume", 20)
    assert sorted(m.value for m in again) == sorted(v for v, _ in wave("new", 4, 5))


class FailEntries:
    """Make chosen ``PutRecords`` entries fail, the way Kinesis reports a throttled entry.

    ``plan`` maps a call number (0, 1, ...) to the indexes of the entries to
    fail in that call, with the error code to report for them. When every
    entry of a call fails, the call is answered without reaching the server
    (Kinesis refuses an empty batch), as botocore lets a ``before-call`` hook do.
    """

    def __init__(self, bus: KinesisBus, plan: dict[int, tuple[set[int], str]]) -> None:
        self.plan = plan
        self.calls = 0
        self._dropped: list[int] = []
        self._all_dropped = False
        self._code = ""
        events = bus.kinesis.meta.events
        events.register("provide-client-params.kinesis.PutRecords", self._drop)
        events.register("before-call.kinesis.PutRecords", self._answer_empty_batch)
        events.register("after-call.kinesis.PutRecords", self._report)

    def _drop(self, params: dict[str, Any], **_: Any) -> None:
        indexes, self._code = self.plan.get(self.calls, (set(), ""))
        self._dropped = sorted(i for i in indexes if i < len(params["Records"]))
        kept = [r for i, r in enumerate(params["Records"]) if i not in indexes]
        self._all_dropped = not kept
        params["Records"] = kept or params["Records"][:1]  # valid to serialize; never sent

    def _answer_empty_batch(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not self._all_dropped:
            return None
        return AWSResponse("", 200, {}, None), {"FailedRecordCount": 0, "Records": []}

    def _report(self, parsed: dict[str, Any], **_: Any) -> None:
        self.calls += 1
        for index in self._dropped:
            parsed["Records"].insert(
                index, {"ErrorCode": self._code, "ErrorMessage": "injected by the test"}
            )
            parsed["FailedRecordCount"] = parsed.get("FailedRecordCount", 0) + 1


def test_throttled_entries_are_sent_again_and_arrive_once(stream: KinesisBus) -> None:
    stream.ensure(2)
    throttled = "ProvisionedThroughputExceededException"
    injector = FailEntries(stream, {0: ({1, 3, 5}, throttled), 1: ({0}, throttled)})
    sent = [(f"m{i}".encode(), f"k{i % 3}".encode()) for i in range(10)]
    publisher = stream.publisher()
    for value, key in sent:
        publisher.publish(value, key=key)
    report = publisher.flush()
    assert report.ok, report.failed
    assert report.delivered == 10
    # One call for the batch, one for its 3 throttled entries, one for the entry throttled again.
    assert injector.calls == 3
    got = read_everything(stream, "retries", 10)
    assert sorted(m.value for m in got) == sorted(v for v, _ in sent)


def test_an_entry_failing_for_good_is_reported_not_lost(stream: KinesisBus) -> None:
    stream.ensure(1)
    FailEntries(stream, {0: ({2}, "KMSAccessDeniedException")})
    publisher = stream.publisher()
    for i in range(4):
        publisher.publish(f"m{i}".encode(), key=b"k")
    report = publisher.flush()
    assert report.delivered == 3
    assert report.failed == ((b"m2", "KMSAccessDeniedException: injected by the test"),)


def test_an_entry_throttled_on_every_attempt_is_reported_after_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_moto_credentials(monkeypatch)
    bus = open_bus(
        kinesis_url(f"kinesis_{uuid.uuid4().hex[:12]}", "max_attempts=3&linger_ms=600000")
    )
    assert isinstance(bus, KinesisBus)
    try:
        bus.ensure(1)
        throttled = "ProvisionedThroughputExceededException"
        always = {n: ({0}, throttled) for n in range(3)}
        FailEntries(bus, always)
        publisher = bus.publisher()
        publisher.publish(b"doomed", key=b"k")
        publisher.publish(b"fine", key=b"k")
        report = publisher.flush()
        assert report.delivered == 1
        assert [value for value, _ in report.failed] == [b"doomed"]
        assert throttled in report.failed[0][1]
    finally:
        bus.delete()


def test_an_on_demand_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    use_moto_credentials(monkeypatch)
    bus = open_bus(kinesis_url(f"kinesis_{uuid.uuid4().hex[:12]}", "mode=on-demand"))
    try:
        assert bus.ensure(3) >= 1  # Kinesis picks the shard count
        summary = bus.kinesis.describe_stream_summary(StreamName=bus.topic)  # type: ignore[attr-defined]
        assert summary["StreamDescriptionSummary"]["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
    finally:
        bus.delete()
