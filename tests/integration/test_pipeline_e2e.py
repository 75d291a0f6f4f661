"""End to end on the real stack: replay → Kafka → `streamkit pipeline --once` → hot store + Parquet.

The job's output is compared with the independent oracle (app/chaos/oracle.py)
minute by minute and session by session. Kafka micro-batch boundaries are read
back from the job's own offset log, so the oracle applies the watermark to
exactly the batches the job saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pandas as pd
import pytest

from adapters.ports import Bus
from adapters.registry import open_bus
from app.bench.backlog import behind, committed_offsets
from app.cli.replay import summary_count
from app.generate import Options, generate
from tests.support.oracle_checks import check_against_oracle
from tests.support.pipeline_run import Run, batches_of, in_batch_order, isolated, read_all

pytestmark = [pytest.mark.spark, pytest.mark.integration, pytest.mark.timeout(900)]

REES46 = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture
def run(topics: tuple[Bus, Bus], tmp_path: Path) -> Iterator[Run]:
    with isolated(topics, tmp_path) as setup:
        yield setup


@pytest.fixture
def one_partition(topics: tuple[Bus, Bus], tmp_path: Path) -> Iterator[Run]:
    """A set-up whose events topic has one partition: batches are runs of the file, in order."""
    events = open_bus(f"{topics[0].url}_single")
    events.ensure(1)
    setup = Run.fresh(events, topics[1], tmp_path)
    try:
        yield setup
    finally:
        setup.drop()
        events.delete()  # type: ignore[attr-defined]
        events.close()


def replay_then_drain(run: Run, data: Path, *replay_args: str, per_batch: int) -> None:
    replay = run.command("replay", str(data), "--rate", "max", *replay_args)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    progress_log = run.root / "progress.jsonl"
    job = run.command(
        "pipeline",
        "--once",
        STREAMKIT_PIPELINE__MAX_RECORDS_PER_BATCH=str(per_batch),
        STREAMKIT_PIPELINE__PROGRESS_LOG=str(progress_log),
    )
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert "batch 0:" in job.stdout and "pipeline stopped" in job.stdout
    # The progress log has a line for every batch the job reported, with the timings the
    # benchmark splits a batch by.
    logged = [orjson.loads(line) for line in progress_log.read_text().splitlines()]
    reported = [
        int(ln.split()[1].rstrip(":")) for ln in job.stdout.splitlines() if ln.startswith("batch ")
    ]
    assert [r["batch_id"] for r in logged] == reported
    assert sum(r["input_rows"] for r in logged) == summary_count(replay.stdout, "to events topic")
    for r in logged:
        assert r["durations_ms"]["triggerExecution"] >= r["durations_ms"]["addBatch"] > 0
        assert set(r["sink_stages"]) == {"dead_letters", "hot_store", "archive"}
        assert sum(r["sink_stages"].values()) <= r["sink_seconds"] + 0.01


def check_outputs(run: Run) -> None:
    """Hot store, archive and dead-letter topic against the oracle and each other."""
    messages = read_all(run.events)
    values, sizes = in_batch_order(messages, batches_of(run.checkpoint, run.events.topic))
    assert sum(sizes) == len(messages), "every record is in a committed batch"
    # The benchmark's backlog, read from outside the job, is nil once it has drained the topic.
    committed = committed_offsets(run.checkpoint, run.events.topic)
    assert sum(committed.values()) == len(messages)
    assert behind(run.events.end_offsets(), committed) == 0  # type: ignore[attr-defined]
    assert len(sizes) > 3
    check_against_oracle(run, values, sizes)


def test_generated_traffic_equals_the_oracle(one_partition: Run, tmp_path: Path) -> None:
    """Duplicates, late events inside and beyond the watermark, malformed records.

    The generator's manifest counts a row late by the file's order; the job, by the newest
    event of the batches before. On one partition every batch is a run of the file, so the
    two agree whenever a batch spans under two minutes of event time: ~270 events a minute in
    400-record batches. (On several partitions a batch can hold a later stretch of one
    partition than of another, and a row the file calls 9 minutes late may be dropped: the
    oracle, which follows the actual batches, still checks those.)
    """
    run = one_partition
    data = tmp_path / "events.csv"
    generate(Options.over(data, 16_000, 60))
    replay_then_drain(run, data, per_batch=400)
    check_outputs(run)
    # Beyond the oracle: every minute's late_dropped is what the generator injected there.
    minutes = run.hot("kpi_minutes", "minute")
    manifest = orjson.loads(data.with_name(data.name + ".manifest.json").read_bytes())
    injected = {
        pd.Timestamp(minute): n for minute, n in manifest["late_beyond_watermark_by_minute"].items()
    }
    late = minutes[minutes["late_dropped"] > 0]
    counted = zip(pd.to_datetime(late["minute"], utc=True), late["late_dropped"], strict=True)
    assert {minute: int(n) for minute, n in counted} == injected
    assert int(minutes["late_dropped"].sum()) == manifest["kinds"]["late_beyond_watermark"] > 0


def test_rees46_sample_with_original_times_equals_the_oracle(run: Run) -> None:
    data = REES46 / "rees46_2019-Oct_first17434rows_Team11.csv"
    replay_then_drain(run, data, "--format", "rees46", per_batch=2_000)
    check_outputs(run)
