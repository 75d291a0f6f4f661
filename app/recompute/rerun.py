"""The stream job's own operator run again over the archive's batches, one micro-batch each.

The batches (:func:`app.recompute.inputs.archived_batches`) are written as one Parquet file
each, with modification times in batch order, and read back by Spark's file stream source
with ``maxFilesPerTrigger=1`` under the ``availableNow`` trigger: one file, one micro-batch,
in order. The query is :func:`app.pipeline.operator.operate`, the streaming job's transform,
not a second implementation; only the sinks differ: the rows are collected here, and the
callers (reconcile, backfill) decide what to compare or write.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from app.pipeline.operator import Kind, operate
from app.pipeline.output import MINUTE_COLUMNS
from app.pipeline.records import EVENT_FIELDS, POSITION
from app.pipeline.sinks import (
    DUPLICATES,
    EVENTS,
    LATE_EVENTS,
    closing_minutes,
    rows_of,
    session_rows,
)
from app.recompute.inputs import ArchivedBatch, utc

Document = dict[str, Any]


@dataclass
class Recomputed:
    """What the operator produced over the archive's batches."""

    #: Each minute's latest document (as the hot store would hold it), by minute.
    minutes: dict[datetime, Document] = field(default_factory=dict)
    #: Per archive batch id, the minutes it closed (what the job archived as final).
    closing: dict[str, pa.Table] = field(default_factory=dict)
    #: Per archive batch id, the sessions it closed.
    sessions: dict[str, pa.Table] = field(default_factory=dict)
    #: Per batch a backfill added events to, its rows for each event dataset of the archive.
    archived: dict[str, dict[str, pa.Table]] = field(default_factory=dict)
    batches: int = 0
    last_batch: str | None = None

    def session_documents(self) -> dict[str, Document]:
        """Every closed session, by session id, with the batch that closed it."""
        out: dict[str, Document] = {}
        for batch_id, table in self.sessions.items():
            for row in table.to_pylist():
                out[row["session_id"]] = row | {"batch_id": int(batch_id)}
        return out


def recompute(
    spark: Any,
    batches: list[ArchivedBatch],
    workdir: Path,
    progress: Callable[[str], None] = lambda _: None,
) -> Recomputed:
    """Run the operator over ``batches`` in order; ``workdir`` must be new or empty."""
    source = workdir / "batches"
    source.mkdir(parents=True, exist_ok=True)
    # Distinct, increasing modification times: the file source takes the oldest first.
    start = time.time() - len(batches) - 60
    for n, batch in enumerate(batches):
        path = source / f"batch-{n:010d}.parquet"
        pq.write_table(batch.raw, path)
        os.utime(path, (start + n, start + n))
    result = Recomputed(batches=len(batches))
    if not batches:
        return result
    schema = spark.read.parquet(str(source / "batch-0000000000.parquet")).schema
    stream = spark.readStream.schema(schema).option("maxFilesPerTrigger", 1).parquet(str(source))

    def collect(frame: Any, spark_batch: int) -> None:
        archive_batch = batches[spark_batch].batch_id
        table = frame.toArrow()
        _take(result, table, archive_batch)
        if batches[spark_batch].arrivals:
            result.archived[archive_batch] = {
                dataset: rows_of(table, kind, (*EVENT_FIELDS, *POSITION))
                for dataset, kind in (
                    (EVENTS, Kind.EVENT),
                    (LATE_EVENTS, Kind.LATE),
                    (DUPLICATES, Kind.DUPLICATE),
                )
            }
        result.last_batch = archive_batch
        if spark_batch % 20 == 0 or spark_batch == len(batches) - 1:
            progress(f"recompute: batch {spark_batch + 1:,} of {len(batches):,}")

    query = (
        operate(stream)
        .writeStream.queryName("streamkit_recompute")
        .outputMode("update")
        .option("checkpointLocation", str(workdir / "checkpoint"))
        .foreachBatch(collect)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    if result.last_batch != batches[-1].batch_id:
        msg = (
            f"the recomputation stopped at archive batch {result.last_batch} of "
            f"{batches[-1].batch_id}: Spark planned the batch files otherwise than one a batch"
        )
        raise RuntimeError(msg)
    return result


def _take(result: Recomputed, table: pa.Table, batch_id: str) -> None:
    minutes = rows_of(table, Kind.MINUTE, (*MINUTE_COLUMNS, "closing"))
    for row in minutes.drop_columns(["closing"]).to_pylist():
        minute = utc(row["minute"])
        result.minutes[minute] = row | {"minute": minute, "batch_id": int(batch_id)}
    final = closing_minutes(minutes)
    if final.num_rows:
        result.closing[batch_id] = final
    sessions = session_rows(table)
    if sessions.num_rows:
        result.sessions[batch_id] = sessions
