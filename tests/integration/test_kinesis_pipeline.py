"""The stream job reading Kinesis through its Python data source.

1. The same events through Kafka and through Kinesis (moto) give the same
   minute KPIs, sessions, archive and dead-letter count: moving the bus
   changes no number.
2. On kinesalite, a stream resharded between two waves of events and a job
   killed (``kill -9`` of its process group) after a batch's hot-store write:
   after a restart every output equals the independent oracle's, computed
   over the batches the job planned (read back from its offset log), so
   nothing was lost or counted twice across the split and the crash.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from adapters.bus.kinesis import KinesisBus
from adapters.ports import Bus, BusMessage
from adapters.registry import open_bus
from app.generate import DEFAULT_START, Options, generate
from app.pipeline.sinks import SESSION_FIELDS
from tests.support.compare import COUNTED
from tests.support.moto import kinesis_url, use_moto_credentials
from tests.support.oracle_checks import check_against_oracle
from tests.support.pipeline_run import Run, read_all

pytestmark = [
    pytest.mark.spark,
    pytest.mark.integration,
    pytest.mark.emulators,
    pytest.mark.timeout(900),
]

ALL_IN_ONE_BATCH = "100000"


@pytest.fixture
def streams(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[KinesisBus, KinesisBus]]:
    """An events stream (3 shards) and a dead-letter stream on moto, or on kinesalite."""
    use_moto_credentials(monkeypatch)
    on_kinesalite = bool(getattr(request, "param", False))
    run = uuid.uuid4().hex[:12]
    made = []
    for name, shards in ((f"events_{run}", 3), (f"dead_{run}", 1)):
        bus = open_bus(kinesis_url(name, kinesalite=on_kinesalite))
        assert isinstance(bus, KinesisBus)
        bus.ensure(shards)
        made.append(bus)
    try:
        yield made[0], made[1]
    finally:
        for bus in made:
            bus.delete()


def replay(run: Run, data: Path) -> None:
    done = run.command("replay", str(data), "--rate", "max")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def drain(run: Run, per_batch: str, **extra: str) -> None:
    job = run.command(
        "pipeline", "--once", STREAMKIT_PIPELINE__MAX_RECORDS_PER_BATCH=per_batch, **extra
    )
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert "pipeline stopped" in job.stdout


def comparable(run: Run) -> dict[str, pd.DataFrame]:
    """What must not change with the bus: KPIs, sessions, archived ids and counts."""
    minutes = run.hot("kpi_minutes", "minute")[["minute", *COUNTED, "deadlettered", "final"]]
    # Records rejected for their time are counted in the minute they were
    # published, which is wall-clock time and differs between two runs: those
    # minutes are compared by their total, the others minute by minute.
    with_events = (minutes[COUNTED] > 0).any(axis=1)
    sessions = run.hot("sessions", "session_id")[list(SESSION_FIELDS)]
    events = run.archived("events")
    return {
        "minutes": minutes[with_events].reset_index(drop=True),
        "dead letters": pd.DataFrame({"n": [int(minutes["deadlettered"].sum())]}),
        "sessions": sessions.reset_index(drop=True),
        "archived event ids": pd.DataFrame({"id": sorted(events["event_id"])}),
        "archived minutes": run.archived("kpi_minutes")[["minute", *COUNTED]]
        .sort_values("minute")
        .reset_index(drop=True),
        "archived late events": pd.DataFrame({"n": [len(run.archived("late_events"))]}),
    }


def test_the_same_events_give_the_same_numbers_on_kafka_and_kinesis(
    topics: tuple[Bus, Bus], streams: tuple[KinesisBus, KinesisBus], tmp_path: Path
) -> None:
    data = tmp_path / "events.csv"
    # An hour, so sessions close; duplicates, late and malformed records included.
    generate(Options.over(data, 6_000, 60))
    on_kafka = Run.fresh(*topics, tmp_path / "kafka")
    on_kinesis = Run.fresh(*streams, tmp_path / "kinesis")
    try:
        for run in (on_kafka, on_kinesis):
            replay(run, data)
            # One batch each: Kafka and Kinesis cut batches differently, and the
            # watermark (hence which late events count) follows the batches.
            drain(run, ALL_IN_ONE_BATCH)
        expected, got = comparable(on_kafka), comparable(on_kinesis)
        for name, frame in expected.items():
            assert len(frame) > 0, name
            pd.testing.assert_frame_equal(got[name], frame, check_like=True, obj=name)
        assert int(expected["dead letters"]["n"].iloc[0]) > 0
    finally:
        on_kafka.drop()
        on_kinesis.drop()


def kinesis_batches(checkpoint: Path) -> list[dict[str, int]]:
    """Per planned batch, each shard's record count at its end, from Spark's offset log."""
    ends = []
    log = checkpoint / "offsets"
    for path in sorted((p for p in log.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
        offset = json.loads(path.read_text().splitlines()[2])
        ends.append({shard: int(state["n"]) for shard, state in offset.items()})
    return ends


def in_kinesis_batch_order(
    messages: list[BusMessage], ends: list[dict[str, int]]
) -> tuple[list[bytes], list[int]]:
    """Record values ordered by the batch that took them, and the size of each batch."""
    numbered: list[tuple[int, BusMessage]] = []
    for shard in sorted({m.partition for m in messages}):
        mine = sorted((m for m in messages if m.partition == shard), key=lambda m: m.offset)
        shard_id = f"shardId-{shard:012d}"
        for n, message in enumerate(mine, start=1):
            batch = next(b for b, end in enumerate(ends) if n <= end.get(shard_id, 0))
            numbered.append((batch, message))
    numbered.sort(key=lambda pair: pair[0])
    sizes = [sum(1 for b, _ in numbered if b == n) for n in range(len(ends))]
    return [m.value for _, m in numbered], sizes


@pytest.mark.parametrize("streams", [True], indirect=True, ids=["kinesalite"])
def test_a_reshard_and_a_kill_9_change_nothing_on_kinesis(
    streams: tuple[KinesisBus, KinesisBus], tmp_path: Path
) -> None:
    events, _ = streams
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    generate(Options.over(first, 4_000, 20))
    # 22 minutes: sessions close once the watermark's minute passes their end by 30 minutes,
    # so the traffic runs a little past 40 minutes for the first ones to close.
    generate(Options.over(second, 4_400, 22, start=DEFAULT_START + timedelta(minutes=20), seed=7))
    run = Run.fresh(*streams, tmp_path / "run")
    try:
        replay(run, first)
        events.kinesis.split_shard(
            StreamName=events.stream,
            ShardToSplit="shardId-000000000001",
            NewStartingHashKey=str(2**127),  # inside shard 1's third of the key space
        )
        events.kinesis.get_waiter("stream_exists").wait(
            StreamName=events.stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
        )
        assert events.partitions() == 4
        replay(run, second)

        killed = run.command(
            "pipeline",
            "--once",
            STREAMKIT_PIPELINE__MAX_RECORDS_PER_BATCH="700",
            STREAMKIT_PIPELINE__CRASH_AT="after_hot_store@2",
        )
        assert killed.returncode == -9, killed.stdout[-2000:] + killed.stderr[-2000:]
        drain(run, "700")

        messages = read_all(events)
        assert {m.partition for m in messages} == {0, 1, 2, 3, 4}  # the parent and its children
        values, sizes = in_kinesis_batch_order(messages, kinesis_batches(run.checkpoint))
        assert sum(sizes) == len(messages) > 7_900, sizes  # a few unframeable rows stop at replay
        assert len(sizes) > 10
        check_against_oracle(run, values, sizes)
    finally:
        run.drop()
