"""The stream job's one stateful operator: lateness, dedup, sessions, minute KPIs.

Spark's stateful operators drop rows behind the watermark before user code
sees them, so none of them can count late events per minute (see
docs/pipeline.md). This operator keeps Spark's watermark rule itself: for
batch N the watermark is the greatest valid event time of batches before N,
minus 10 minutes. Every row of a batch reaches it under one key, as pandas
frames, and it

* counts late rows (behind the watermark) for their minute and passes them on
  for the late archive, without using them;
* drops duplicates by ``event_id`` (64-bit hashes of the ids of the last
  10 minutes + one batch, kept with their event times so the set stays bounded);
* aggregates on-time first copies per minute, with distinct users per minute
  (which equal the minute's server-side sessions, docs/pipeline.md);
* extends the users' open sessions and emits those the watermark closes;
* counts rejected records for the minute of their event time, else their
  publish time, and passes them on for the dead-letter topic;
* marks a minute final once the next batch's watermark has passed its end.

Its output is one table of rows of several kinds (:class:`Kind`); the sinks
split it. A minute row holds the minute's whole document (absolute values),
so writing it again after a crash is harmless.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.streaming.stateful_processor import StatefulProcessor, StatefulProcessorHandle

from app.events.contract import Event
from app.events.rejects import Reason
from app.pipeline import sessions
from app.pipeline.output import OUTPUT, conform
from app.pipeline.profile import Stopwatch
from app.pipeline.state import SCHEMA, TABLE_COLUMNS, Clock

MINUTE_MS = 60_000
#: Final minutes are kept this long (event time) so late arrivals still update them.
KEEP_FINAL_MS = 7 * 24 * 3_600_000
_TYPES = ("page_view", "add_to_cart", "purchase", "remove_from_cart")
EVENT_FIELDS = tuple(Event.model_fields)  # the contract's fields, in its order
#: Where a record sat on the bus, kept on archived and dead-lettered rows.
POSITION = ("partition", "offset", "publish_time")


class Kind(StrEnum):
    """What an output row is."""

    MINUTE = "minute"  # a minute's KPI document
    SESSION = "session"  # a closed session
    EVENT = "event"  # a valid, first, on-time event (archived)
    LATE = "late"  # a valid event behind the watermark (archived apart)
    REJECT = "reject"  # a record that failed the contract (dead-lettered)


def _hash(values: pd.Series) -> np.ndarray:
    # pandas' hash uses a fixed key: the same id hashes alike in every process and run.
    return np.asarray(pd.util.hash_pandas_object(values.astype(str), index=False), dtype=np.uint64)


def _ms(series: pd.Series) -> np.ndarray:
    return np.asarray(series.to_numpy(dtype="datetime64[ms]"), dtype="datetime64[ms]").astype(
        np.int64
    )


def _cents(fresh: pd.DataFrame) -> np.ndarray:
    revenue = np.zeros(len(fresh), np.int64)
    purchase = (fresh["event_type"] == "purchase").to_numpy()
    prices, quantities = fresh["price"].to_numpy()[purchase], fresh["quantity"].to_numpy()[purchase]
    # Prices are exact decimals with two places: cents are integers, no float rounding.
    revenue[purchase] = [int(p * 100) * int(q) for p, q in zip(prices, quantities, strict=True)]
    return revenue


def _add(
    table: dict[int, np.ndarray], minutes: np.ndarray, column: str, values: np.ndarray
) -> None:
    index = TABLE_COLUMNS.index(column)
    for minute, total in pd.Series(values).groupby(minutes).sum().items():
        row = table.setdefault(int(minute), np.zeros(len(TABLE_COLUMNS), np.int64))
        row[0] = int(minute)
        row[index] += int(total)


class StreamOperator(StatefulProcessor):
    """The single-key operator; see the module docstring."""

    def init(self, handle: StatefulProcessorHandle) -> None:
        """Open the one value state (see :class:`app.pipeline.state.Clock`)."""
        self.state = handle.getValueState("clock", SCHEMA)

    def handleInputRows(
        self, key: Any, rows: Iterator[pd.DataFrame], timerValues: Any
    ) -> Iterator[pd.DataFrame]:  # noqa: N802, N803 - Spark's names
        """One batch: every row of it, since there is one key."""
        watch = Stopwatch()
        batch = pd.concat(list(rows), ignore_index=True)
        watch.lap("read_rows")
        row = self.state.get() if self.state.exists() else None
        watch.lap("state_get")
        clock = Clock(row)
        watch.lap("unpack")
        table = {int(r[0]): r.copy() for r in clock.table}
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
            _add(table, minutes, "deadlettered", np.ones(len(rejected), np.int64))
            touched.update(int(m) for m in minutes)
            parts.append(rejected[["raw", "reason", *POSITION]].assign(kind=Kind.REJECT.value))

        valid = batch[batch["reason"].isna()]
        if len(valid):
            touched |= self._events(valid, clock, table, parts, watch)

        clock.table = np.array(list(table.values()), np.int64).reshape(-1, len(TABLE_COLUMNS))
        closing = self._finalise(clock)
        closed, clock.open_sessions = sessions.close(clock.open_sessions, clock.watermark)
        parts.append(closed.assign(kind=Kind.SESSION.value))
        watch.lap("close")
        parts.append(self._documents(clock, touched | closing, closing))
        packed = clock.packed()
        watch.lap("documents_pack")
        self.state.update(packed)
        watch.lap("state_update")
        out = conform(pd.concat(parts, ignore_index=True))
        watch.lap("conform")
        watch.write(
            rows=len(batch),
            ids=len(clock.ids),
            user_minutes=len(clock.users),
            open_sessions=len(clock.open_sessions),
            state_bytes=sum(len(blob) for blob in packed[1:]),
        )
        yield out

    def _events(
        self,
        valid: pd.DataFrame,
        clock: Clock,
        table: dict[int, np.ndarray],
        parts: list[Any],
        watch: Stopwatch,
    ) -> set[int]:
        times = _ms(valid["event_time"])
        minutes = times // MINUTE_MS * MINUTE_MS
        late = times < clock.watermark
        # A late event for a minute already forgotten (older than KEEP_FINAL_MS)
        # cannot be added to its document without clobbering it: archived, not counted.
        counted_late = late & (minutes >= clock.max_ms - KEEP_FINAL_MS)
        _add(
            table, minutes[counted_late], "late_dropped", np.ones(int(counted_late.sum()), np.int64)
        )
        parts.append(valid.loc[late, [*EVENT_FIELDS, *POSITION]].assign(kind=Kind.LATE.value))

        hashes = _hash(valid["event_id"])
        first_in_batch = ~pd.Series(hashes).duplicated().to_numpy()
        new = ~late & first_in_batch & ~clock.seen(hashes)
        fresh = valid[new]
        parts.append(fresh[[*EVENT_FIELDS, *POSITION]].assign(kind=Kind.EVENT.value))
        for kind, column in zip(_TYPES, TABLE_COLUMNS[1:5], strict=True):
            _add(table, minutes[new], column, (fresh["event_type"] == kind).to_numpy(np.int64))
        revenue = _cents(fresh)
        _add(table, minutes[new], "revenue_cents", revenue)

        watch.lap("dedup_counts")
        clock.add_users(minutes[new], _hash(fresh["user_id"]).view(np.int64))
        clock.remember(hashes[new], times[new])
        watch.lap("users_ids")
        clock.open_sessions = sessions.extend(
            clock.open_sessions,
            pd.DataFrame(
                {
                    "user_id": fresh["user_id"].to_numpy(object),
                    "time_ms": times[new],
                    "event_type": fresh["event_type"].to_numpy(object),
                    "revenue_cents": revenue,
                }
            ),
        )
        watch.lap("sessions_extend")
        clock.max_ms = max(clock.max_ms, int(times.max()))
        return {int(m) for m in minutes[~late | counted_late]}

    @staticmethod
    def _finalise(clock: Clock) -> set[int]:
        """Close minutes the next batch's watermark has passed; forget what is no longer needed."""
        watermark = clock.watermark
        keep = clock.id_times >= watermark
        clock.ids, clock.id_times = clock.ids[keep], clock.id_times[keep]
        table = clock.table.copy()
        final = TABLE_COLUMNS.index("final")
        closing = (table[:, final] == 0) & (table[:, 0] + MINUTE_MS <= watermark)
        for i in np.flatnonzero(closing):
            table[i, TABLE_COLUMNS.index("sessions")] = int(
                (clock.users[:, 0] == table[i, 0]).sum()
            )
            table[i, final] = 1
        clock.users = clock.users[clock.users[:, 0] + MINUTE_MS > watermark]
        clock.table = table[table[:, 0] >= clock.max_ms - KEEP_FINAL_MS]
        return {int(m) for m in table[closing, 0]}

    @staticmethod
    def _documents(clock: Clock, touched: set[int], closing: set[int]) -> pd.DataFrame:
        rows = clock.table[np.isin(clock.table[:, 0], list(touched))]
        out = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
        open_minutes = out["final"] == 0
        live = [int((clock.users[:, 0] == m).sum()) for m in out.loc[open_minutes, "minute"]]
        out.loc[open_minutes, "sessions"] = live
        out["events"] = out[["page_views", "add_to_carts", "purchases", "remove_from_carts"]].sum(
            axis=1
        )
        out["closing"] = out["minute"].isin(closing)
        out["final"] = out["final"].astype(bool)
        out["watermark"] = pd.to_datetime(max(clock.watermark, 0), unit="ms", utc=True)
        out["minute"] = pd.to_datetime(out["minute"], unit="ms", utc=True)
        return out.assign(kind=Kind.MINUTE.value)

    def close(self) -> None:
        """Nothing to release."""


def operate(checked: DataFrame) -> DataFrame:
    """The operator's rows (:class:`Kind`) from :func:`app.pipeline.validate.parse_and_validate`.

    ``checked`` needs the bus columns ``value`` (binary), ``partition``,
    ``offset`` and ``publish_time``. Output mode is update; every row is new.
    """
    rejected = F.col("reason").isNotNull()
    columns: list[Column | str] = [
        "reason",
        "parsed_event_time",
        *EVENT_FIELDS,
        *POSITION,
        # The raw bytes only where a dead letter needs them: halves what crosses to Python.
        F.when(rejected, F.col("value")).alias("raw"),
    ]
    keyed = checked.select(*columns).withColumn("clock", F.lit(0))
    rows: DataFrame = keyed.groupBy("clock").transformWithStateInPandas(
        StreamOperator(), OUTPUT, "update", "None"
    )
    return rows
