"""The stream job's one stateful operator: lateness, dedup, sessions, minute KPIs.

Spark's stateful operators drop rows behind the watermark before user code
sees them, so none of them can count late events per minute (see
docs/pipeline.md). This operator keeps Spark's watermark rule itself: for
batch N the watermark is the greatest valid event time of batches before N,
minus 10 minutes. Every record of a batch reaches it under one key, as pandas
frames of raw bytes, and it

* validates each record with the contract's own validator
  (:mod:`app.pipeline.records`);
* counts late rows (behind the watermark) for their minute and passes them on
  for the late archive, without using them;
* drops duplicates by ``event_id`` within the event's minute (a re-sent event
  keeps its event time): each minute not yet final remembers the 64-bit hashes
  of its ids, so a batch reads and writes only the minutes it touches; the
  copies are passed on for the archive, uncounted;
* aggregates on-time first copies per minute, with distinct users per minute
  (which equal the minute's server-side sessions, docs/pipeline.md);
* appends the counted events for sessions, and once a minute of watermark
  merges them into the open sessions and emits those the watermark closes;
* counts rejected records for the minute of their event time, else their
  publish time, and passes them on for the dead-letter topic;
* marks a minute final once the next batch's watermark has passed its end.

Its output is one table of rows of several kinds (:class:`Kind`); the sinks
split it. A minute row holds the minute's whole document (absolute values),
so writing it again after a crash is harmless.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.streaming.stateful_processor import StatefulProcessor, StatefulProcessorHandle

from app.events.rejects import Reason
from app.pipeline import sessions
from app.pipeline.output import OUTPUT, conform
from app.pipeline.profile import Stopwatch
from app.pipeline.records import EVENT_FIELDS, POSITION, check
from app.pipeline.state import (
    MINUTE_MS,
    TABLE_COLUMNS,
    Ledger,
    Progress,
    column,
    empty_counts,
    merge_sorted,
    seen,
)

#: Final minutes are kept this long (event time) so late arrivals still update them.
KEEP_FINAL_MS = 7 * 24 * 3_600_000
_TYPES = ("page_view", "add_to_cart", "purchase", "remove_from_cart")
#: The column carrying the micro-batch's timestamp into the operator.
BATCH_TIME = "batch_time"


class Kind(StrEnum):
    """What an output row is."""

    MINUTE = "minute"  # a minute's KPI document
    SESSION = "session"  # a closed session
    EVENT = "event"  # a valid, first, on-time event (archived)
    LATE = "late"  # a valid event behind the watermark (archived apart)
    DUPLICATE = "duplicate"  # a valid, on-time copy of a counted event (archived apart)
    REJECT = "reject"  # a record that failed the contract (dead-lettered)


def _hash(values: pd.Series) -> np.ndarray:
    # pandas' hash uses a fixed key: the same id hashes alike in every process and run.
    return np.asarray(pd.util.hash_pandas_object(values.astype(str), index=False), dtype=np.uint64)


def _ms(series: pd.Series) -> np.ndarray:
    return np.asarray(series.to_numpy(dtype="datetime64[ms]"), dtype="datetime64[ms]").astype(
        np.int64
    )


def _batch_time(records: pd.DataFrame) -> datetime:
    """The batch's timestamp (UTC; Spark hands it over without a zone), the validator's clock."""
    stamp: datetime = pd.Timestamp(records[BATCH_TIME].iloc[0]).to_pydatetime()
    return stamp.replace(tzinfo=UTC)


def _cents(fresh: pd.DataFrame) -> np.ndarray:
    revenue = np.zeros(len(fresh), np.int64)
    purchase = (fresh["event_type"] == "purchase").to_numpy()
    prices, quantities = fresh["price"].to_numpy()[purchase], fresh["quantity"].to_numpy()[purchase]
    # Prices are exact decimals with two places: cents are integers, no float rounding.
    revenue[purchase] = [int(p * 100) * int(q) for p, q in zip(prices, quantities, strict=True)]
    return revenue


class _Counts:
    """The counts of the minutes one batch touches: each read once, written once."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self.rows: dict[int, np.ndarray] = {}
        self.created: set[int] = set()

    def row(self, minute: int) -> np.ndarray:
        """A minute's counts, read on first use; a minute with none starts at zero."""
        if minute not in self.rows:
            stored = self._ledger.counts(minute)
            if stored is None:
                stored = empty_counts(minute)
                self.created.add(minute)
            self.rows[minute] = stored
        return self.rows[minute]

    def add(self, minutes: np.ndarray, name: str, values: np.ndarray) -> None:
        """Add ``values`` to column ``name`` of their minutes."""
        index = column(name)
        for minute, total in pd.Series(values).groupby(minutes).sum().items():
            self.row(int(minute))[index] += int(total)


