"""The job's health document from Spark's query progress: per-partition lag, state, trigger lag.

The progress is PySpark's own ``StreamingQueryProgress``, built by its ``fromJson`` from the
JSON a Kafka-sourced query reports (the shape of ``StreamingQuery.lastProgress``), so the
fields read are the ones Spark fills. The stack test (``tests/integration/test_alerts_stack.py``)
reads the document a real job wrote.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pyspark.sql.streaming.listener import StreamingQueryProgress

from adapters.faults import FaultPlan, inject
from adapters.registry import open_hot_store
from app.pipeline.documents import HEALTH
from app.pipeline.health import HealthListener, document, kafka_offsets
from app.pipeline.sinks import Sinks


def progress(batch: int = 7, duration_ms: int = 1500, **source: Any) -> StreamingQueryProgress:
    kafka = {
        "description": "KafkaV2[Subscribe[events_raw]]",
        "startOffset": {"events_raw": {"0": 90, "1": 80, "2": 70}},
        "endOffset": {"events_raw": {"0": 100, "1": 85, "2": 70}},
        "latestOffset": {"events_raw": {"0": 130, "1": 85, "2": 75}},
        "numInputRows": 15,
        "inputRowsPerSecond": 10.0,
        "processedRowsPerSecond": 12.5,
        "metrics": {"maxOffsetsBehindLatest": "30", "avgOffsetsBehindLatest": "11.7"},
        **source,
    }
    state = {
        "operatorName": "transformWithStateInPandasExec",
        "numRowsTotal": 1200,
        "numRowsUpdated": 15,
        "numRowsRemoved": 0,
        "allUpdatesTimeMs": 3,
        "allRemovalsTimeMs": 0,
        "commitTimeMs": 40,
        "memoryUsedBytes": 524288,
        "numRowsDroppedByWatermark": 0,
        "numShufflePartitions": 1,
        "numStateStoreInstances": 1,
    }
    return StreamingQueryProgress.fromJson(
        {
            "id": str(uuid.uuid4()),
            "runId": str(uuid.uuid4()),
            "name": "streamkit",
            "timestamp": "2026-11-27T08:00:00.000Z",
            "batchId": batch,
            "batchDuration": duration_ms,
            "numInputRows": 15,
            "inputRowsPerSecond": 10.0,
            "processedRowsPerSecond": 12.5,
            "durationMs": {"triggerExecution": duration_ms, "addBatch": duration_ms - 100},
            "stateOperators": [state],
            "sources": [kafka],
            "sink": {"description": "ForeachBatchSink", "numOutputRows": -1},
        }
    )


@pytest.fixture
def sinks() -> Sinks:
    return Sinks.__new__(Sinks)  # only ``last`` is read: no batch was written by these sinks


def test_per_partition_offsets_and_lag(sinks: Sinks) -> None:
    sinks.last = None
    doc = document(progress(), sinks)
    assert doc["end_offsets"] == {"0": 100, "1": 85, "2": 70}
    assert doc["lag_by_partition"] == {"0": 30, "1": 0, "2": 5}
    assert doc["lag_records"] == 30  # Spark's worst partition, as before
    assert (doc["state_rows"], doc["state_memory_bytes"]) == (1200, 524288)
    assert "trigger_lag_ms" not in doc  # not known from one progress alone
    assert "caught_up_at" not in doc  # 30 records were left behind: not caught up


def test_a_batch_that_read_everything_marks_when_the_job_was_caught_up(sinks: Sinks) -> None:
    sinks.last = None
    done = progress(
        latestOffset={"events_raw": {"0": 100, "1": 85, "2": 70}},
        metrics={"maxOffsetsBehindLatest": "0"},
    )
    doc = document(done, sinks)
    assert doc["lag_by_partition"] == {"0": 0, "1": 0, "2": 0}
    assert doc["caught_up_at"] == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # its trigger time


def test_sources_other_than_kafka_have_no_partitions(sinks: Sinks) -> None:
    sinks.last = None
    kinesis = progress(
        description="KinesisSource[events]",
        startOffset={"shardId-0": "4960"},
        endOffset={"shardId-0": "4961"},
        latestOffset=None,
        metrics={},
    )
    doc = document(kinesis, sinks)
    assert "end_offsets" not in doc and "lag_by_partition" not in doc
    assert kafka_offsets('{"a": {"0": 1}, "b": {"0": 2}}') is None  # two topics
    assert kafka_offsets("not json") is None
    assert kafka_offsets('{"t": {"0": 1, "1": 2}}') == {"0": 1, "1": 2}


def test_a_batch_that_overran_its_trigger_delays_the_next(sinks: Sinks) -> None:
    sinks.last = None
    hot = open_hot_store(f"memory://health-{uuid.uuid4().hex[:8]}")
    listener = HealthListener(hot, sinks, lambda _: None, trigger_interval_ms=1000)
    event = type("Event", (), {})
    for batch, duration_ms in ((1, 3500), (2, 800), (3, 900)):
        event.progress = progress(batch, duration_ms)  # type: ignore[attr-defined]
        listener.onQueryProgress(event)
        if batch == 2:
            assert hot.latest(HEALTH, "job")["trigger_lag_ms"] == 2500  # batch 1 overran by 2.5 s
    assert hot.latest(HEALTH, "job")["trigger_lag_ms"] == 0
    assert hot.latest(HEALTH, "job")["lag_by_partition"] == {"0": 30, "1": 0, "2": 5}


def test_a_report_the_store_refused_goes_with_the_next_idle_report(sinks: Sinks) -> None:
    sinks.last = None
    plan = FaultPlan(ops=frozenset({"upsert_many"}))
    hot = inject(open_hot_store(f"memory://health-{uuid.uuid4().hex[:8]}"), plan)
    listener = HealthListener(hot, sinks, lambda _: None)
    event = type("Event", (), {})
    plan.outage(60)
    event.progress = progress(4)  # type: ignore[attr-defined]
    listener.onQueryProgress(event)  # the store is down: the report is kept
    plan.recover()
    assert hot.latest(HEALTH, "job") is None
    listener.onQueryIdle(event)
    doc = hot.latest(HEALTH, "job")
    assert doc is not None
    assert (doc["batch_id"], doc["end_offsets"]) == (4, {"0": 100, "1": 85, "2": 70})
    assert doc["idle_at"] == doc["caught_up_at"]
