"""Minute KPIs with counted late events: one stateful operator with one key.

Spark's stateful operators drop rows behind the watermark before user code
sees them, so none of them can count late events per minute (see
docs/pipeline.md). This operator keeps Spark's watermark rule itself: for
batch N the watermark is the maximum valid event time of batches before N,
minus 10 minutes. All rows of a batch reach it under one key, as pandas
frames, and it

* counts late rows (behind the watermark) for their minute, without using them;
* drops duplicates by ``event_id`` (64-bit hashes of the ids of the last
  10 minutes + 1, kept with their event times so the set stays bounded);
* aggregates on-time first copies per minute, with distinct users per minute
  (which equal the minute's server-side sessions, docs/pipeline.md);
* counts rejected records for the minute of their event time, else their
  publish time;
* marks a minute final once the next batch's watermark has passed its end.

Each output row is the minute's whole document (absolute values), so writing
it again after a crash is harmless.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming.stateful_processor import StatefulProcessor, StatefulProcessorHandle

WATERMARK_MS = 10 * 60_000
MINUTE_MS = 60_000
#: Final minutes are kept this long (event time) so late arrivals still update them.
KEEP_FINAL_MS = 7 * 24 * 3_600_000
_TYPES = ("page_view", "add_to_cart", "purchase", "remove_from_cart")
#: Columns of the per-minute table kept in state (int64 each).
_COLUMNS = (
    "minute",
    "page_views",
    "add_to_carts",
    "purchases",
    "remove_from_carts",
    "revenue_cents",
    "late_dropped",
    "deadlettered",
    "sessions",
    "final",
)

OUTPUT = T.StructType(
    [T.StructField("minute", T.TimestampType())]
    + [T.StructField(c, T.LongType()) for c in _COLUMNS[1:-1]]
    + [
        T.StructField("events", T.LongType()),
        T.StructField("final", T.BooleanType()),
        T.StructField("watermark", T.TimestampType()),
    ]
)
_STATE = T.StructType(
    [
        T.StructField("max_ms", T.LongType()),
        T.StructField("ids", T.BinaryType()),
        T.StructField("id_times", T.BinaryType()),
        T.StructField("table", T.BinaryType()),
        T.StructField("users", T.BinaryType()),
    ]
)


def _hash(values: pd.Series) -> np.ndarray:
    # pandas' hash uses a fixed key: the same id hashes alike in every process and run.
    return np.asarray(pd.util.hash_pandas_object(values.astype(str), index=False), dtype=np.uint64)


def _ms(series: pd.Series) -> np.ndarray:
    return np.asarray(series.to_numpy(dtype="datetime64[ms]"), dtype="datetime64[ms]").astype(
        np.int64
    )


def _cents(price: pd.Series, quantity: pd.Series) -> np.ndarray:
    return np.array([int(p * 100) * int(q) for p, q in zip(price, quantity, strict=True)], np.int64)


class _Clock:
    """The operator's state, unpacked into numpy arrays for one batch."""

    def __init__(self, row: tuple[Any, ...] | None) -> None:
        if row is None:
            self.max_ms = -1
            self.ids = np.empty(0, np.uint64)
            self.id_times = np.empty(0, np.int64)
            self.table = np.empty((0, len(_COLUMNS)), np.int64)
            self.users = np.empty((0, 2), np.int64)
            return
        self.max_ms = int(row[0])
        self.ids = np.frombuffer(row[1], np.uint64)
        self.id_times = np.frombuffer(row[2], np.int64)
        self.table = np.frombuffer(row[3], np.int64).reshape(-1, len(_COLUMNS))
        self.users = np.frombuffer(row[4], np.int64).reshape(-1, 2)

    def packed(self) -> tuple[Any, ...]:
        return (
            self.max_ms,
            self.ids.tobytes(),
            self.id_times.tobytes(),
            self.table.tobytes(),
            self.users.tobytes(),
        )

    @property
    def watermark(self) -> int:
        return self.max_ms - WATERMARK_MS if self.max_ms >= 0 else np.iinfo(np.int64).min


def _add(
    table: dict[int, np.ndarray], minutes: np.ndarray, column: str, values: np.ndarray
) -> None:
    index = _COLUMNS.index(column)
    for minute, total in pd.Series(values).groupby(minutes).sum().items():
        row = table.setdefault(int(minute), np.zeros(len(_COLUMNS), np.int64))
        row[0] = int(minute)
        row[index] += int(total)


