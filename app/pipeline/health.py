"""Progress lines and the pipeline-health document, from Spark's query progress.

Spark reports each finished micro-batch (rows in, rates, durations, the Kafka
source's offsets behind the latest) to a query listener. This one prints a
progress line and upserts the health document the API's ``/health`` reads:
freshness is wall-clock time since ``last_batch_at``, so a replay of old data
is not "stale".
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql.streaming.listener import StreamingQueryListener

from adapters.errors import StreamkitError
from adapters.ports import HotStore
from app.pipeline.documents import HEALTH, JOB
from app.pipeline.sinks import Sinks

log = logging.getLogger(__name__)


def _lag(progress: Any) -> int | None:
    """Records the Kafka source is behind the latest offsets, in its worst partition."""
    lags = []
    for source in progress.sources or []:
        metrics = source.metrics or {}
        if "maxOffsetsBehindLatest" in metrics:
            # Spark reports the min/avg/max over partitions, not their sum.
            lags.append(int(float(metrics["maxOffsetsBehindLatest"])))
    return max(lags) if lags else None


def kafka_offsets(value: Any) -> dict[str, int] | None:
    """A Kafka source's offsets, ``{"topic": {"0": 12, …}}``, as partition → offset.

    None for any other source (Kinesis, Pub/Sub) or more than one topic: the per-partition
    figures are Kafka's. Keys stay strings, as the hot store's documents need.
    """
    offsets = _offsets(value)
    if not isinstance(offsets, dict) or len(offsets) != 1:
        return None
    (partitions,) = offsets.values()
    if not isinstance(partitions, dict):
        return None
    try:
        return {str(int(p)): int(o) for p, o in partitions.items()}
    except (TypeError, ValueError):
        return None


def _partitions(progress: Any) -> dict[str, Any]:
    """Per partition: where the batch ended, and how far behind the latest offsets that is."""
    sources = progress.sources or []
    if len(sources) != 1:
        return {}
    end = kafka_offsets(sources[0].endOffset)
    latest = kafka_offsets(getattr(sources[0], "latestOffset", None))
    if end is None:
        return {}
    fields: dict[str, Any] = {"end_offsets": end}
    if latest is not None:
        fields["lag_by_partition"] = {p: max(0, latest.get(p, o) - o) for p, o in end.items()}
    return fields


def _trigger_time(progress: Any) -> datetime | None:
    """When the batch's trigger fired (Spark's ISO ``timestamp``, UTC)."""
    try:
        return datetime.fromisoformat(str(progress.timestamp).replace("Z", "+00:00"))
    except ValueError:
        return None


def _state(progress: Any) -> dict[str, int]:
    """Rows and memory held by the stateful operators, summed (the job has one)."""
    operators = progress.stateOperators or []
    if not operators:
        return {}
    return {
        "state_rows": sum(int(op.numRowsTotal or 0) for op in operators),
        "state_memory_bytes": sum(int(op.memoryUsedBytes or 0) for op in operators),
    }


def document(progress: Any, sinks: Sinks, trigger_lag_ms: int | None = None) -> dict[str, Any]:
    """The health document for one finished batch.

    ``trigger_lag_ms``: how late this batch started against its trigger, when known (the
    listener knows the previous batch's duration).
    """
    report = sinks.last if sinks.last and sinks.last.batch_id == progress.batchId else None
    duration = progress.durationMs or {}
    doc: dict[str, Any] = {
        "job": JOB,
        "batch_id": progress.batchId,
        "last_batch_at": datetime.now(UTC),
        "input_rows": progress.numInputRows,
        "input_rate": round(progress.inputRowsPerSecond or 0.0, 1),
        "processing_rate": round(progress.processedRowsPerSecond or 0.0, 1),
        "batch_duration_ms": int(duration.get("triggerExecution", 0)),
        "lag_records": _lag(progress),
        **_partitions(progress),
        **_state(progress),
    }
    if trigger_lag_ms is not None:
        doc["trigger_lag_ms"] = trigger_lag_ms
    if doc["lag_records"] == 0 and (started := _trigger_time(progress)) is not None:
        # The batch read everything on the bus when it started: the job was caught up then.
        # Left out otherwise, so the stored value (an upsert merges) keeps the last such time.
        doc["caught_up_at"] = started
    if report is not None:
        doc["rows"] = dict(report.rows)
        doc["watermark"] = report.watermark
        doc["sink_seconds"] = round(report.sink_seconds, 3)
    return doc


def record(progress: Any, doc: dict[str, Any], sinks: Sinks) -> dict[str, Any]:
    """One line of the progress log: the health document plus Spark's phase durations.

    ``trigger_at`` is when the batch's trigger fired (Spark's progress timestamp); ``durations_ms``
    splits the batch into Spark's phases (``latestOffset``, ``queryPlanning``, ``addBatch`` ...,
    ``triggerExecution`` the whole); ``sink_stages`` splits ``addBatch``'s sink work by sink.
    """
    report = sinks.last if sinks.last and sinks.last.batch_id == progress.batchId else None
    return {
        **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in doc.items()},
        "trigger_at": progress.timestamp,
        "durations_ms": dict(progress.durationMs or {}),
        "sink_stages": dict(report.stages) if report is not None else {},
        "end_offsets": [_offsets(source.endOffset) for source in progress.sources or []],
    }


def _offsets(value: Any) -> Any:
    """A source's offsets as JSON values: PySpark hands the Kafka source's over as a JSON string."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def line(doc: dict[str, Any]) -> str:
    """One progress line: batch, rows in/out, rates, lag."""
    rows = doc.get("rows", {})
    lag = doc["lag_records"]
    return (
        f"batch {doc['batch_id']}: {doc['input_rows']:,} in → {rows.get('event', 0):,} events, "
        f"{rows.get('late', 0):,} late, {rows.get('reject', 0):,} dead-lettered, "
        f"{rows.get('minute', 0):,} minutes, {rows.get('session', 0):,} sessions closed · "
        f"{doc['input_rate']:,.0f} in/s, {doc['processing_rate']:,.0f} processed/s · "
        f"lag {'?' if lag is None else f'{lag:,}'} · {doc['batch_duration_ms'] / 1000:.1f} s"
    )


