"""The stream job's sinks: one call per micro-batch, idempotent per batch id.

Spark runs a batch again after a crash with the same input and the same
restored state, so the operator emits the same rows; every write below
leaves the same result when repeated:

* dead letters carry a deterministic ``dead_letter_id`` (a re-sent one is
  recognisably the same record; the topic is at-least-once);
* minute documents are upserted by key with absolute values, and closed
  sessions (which never change) inserted unless their id is stored;
  latency histograms and per-minute session sums are merged at most once
  per batch (``add_once``);
* archive files (events, late events, duplicates, rejected records, closed
  sessions, final minutes) are named by batch id, so a rewrite replaces them.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adapters.errors import TransientError
from adapters.ports import Archive, Bus, BusPublisher, HotStore
from app.events.rejects import Reason, Rejection, dead_letter
from app.pipeline import latency
from app.pipeline.backoff import Backoff
from app.pipeline.crash import CrashPlan, Point
from app.pipeline.documents import KPI_MINUTES, SESSION_MINUTES, SESSIONS
from app.pipeline.operator import Kind
from app.pipeline.output import MINUTE_COLUMNS
from app.pipeline.records import EVENT_FIELDS, POSITION

log = logging.getLogger(__name__)

#: Archive datasets, each under its own prefix.
EVENTS, LATE_EVENTS = "events", "late_events"
#: On-time copies of counted events, which the job dropped: with the events, the late events
#: and the rejects, every record the job read, so a recomputation replays whole batches.
DUPLICATES = "duplicates"
#: Records the contract refused, raw, with their reason and position on the bus: the
#: dead-letter topic keeps them only for its retention, and a recomputation from the
#: archive needs them to count a minute's dead letters (docs/operations.md).
REJECTS = "rejects"
#: What is kept of a rejected record.
REJECT_FIELDS = ("raw", "reason", "message", *POSITION)
#: A session record, as stored and archived.
SESSION_FIELDS = (
    "session_id",
    "user_id",
    "start",
    "end",
    "duration_s",
    "events",
    "page_views",
    "add_to_carts",
    "purchases",
    "remove_from_carts",
    "revenue_cents",
    "converted",
)
#: Collections kept for the retention period (by ``written_at``).
_RETAINED = (KPI_MINUTES, SESSIONS, SESSION_MINUTES)
_SWEEP_EVERY = timedelta(minutes=10)


@dataclass
class BatchReport:
    """What one batch wrote, for progress lines and the health document."""

    batch_id: int
    rows: Counter[str] = field(default_factory=Counter)
    watermark: datetime | None = None
    sink_seconds: float = 0.0
    #: Seconds per sink (``dead_letters``, ``hot_store``, ``archive``), for tuning.
    stages: dict[str, float] = field(default_factory=dict)


def rows_of(table: pa.Table, kind: Kind, columns: tuple[str, ...]) -> pa.Table:
    """The operator's rows of one kind, with the given columns."""
    return table.filter(pc.equal(table["kind"], kind.value)).select(list(columns))


def closing_minutes(minutes: pa.Table) -> pa.Table:
    """The minute rows that became final in their batch (what the archive keeps), as stored."""
    return minutes.filter(pc.fill_null(minutes["closing"], False)).drop_columns(["closing"])


def session_rows(table: pa.Table) -> pa.Table:
    """The closed sessions among the operator's rows, as stored (:data:`SESSION_FIELDS`)."""
    sid = ("sid", *SESSION_FIELDS[1:])
    return rows_of(table, Kind.SESSION, sid).rename_columns(list(SESSION_FIELDS))


