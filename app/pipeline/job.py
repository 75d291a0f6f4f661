"""The stream job, assembled: bus → operator (validation included) → sinks.

Three visible stages: the source (:mod:`app.pipeline.source`), the pure
transform (:func:`app.pipeline.operator.operate`, which validates each record
with the contract's validator) and the sinks
(:class:`app.pipeline.sinks.Sinks`, called once per micro-batch through
``foreachBatch``). State and source positions live in the checkpoint, so a
restarted job resumes where the last committed batch ended.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from adapters.ports import Bus
from adapters.urls import mask_url
from app import bootstrap
from app.pipeline import profile
from app.pipeline.backoff import Backoff
from app.pipeline.crash import CrashPlan
from app.pipeline.health import HealthListener
from app.pipeline.identity import check_identity
from app.pipeline.operator import operate
from app.pipeline.sinks import Sinks
from app.pipeline.source import bus_stream
from app.pipeline.state import check_layout, state_variables
from app.settings import Settings
from app.spark.session import build_session

QUERY_NAME = "streamkit_pipeline"


@dataclass(frozen=True)
class RunSummary:
    """What a run did: batches with data, input rows, wall-clock seconds."""

    batches: int
    rows: int
    seconds: float


def checkpoint_of(settings: Settings) -> str:
    """The job's checkpoint location (under ``STREAMKIT_CHECKPOINT_DIR``: a path or a URL)."""
    return f"{settings.checkpoint_dir.rstrip('/')}/pipeline"


def run(settings: Settings, *, once: bool, out: Callable[[str], None] = print) -> RunSummary:
    """Run the job until stopped (Ctrl-C), or with ``once`` until the bus is drained."""
    started = time.monotonic()
    ports = bootstrap.ports(settings)
    try:
        partitions = ports.bus.partitions()  # a clear error now if the topic is missing
        out(f"reading {ports.bus.topic} ({partitions} partitions) from {mask_url(ports.bus.url)}")
        source = f"{urlsplit(ports.bus.url).scheme}:{ports.bus.topic}"
        # Before Spark starts: a changed query is refused at once, its checkpoint untouched.
        check_identity(checkpoint_of(settings), source)
        if settings.pipeline.operator_profile:
            # Spark's Python workers inherit the driver's environment (local mode).
            os.environ[profile.ENV] = settings.pipeline.operator_profile
        # One state partition: the operator has a single key, so a second
        # partition would only open (and commit) an empty state store per batch.
        spark = build_session(
            "streamkit-pipeline",
            settings=settings,
            progress=out,
            extra_conf={"spark.sql.shuffle.partitions": "1"},
        )
        sinks = Sinks(
            ports.hot_store,
            ports.archive,
            ports.deadletter,
            source=source,
            retention=timedelta(days=settings.pipeline.hot_retention_days),
            crash=CrashPlan(settings.pipeline.crash_at),
            backoff=Backoff(budget_s=settings.pipeline.outage_s),
        )
        check_state_layout(spark, checkpoint_of(settings))
        sinks.prepare()
        progress_log = settings.pipeline.progress_log
        listener = HealthListener(
            ports.hot_store,
            sinks,
            out,
            Path(progress_log) if progress_log else None,
            trigger_interval_ms=None if once else round(settings.pipeline.trigger_seconds * 1000),
        )
        spark.streams.addListener(listener)
        query = _start(spark, settings, ports.bus, sinks, once=once)
        out(
            f"checkpoint {checkpoint_of(settings)}; "
            + ("draining the bus" if once else "Ctrl-C stops")
        )
        try:
            query.awaitTermination()
        except KeyboardInterrupt:
            out("stopping after the current batch …")
            query.stop()
        finally:
            last = query.lastProgress
            if last is not None:
                listener.wait_for(int(last["batchId"]))
            spark.streams.removeListener(listener)
            sinks.close()
        return RunSummary(listener.batches, listener.rows, time.monotonic() - started)
    finally:
        ports.close()


def check_state_layout(spark: Any, checkpoint: str) -> None:
    """Refuse a checkpoint whose operator state another layout wrote (before Spark reads it)."""
    from adapters.filesystems import open_filesystem  # noqa: PLC0415 - needs pyarrow

    filesystem, path = open_filesystem(f"{checkpoint.rstrip('/')}/state")
    if filesystem.get_file_info(path).type.name == "NotFound":
        return  # a new checkpoint, or one with no committed state yet
    for row in spark.read.format("state-metadata").load(checkpoint).collect():
        check_layout(state_variables(row["operatorProperties"]), checkpoint)


def _write(sinks: Sinks, batch: Any, batch_id: int) -> None:
    # One collect as Arrow: every sink reads the same rows, and the stateful
    # operator is not recomputed per sink.
    sinks.write(batch.toArrow(), batch_id)


def _start(spark: Any, settings: Settings, bus: Bus, sinks: Sinks, *, once: bool) -> Any:
    stream = bus_stream(spark, bus, settings.pipeline.max_records_per_batch)
    writer = (
        operate(stream)
        .writeStream.queryName(QUERY_NAME)
        .outputMode("update")
        .option("checkpointLocation", checkpoint_of(settings))
        .foreachBatch(lambda batch, batch_id: _write(sinks, batch, batch_id))
    )
    if once:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{settings.pipeline.trigger_seconds} seconds")
    return writer.start()