class HealthListener(StreamingQueryListener):
    """Prints each batch's progress and upserts the health document."""

    def __init__(
        self,
        hot: HotStore,
        sinks: Sinks,
        out: Callable[[str], None],
        progress_log: Path | None = None,
        trigger_interval_ms: int | None = None,
    ) -> None:
        """``out`` receives the progress lines; ``progress_log``, when given, a JSON line each.

        ``trigger_interval_ms``: the processing-time trigger's interval, for the trigger lag
        (None with ``availableNow``, which has no interval).
        """
        self.hot, self.sinks, self.out = hot, sinks, out
        self.progress_log = progress_log
        self.trigger_interval_ms = trigger_interval_ms
        self._previous_duration_ms: int | None = None
        #: A report the hot store did not take, merged into the next write.
        self._unwritten: dict[str, Any] = {}
        self.batches = 0
        self.rows = 0
        self._seen = -1
        self._progressed = threading.Condition()

    def wait_for(self, batch_id: int, timeout_s: float = 15.0) -> bool:
        """Wait until batch ``batch_id`` is reported (Spark calls listeners asynchronously)."""
        with self._progressed:
            return self._progressed.wait_for(lambda: self._seen >= batch_id, timeout_s)

    def onQueryStarted(self, event: Any) -> None:  # noqa: N802 - Spark's name
        """Nothing to report yet."""

    def onQueryProgress(self, event: Any) -> None:  # noqa: N802 - Spark's name
        """One finished batch (also no-data batches, which only move time)."""
        progress = event.progress
        try:
            if progress.numInputRows or (
                self.sinks.last and self.sinks.last.batch_id == progress.batchId
            ):
                self._report(progress)
        finally:
            self._previous_duration_ms = int((progress.durationMs or {}).get("triggerExecution", 0))
            with self._progressed:
                self._seen = max(self._seen, progress.batchId)
                self._progressed.notify_all()

    def _trigger_lag_ms(self) -> int | None:
        """How late this batch started (None: unknown).

        A batch that overruns the interval delays the next by the overrun: Spark then starts
        the next one at once.
        """
        if self.trigger_interval_ms is None or self._previous_duration_ms is None:
            return None
        return max(0, self._previous_duration_ms - self.trigger_interval_ms)

    def _report(self, progress: Any) -> None:
        doc = document(progress, self.sinks, self._trigger_lag_ms())
        self.batches += 1
        self.rows += progress.numInputRows
        self.out(line(doc))
        if self.progress_log is not None:
            try:
                with self.progress_log.open("a") as log_file:
                    log_file.write(json.dumps(record(progress, doc, self.sinks)) + "\n")
            except OSError as e:  # a diagnostic: never worth stopping the job for
                log.warning("could not append to the progress log %s: %s", self.progress_log, e)
        self._write(doc)

    def _write(self, doc: dict[str, Any]) -> None:
        """Upsert the health document; one that could not be written goes with the next write.

        Health is best effort (the batch is already committed), but a lost batch report would
        leave stale offsets behind an outage of the hot store: the job would look behind
        until its next batch, so the next write (an idle report too) carries it.
        """
        merged = {**self._unwritten, **doc} if self._unwritten else doc
        try:
            self.hot.upsert_many(HEALTH, [merged], ["job"])
        except StreamkitError as e:
            log.warning("could not write the health document: %s", e)
            self._unwritten = merged
        else:
            self._unwritten = {}

    def onQueryIdle(self, event: Any) -> None:  # noqa: N802 - Spark's name
        """A trigger found nothing new: everything published so far is processed.

        Spark reports this at most every ``noDataProgressEventInterval``
        (10 s); ``idle_at`` tells waiters (the demo, the API's freshness
        check) that the job is caught up, not stalled.
        """
        now = datetime.now(UTC)
        # Idle: everything published so far is processed, so the job is caught up too.
        self._write({"job": JOB, "idle_at": now, "caught_up_at": now})

    def onQueryTerminated(self, event: Any) -> None:  # noqa: N802 - Spark's name
        """The job reports its own end."""