class Sinks:
    """Writes each operator batch to the dead-letter bus, the hot store and the archive."""

    def __init__(
        self,
        hot: HotStore,
        archive: Archive,
        deadletter: Bus,
        *,
        source: str,
        retention: timedelta = timedelta(days=7),
        crash: CrashPlan | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        """``source`` names the input in dead letters, e.g. ``kafka:events_raw``.

        ``backoff`` decides how long a write that fails transiently is retried (a
        dependency down) before the batch fails.
        """
        self.hot, self.archive, self.deadletter = hot, archive, deadletter
        self.source, self.retention = source, retention
        self.crash = crash or CrashPlan()
        self.backoff = backoff or Backoff()
        self._publisher: BusPublisher | None = None
        self._swept_at = 0.0
        self.last: BatchReport | None = None

    def prepare(self) -> None:
        """Indexes for the reads the API makes and for the retention sweep; idempotent.

        Retried like a batch's writes: a job (re)started while the hot store is down waits
        for it instead of exiting, which under a supervisor would be a crash loop.
        """
        self.backoff.call("preparing the hot store's indexes", self._prepare)

    def _prepare(self) -> None:
        self.hot.ensure_index(KPI_MINUTES, ["minute"], unique=True)
        self.hot.ensure_index(SESSIONS, ["session_id"], unique=True)
        self.hot.ensure_index(SESSIONS, ["end"])
        self.hot.ensure_index(SESSION_MINUTES, ["minute"], unique=True)
        seconds = max(1, int(self.retention.total_seconds()))
        for collection in _RETAINED:
            # Retention keyed on write time: a TTL index where the server expires
            # documents, and the sweep of _sweep everywhere (it finds nothing to
            # delete where the TTL index works).
            expires = self.hot.ensure_ttl(collection, "written_at", seconds)
            how = "TTL index" if expires else "sweep every 10 minutes (no TTL on this server)"
            log.info("retention of %s: %s, %s", collection, self.retention, how)

    def write(self, table: pa.Table, batch_id: int) -> BatchReport:
        """Write one batch of operator rows (:data:`app.pipeline.output.OUTPUT`)."""
        started = time.perf_counter()
        report = BatchReport(batch_id, Counter(table["kind"].to_pylist()))
        self.crash.reached(Point.BEFORE_SINKS, batch_id)
        mark = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            report.stages[stage] = round(now - mark, 4)
            mark = now

        rejects = rows_of(table, Kind.REJECT, REJECT_FIELDS)
        self._dead_letters(rejects)
        lap("dead_letters")
        self.crash.reached(Point.AFTER_DEADLETTERS, batch_id)
        minutes = rows_of(table, Kind.MINUTE, (*MINUTE_COLUMNS, "closing"))
        events = rows_of(table, Kind.EVENT, (*EVENT_FIELDS, *POSITION))
        sessions = session_rows(table)
        self._hot(minutes, sessions, events, batch_id)
        lap("hot_store")
        self.crash.reached(Point.AFTER_HOT_STORE, batch_id)
        self._archive(table, minutes, sessions, events, rejects, batch_id)
        lap("archive")
        self.crash.reached(Point.AFTER_ARCHIVE, batch_id)
        if minutes.num_rows:
            report.watermark = minutes["watermark"][0].as_py()
        report.sink_seconds = time.perf_counter() - started
        self.last = report
        return report

    def _dead_letters(self, rejects: pa.Table) -> None:
        if not rejects.num_rows:
            return
        if self._publisher is None:
            self._publisher = self.deadletter.publisher()
        publisher = self._publisher
        at = datetime.now(UTC)
        for row in rejects.to_pylist():
            letter = dead_letter(
                row["raw"],
                Rejection(reason=Reason(row["reason"]), message=row["message"]),
                self.source,
                f"{row['partition']}/{row['offset']}",
                at,
            )
            publisher.publish(letter.to_json(), key=letter.dead_letter_id.encode())
        delivery = self.backoff.call("dead-letter flush", publisher.flush)
        if not delivery.ok:
            reasons = sorted({why for _, why in delivery.failed})
            msg = f"{len(delivery.failed)} dead letters were not acknowledged: {reasons}"
            raise TransientError(msg)

    def _hot(self, minutes: pa.Table, sessions: pa.Table, events: pa.Table, batch_id: int) -> None:
        now = datetime.now(UTC)
        stamp = {"written_at": now, "batch_id": batch_id}
        documents = [d | stamp for d in minutes.drop_columns(["closing"]).to_pylist()]
        if documents:
            self.backoff.call(
                "minute upsert", lambda: self.hot.upsert_many(KPI_MINUTES, documents, ["minute"])
            )
        # The latency of an event ends when the write that includes it has committed: now.
        self._latency(events, batch_id)
        closed = [d | stamp for d in sessions.to_pylist()]
        if closed:
            # A closed session never changes: a batch run again writes the same ones,
            # which stay as stored. Inserts, unlike upserts, stay cheap on FerretDB.
            self.backoff.call(
                "session insert", lambda: self.hot.insert_new(SESSIONS, closed, ["session_id"])
            )
        self._session_sums(sessions, batch_id, now)
        self._sweep(now)

    def _latency(self, events: pa.Table, batch_id: int) -> None:
        timed = events.filter(pc.is_valid(events["ingest_ts"]))
        if not timed.num_rows:
            return
        committed = np.datetime64(datetime.now(UTC).replace(tzinfo=None), "ms")
        ingest = timed["ingest_ts"].to_numpy().astype("datetime64[ms]")
        waited = (committed - ingest).astype(np.int64)
        minute = timed["event_time"].to_numpy().astype("datetime64[m]")
        for m in np.unique(minute):
            histogram = latency.histogram(waited[minute == m])
            key = {"minute": m.astype("datetime64[ms]").item().replace(tzinfo=UTC)}
            increments = {f"latency.{bucket}": n for bucket, n in histogram.items()}
            # False on a re-run batch (already merged); the minute's document always
            # exists here, since the batch's counts were upserted just before.
            merge = partial(
                self.hot.add_once,
                KPI_MINUTES,
                key,
                increments,
                stamp_field="latency_batch",
                stamp=batch_id,
            )
            self.backoff.call("latency merge", merge)

    def _session_sums(self, sessions: pa.Table, batch_id: int, now: datetime) -> None:
        """Add the batch's closed sessions to ``session_minutes`` (by end minute), once.

        The API's session statistics then read one document per minute
        instead of every session. The document is created first (``add_once``
        never upserts); the sums are merged with stamp ``sessions_batch``, so a
        re-run batch adds nothing twice.
        """
        if not sessions.num_rows:
            return
        ends = sessions["end"].to_numpy().astype("datetime64[m]")
        duration_ms = np.rint(sessions["duration_s"].to_numpy(zero_copy_only=False) * 1000)
        columns = {
            "events": sessions["events"].to_numpy(),
            "converted": sessions["converted"].to_numpy(zero_copy_only=False).astype(np.int64),
            "duration_ms": duration_ms.astype(np.int64),
            "revenue_cents": sessions["revenue_cents"].to_numpy(),
        }
        for m in np.unique(ends):
            mask = ends == m
            key = {"minute": m.astype("datetime64[ms]").item().replace(tzinfo=UTC)}
            sums = {"sessions": int(mask.sum())}
            sums |= {name: int(values[mask].sum()) for name, values in columns.items()}
            create = partial(self.hot.upsert_many, SESSION_MINUTES, [key | {"written_at": now}])
            self.backoff.call("session sums", partial(create, ["minute"]))
            merge = partial(
                self.hot.add_once,
                SESSION_MINUTES,
                key,
                sums,
                stamp_field="sessions_batch",
                stamp=batch_id,
            )
            self.backoff.call("session sums", merge)

    def _sweep(self, now: datetime) -> None:
        """Retention by write time (FerretDB has no TTL indexes), at most every 10 minutes."""
        if time.monotonic() - self._swept_at < _SWEEP_EVERY.total_seconds() and self._swept_at:
            return
        cutoff = now - self.retention
        for collection in _RETAINED:
            removed = self.backoff.call(
                f"retention sweep of {collection}",
                partial(self.hot.delete_before, collection, "written_at", cutoff),
            )
            if removed:
                log.info("retention: removed %d %s written before %s", removed, collection, cutoff)
        self._swept_at = time.monotonic()

    def _archive(
        self,
        table: pa.Table,
        minutes: pa.Table,
        sessions: pa.Table,
        events: pa.Table,
        rejects: pa.Table,
        batch_id: int,
    ) -> None:
        name = f"{batch_id:010d}"
        late = rows_of(table, Kind.LATE, (*EVENT_FIELDS, *POSITION))
        copies = rows_of(table, Kind.DUPLICATE, (*EVENT_FIELDS, *POSITION))
        final = closing_minutes(minutes)
        for dataset, rows, time_column in (
            (EVENTS, events, "event_time"),
            (LATE_EVENTS, late, "event_time"),
            (DUPLICATES, copies, "event_time"),
            (SESSIONS, sessions, "start"),
            (KPI_MINUTES, final, "minute"),
            # By when they were published: a refused record may have no event time at all.
            (REJECTS, rejects, "publish_time"),
        ):
            if rows.num_rows:
                write = partial(
                    self.archive.write, dataset, rows, time_column=time_column, batch_id=name
                )
                self.backoff.call(f"archive {dataset}", write)
                if dataset == EVENTS:  # the archive part-written: its events, not the rest
                    self.crash.reached(Point.DURING_ARCHIVE, batch_id)

    def close(self) -> None:
        """Flush and release the dead-letter publisher."""
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None
