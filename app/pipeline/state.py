"""The stream operator's state: one row, packed into blobs for Spark's state store.

Spark keeps the row in its (RocksDB) state store under the checkpoint, so it
is restored exactly as of the last committed batch after a crash. Numpy
arrays are stored as raw bytes; the open sessions (which hold user ids,
strings) as an Arrow IPC stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import types as T

from app.pipeline import sessions

WATERMARK_MS = 10 * 60_000
#: Columns of the per-minute table (int64 each); ``final`` is 0/1.
TABLE_COLUMNS = (
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

SCHEMA = T.StructType(
    [
        T.StructField("max_ms", T.LongType()),
        T.StructField("ids", T.BinaryType()),
        T.StructField("id_times", T.BinaryType()),
        T.StructField("table", T.BinaryType()),
        T.StructField("users", T.BinaryType()),
        T.StructField("sessions", T.BinaryType()),
    ]
)


def _to_ipc(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _from_ipc(blob: bytes) -> pd.DataFrame:
    frame: pd.DataFrame = pa.ipc.open_stream(blob).read_all().to_pandas()
    return frame


class Clock:
    """The state unpacked for one batch.

    * ``max_ms``: the greatest valid event time seen (-1 before any);
    * ``ids``/``id_times``: 64-bit hashes of the event ids of the last
      10 minutes (+ one batch), sorted, with their event times, for dedup: a
      batch looks its ids up by binary search instead of sorting them all;
    * ``table``: the per-minute counts (:data:`TABLE_COLUMNS`), kept 7 days;
    * ``users``: distinct (minute, user hash) pairs of minutes not yet final,
      grouped by minute;
    * ``open_sessions``: sessions the watermark has not closed.
    """

    def __init__(self, row: tuple[Any, ...] | None) -> None:
        """Unpack a state row, or start empty when there is none."""
        if row is None:
            self.max_ms = -1
            self.ids = np.empty(0, np.uint64)
            self.id_times = np.empty(0, np.int64)
            self.table = np.empty((0, len(TABLE_COLUMNS)), np.int64)
            self.users = np.empty((0, 2), np.int64)
            self.open_sessions = sessions.empty()
            return
        self.max_ms = int(row[0])
        self.ids = np.frombuffer(row[1], np.uint64)
        self.id_times = np.frombuffer(row[2], np.int64)
        if len(self.ids) > 1 and not bool(np.all(self.ids[1:] >= self.ids[:-1])):
            # A checkpoint written before the ids were kept sorted.
            order = np.argsort(self.ids, kind="stable")
            self.ids, self.id_times = self.ids[order], self.id_times[order]
        self.table = np.frombuffer(row[3], np.int64).reshape(-1, len(TABLE_COLUMNS))
        self.users = np.frombuffer(row[4], np.int64).reshape(-1, 2)
        self.open_sessions = _from_ipc(row[5])

    def packed(self) -> tuple[Any, ...]:
        """The state row to store."""
        return (
            self.max_ms,
            self.ids.tobytes(),
            self.id_times.tobytes(),
            self.table.tobytes(),
            self.users.tobytes(),
            _to_ipc(self.open_sessions),
        )

    def seen(self, hashes: np.ndarray) -> np.ndarray:
        """Which of ``hashes`` are remembered ids (a binary search each)."""
        if not len(self.ids):
            return np.zeros(len(hashes), np.bool_)
        at = np.minimum(np.searchsorted(self.ids, hashes), len(self.ids) - 1)
        found: np.ndarray = self.ids[at] == hashes
        return found

    def remember(self, hashes: np.ndarray, times: np.ndarray) -> None:
        """Add new ids (absent so far, distinct) with their event times, keeping the order."""
        order = np.argsort(hashes, kind="stable")
        hashes, times = hashes[order], times[order]
        at = np.searchsorted(self.ids, hashes)
        self.ids = np.insert(self.ids, at, hashes)
        self.id_times = np.insert(self.id_times, at, times)

    def add_users(self, minutes: np.ndarray, user_hashes: np.ndarray) -> None:
        """Add (minute, user) pairs; only the minutes they touch are merged, 1-D."""
        if not len(minutes):
            return
        touched = np.unique(minutes)
        in_touched = np.isin(self.users[:, 0], touched)
        merged = [self.users[~in_touched]]
        for minute in touched:
            known = self.users[in_touched & (self.users[:, 0] == minute), 1]
            users = np.union1d(known, user_hashes[minutes == minute])
            merged.append(np.column_stack([np.full(len(users), minute, np.int64), users]))
        self.users = np.concatenate(merged)

    @property
    def watermark(self) -> int:
        """Spark's rule: the greatest event time of earlier batches minus 10 minutes."""
        return self.max_ms - WATERMARK_MS if self.max_ms >= 0 else np.iinfo(np.int64).min