class StreamOperator(StatefulProcessor):
    """The single-key operator; see the module docstring."""

    def init(self, handle: StatefulProcessorHandle) -> None:
        """Open the state variables (see :mod:`app.pipeline.state`)."""
        self.ledger = Ledger(handle)

    def handleInputRows(
        self, key: Any, rows: Iterator[pd.DataFrame], timerValues: Any
    ) -> Iterator[pd.DataFrame]:  # noqa: N802, N803 - Spark's names
        """One batch: every row of it, since there is one key."""
        watch = Stopwatch()
        records = pd.concat(list(rows), ignore_index=True)
        watch.lap("read_rows")
        batch = check(records, _batch_time(records))
        watch.lap("validate")
        ledger = self.ledger
        ledger.bytes_written = 0
        progress = ledger.progress()
        counts = _Counts(ledger)
        touched: set[int] = set()
        parts: list[pd.DataFrame] = []

        rejected = batch[batch["reason"].notna()]
        if len(rejected):
            # A time the contract refused for being in the future would open a minute
            # document years ahead, and /kpis/latest would point there: such rejects
            # count in the minute they were published, like unparseable ones.
            future = rejected["reason"] == Reason.FUTURE_EVENT_TIME.value
            when = rejected["parsed_event_time"].mask(future).fillna(rejected["publish_time"])
            minutes = _ms(when) // MINUTE_MS * MINUTE_MS
            counts.add(minutes, "deadlettered", np.ones(len(rejected), np.int64))
            touched.update(int(m) for m in minutes)
            parts.append(
                rejected[["raw", "reason", "message", *POSITION]].assign(kind=Kind.REJECT.value)
            )
        watch.lap("rejects")

        valid = batch[batch["reason"].isna()]
        fresh = pd.DataFrame()  # no counted events: nothing for sessions
        if len(valid):
            minutes_touched, fresh = self._events(valid, progress, counts, parts, watch)
            touched |= minutes_touched

        closing, forgotten = self._finalise(progress, counts)
        watch.lap("finalise")
        parts.append(self._sessions(progress, fresh))
        watch.lap("sessions")
        documents = (touched | closing) - forgotten
        parts.append(self._documents(counts, documents, closing, progress.watermark))
        for minute in documents:
            ledger.save_counts(counts.rows[minute])
        ledger.save_progress(progress)
        watch.lap("documents_save")
        out = conform(pd.concat(parts, ignore_index=True))
        watch.lap("conform")
        watch.write(
            rows=len(batch),
            minutes_read=len(counts.rows),
            open_minutes=len(progress.open_minutes),
            state_bytes_written=ledger.bytes_written,
        )
        yield out

    def _events(
        self,
        valid: pd.DataFrame,
        progress: Progress,
        counts: _Counts,
        parts: list[Any],
        watch: Stopwatch,
    ) -> tuple[set[int], pd.DataFrame]:
        """Count a batch's valid events; return the minutes touched and the counted events."""
        times = _ms(valid["event_time"])
        minutes = times // MINUTE_MS * MINUTE_MS
        late = times < progress.watermark
        # A late event for a minute already forgotten (older than KEEP_FINAL_MS)
        # cannot be added to its document without clobbering it: archived, not counted.
        counted_late = late & (minutes >= progress.max_ms - KEEP_FINAL_MS)
        counts.add(
            minutes[counted_late], "late_dropped", np.ones(int(counted_late.sum()), np.int64)
        )
        parts.append(valid.loc[late, [*EVENT_FIELDS, *POSITION]].assign(kind=Kind.LATE.value))

        hashes = _hash(valid["event_id"])
        users = _hash(valid["user_id"]).view(np.int64)
        # A re-sent event keeps its event time, so its first copy is in the same minute:
        # each minute remembers its own ids, and a batch reads only its minutes' ids.
        first_in_batch = ~pd.DataFrame({"id": hashes, "minute": minutes}).duplicated().to_numpy()
        new = ~late & first_in_batch
        for minute in np.unique(minutes[new]):
            at = np.flatnonzero(new & (minutes == minute))
            known = self.ledger.ids(int(minute))
            repeated = seen(known, hashes[at])
            new[at[repeated]] = False
            at = at[~repeated]
            minute_users = np.union1d(self.ledger.users(int(minute)), users[at])
            self.ledger.save_minute_sets(int(minute), merge_sorted(known, hashes[at]), minute_users)
            counts.row(int(minute))[column("sessions")] = len(minute_users)
        watch.lap("dedup_users")

        fresh = valid[new]
        parts.append(fresh[[*EVENT_FIELDS, *POSITION]].assign(kind=Kind.EVENT.value))
        # Archived too, so the archive holds every record the job read and a recomputation
        # replays each batch whole: a duplicate still rewrites its minute's document.
        copies = valid[~late & ~new]
        parts.append(copies[[*EVENT_FIELDS, *POSITION]].assign(kind=Kind.DUPLICATE.value))
        for kind, name in zip(_TYPES, TABLE_COLUMNS[1:5], strict=True):
            counts.add(minutes[new], name, (fresh["event_type"] == kind).to_numpy(np.int64))
        revenue = _cents(fresh)
        counts.add(minutes[new], "revenue_cents", revenue)
        progress.max_ms = max(progress.max_ms, int(times.max()))
        watch.lap("counts")
        counted = pd.DataFrame(
            {
                "user_id": fresh["user_id"].to_numpy(object),
                "time_ms": times[new],
                "event_type": fresh["event_type"].to_numpy(object),
                "revenue_cents": revenue,
            }
        )
        return {int(m) for m in minutes[~late | counted_late]}, counted

    def _finalise(self, progress: Progress, counts: _Counts) -> tuple[set[int], set[int]]:
        """Close minutes the next batch's watermark has passed; forget what is no longer needed.

        Returns the minutes closing now and the minutes forgotten (older than 7 days).
        """
        watermark = progress.watermark
        created = np.array(sorted(counts.created), np.int64)
        open_minutes = np.union1d(progress.open_minutes, created)
        closing = open_minutes[open_minutes + MINUTE_MS <= watermark]
        for minute in closing:
            counts.row(int(minute))[column("final")] = 1
            self.ledger.forget_minute_sets(int(minute))
        progress.open_minutes = open_minutes[open_minutes + MINUTE_MS > watermark]
        kept = np.union1d(progress.kept_minutes, created)
        horizon = progress.max_ms - KEEP_FINAL_MS
        forgotten = {int(m) for m in kept[kept < horizon]}
        for minute in forgotten - counts.created:
            self.ledger.forget_counts(minute)
        progress.kept_minutes = kept[kept >= horizon]
        progress.open_minutes = progress.open_minutes[progress.open_minutes >= horizon]
        return {int(m) for m in closing}, forgotten

    def _sessions(self, progress: Progress, counted: pd.DataFrame) -> pd.DataFrame:
        """Closed sessions, when the watermark's minute has moved; else park the events.

        A session closes once the watermark, rounded down to its minute, has passed
        its end by the gap. Between two moves of that minute nothing can close (an
        on-time event is at or after the watermark), so the batch's events are only
        appended, and the open sessions are read, merged and written once a minute.
        """
        cut = progress.session_cut
        if cut <= progress.merged_at:
            if len(counted):
                self.ledger.add_pending(counted)
            return sessions.records(sessions.empty()).assign(kind=Kind.SESSION.value)
        pending = [f for f in (self.ledger.take_pending(), counted) if len(f)]
        open_sessions = self.ledger.open_sessions()
        if pending:
            open_sessions = sessions.extend(open_sessions, pd.concat(pending, ignore_index=True))
        closed, still_open = sessions.close(open_sessions, cut)
        self.ledger.save_open_sessions(still_open)
        progress.merged_at = cut
        return closed.assign(kind=Kind.SESSION.value)

    @staticmethod
    def _documents(
        counts: _Counts, minutes: set[int], closing: set[int], watermark: int
    ) -> pd.DataFrame:
        rows = [counts.rows[m] for m in sorted(minutes)]
        out = pd.DataFrame(
            np.array(rows, np.int64).reshape(-1, len(TABLE_COLUMNS)), columns=list(TABLE_COLUMNS)
        )
        out["events"] = out[["page_views", "add_to_carts", "purchases", "remove_from_carts"]].sum(
            axis=1
        )
        out["closing"] = out["minute"].isin(closing)
        out["final"] = out["final"].astype(bool)
        out["watermark"] = pd.to_datetime(max(watermark, 0), unit="ms", utc=True)
        out["minute"] = pd.to_datetime(out["minute"], unit="ms", utc=True)
        return out.assign(kind=Kind.MINUTE.value)

    def close(self) -> None:
        """Nothing to release."""


def operate(raw: DataFrame) -> DataFrame:
    """The operator's rows (:class:`Kind`) from the bus's raw records.

    ``raw`` needs the bus columns ``value`` (binary), ``partition``, ``offset``
    and ``publish_time``; the operator validates them itself
    (:func:`app.pipeline.records.check`) against the batch's timestamp. A
    recomputation from the archive (:mod:`app.recompute`) passes the clock of
    each batch it replays as a ``batch_time`` column instead. Output mode is
    update; every row is new.
    """
    # current_timestamp() is the batch's timestamp, kept in the offset log: a batch run
    # again after a crash judges "in the future" against the same clock as the first time.
    clock = F.col(BATCH_TIME) if BATCH_TIME in raw.columns else F.current_timestamp()
    keyed = raw.select("value", *POSITION, clock.alias(BATCH_TIME))
    keyed = keyed.withColumn("clock", F.lit(0))
    rows: DataFrame = keyed.groupBy("clock").transformWithStateInPandas(
        StreamOperator(), OUTPUT, "update", "None"
    )
    return rows