class MinuteKpis(StatefulProcessor):
    """The single-key operator; see the module docstring."""

    def init(self, handle: StatefulProcessorHandle) -> None:
        """Open the one value state (see :class:`_Clock`)."""
        self.state = handle.getValueState("clock", _STATE)

    def handleInputRows(
        self, key: Any, rows: Iterator[pd.DataFrame], timerValues: Any
    ) -> Iterator[pd.DataFrame]:  # noqa: N802, N803 - Spark's names
        """One batch: every row of it, since there is one key."""
        batch = pd.concat(list(rows), ignore_index=True)
        clock = _Clock(self.state.get() if self.state.exists() else None)
        table = {int(r[0]): r.copy() for r in clock.table}
        touched: set[int] = set()

        rejected = batch[batch["reason"].notna()]
        if len(rejected):
            when = rejected["parsed_event_time"].fillna(rejected["publish_time"])
            minutes = _ms(when) // MINUTE_MS * MINUTE_MS
            _add(table, minutes, "deadlettered", np.ones(len(rejected), np.int64))
            touched.update(int(m) for m in minutes)

        valid = batch[batch["reason"].isna()]
        if len(valid):
            touched |= self._events(valid, clock, table)

        clock.table = np.array(list(table.values()), np.int64).reshape(-1, len(_COLUMNS))
        touched |= self._finalise(clock)
        self.state.update(clock.packed())
        yield self._documents(clock, touched)

    def _events(self, valid: pd.DataFrame, clock: _Clock, table: dict[int, np.ndarray]) -> set[int]:
        times = _ms(valid["event_time"])
        minutes = times // MINUTE_MS * MINUTE_MS
        late = times < clock.watermark
        # A late event for a minute already forgotten (older than KEEP_FINAL_MS)
        # cannot be added to its document without clobbering it: not counted here.
        counted_late = late & (minutes >= clock.max_ms - KEEP_FINAL_MS)
        _add(
            table, minutes[counted_late], "late_dropped", np.ones(int(counted_late.sum()), np.int64)
        )

        hashes = _hash(valid["event_id"])
        first_in_batch = ~pd.Series(hashes).duplicated().to_numpy()
        new = ~late & first_in_batch & ~np.isin(hashes, clock.ids)
        fresh = valid[new]
        for kind, column in zip(_TYPES, _COLUMNS[1:5], strict=True):
            _add(table, minutes[new], column, (fresh["event_type"] == kind).to_numpy(np.int64))
        purchase = (fresh["event_type"] == "purchase").to_numpy()
        revenue = np.zeros(len(fresh), np.int64)
        if purchase.any():
            revenue[purchase] = _cents(fresh["price"][purchase], fresh["quantity"][purchase])
        _add(table, minutes[new], "revenue_cents", revenue)

        pairs = np.column_stack([minutes[new], _hash(fresh["user_id"]).view(np.int64)])
        clock.users = np.unique(np.concatenate([clock.users, pairs]), axis=0)
        clock.ids = np.concatenate([clock.ids, hashes[new]])
        clock.id_times = np.concatenate([clock.id_times, times[new]])
        clock.max_ms = max(clock.max_ms, int(times.max()))
        return {int(m) for m in minutes[~late | counted_late]}

    @staticmethod
    def _finalise(clock: _Clock) -> set[int]:
        """Close minutes the next batch's watermark has passed; forget what is no longer needed."""
        watermark = clock.watermark
        keep = clock.id_times >= watermark
        clock.ids, clock.id_times = clock.ids[keep], clock.id_times[keep]
        table = clock.table.copy()
        final = _COLUMNS.index("final")
        closing = (table[:, final] == 0) & (table[:, 0] + MINUTE_MS <= watermark)
        for i in np.flatnonzero(closing):
            table[i, _COLUMNS.index("sessions")] = int((clock.users[:, 0] == table[i, 0]).sum())
            table[i, final] = 1
        clock.users = clock.users[clock.users[:, 0] + MINUTE_MS > watermark]
        clock.table = table[table[:, 0] >= clock.max_ms - KEEP_FINAL_MS]
        return {int(m) for m in table[closing, 0]}

    @staticmethod
    def _documents(clock: _Clock, touched: set[int]) -> pd.DataFrame:
        rows = clock.table[np.isin(clock.table[:, 0], list(touched))]
        out = pd.DataFrame(rows, columns=list(_COLUMNS))
        open_minutes = out["final"] == 0
        live = [int((clock.users[:, 0] == m).sum()) for m in out.loc[open_minutes, "minute"]]
        out.loc[open_minutes, "sessions"] = live
        out["events"] = out[["page_views", "add_to_carts", "purchases", "remove_from_carts"]].sum(
            axis=1
        )
        out["final"] = out["final"].astype(bool)
        out["minute"] = pd.to_datetime(out["minute"], unit="ms", utc=True)
        out["watermark"] = pd.to_datetime(max(clock.watermark, 0), unit="ms", utc=True)
        return out[[f.name for f in OUTPUT.fields]]

    def close(self) -> None:
        """Nothing to release."""


def minute_kpis(checked: DataFrame) -> DataFrame:
    """Minute documents (update mode) from :func:`app.pipeline.validate.parse_and_validate` output.

    ``checked`` needs a ``publish_time`` timestamp column (the bus's record time).
    """
    columns = [
        "reason",
        "event_id",
        "event_time",
        "parsed_event_time",
        "publish_time",
        "event_type",
        "user_id",
        "price",
        "quantity",
    ]
    return (
        checked.select(*columns)
        .withColumn("clock", F.lit(0))
        .groupBy("clock")
        .transformWithStateInPandas(MinuteKpis(), OUTPUT, "update", "None")
    )
