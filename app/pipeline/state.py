"""The stream operator's state, split so that a batch reads and writes only what it touches.

Spark keeps every variable below in its (RocksDB) state store under the
checkpoint. All changes a batch makes, to every variable, are committed as
one state-store version together with the batch, so after a crash they are
restored exactly as of the last committed batch.

* ``progress`` (value, :class:`Progress`): the greatest event time seen, the
  minutes not yet final, the minutes kept, and the watermark minute at which
  sessions were last merged;
* ``counts`` (map: minute → its :data:`TABLE_COLUMNS` as int64 bytes), kept
  7 days of event time;
* ``ids`` (map: minute → the sorted 64-bit hashes of its counted event ids)
  and ``users`` (map: minute → the sorted hashes of its users), for minutes
  not yet final;
* ``pending`` (list: one Arrow IPC blob per batch), the counted events not yet
  merged into sessions;
* ``sessions`` (value: Arrow IPC), the open sessions as of the last merge.

A checkpoint written by another layout (the one-row layout before it) is
refused before the query starts: :func:`check_layout`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import types as T
from pyspark.sql.streaming.stateful_processor import StatefulProcessorHandle

from adapters.errors import StreamkitError
from app.pipeline import sessions

WATERMARK_MS = 10 * 60_000
MINUTE_MS = 60_000
#: Columns of a minute's counts (int64 each); ``final`` is 0/1.
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
_PROGRESS = T.StructType(
    [
        T.StructField("max_ms", T.LongType()),
        T.StructField("open_minutes", T.BinaryType()),
        T.StructField("kept_minutes", T.BinaryType()),
        T.StructField("merged_at", T.LongType()),
    ]
)
_MINUTE_KEY = T.StructType([T.StructField("minute", T.LongType())])
_BLOB = T.StructType([T.StructField("blob", T.BinaryType())])
#: The state variables of this layout, by name; a checkpoint holding others is refused.
VARIABLES = ("progress", "counts", "ids", "users", "pending", "sessions")
_NO_MINUTE = np.iinfo(np.int64).min


class LayoutError(StreamkitError):
    """A checkpoint whose operator state this version of the job cannot read."""


def check_layout(state_variables: Iterable[str], checkpoint: str) -> None:
    """Refuse a checkpoint whose operator keeps other state variables than :data:`VARIABLES`."""
    found = sorted(state_variables)
    if found and found != sorted(VARIABLES):
        message = (
            f"the checkpoint {checkpoint} keeps the operator state as {', '.join(found)}; "
            f"this version keeps it as {', '.join(VARIABLES)} and cannot read that layout. "
            "Drain the bus with the version that wrote it (`streamkit pipeline --once`), then "
            "start this one with `streamkit pipeline --reset`; or reset now, which reprocesses "
            "what the bus still holds"
        )
        raise LayoutError(message)


def state_variables(operator_properties: str) -> list[str]:
    """The state variable names in a ``state-metadata`` row's ``operatorProperties`` JSON."""
    if not operator_properties:
        return []
    properties = json.loads(operator_properties)
    return [v["stateName"] for v in properties.get("stateVariables", [])]


def to_ipc(frame: pd.DataFrame) -> bytes:
    """``frame`` as an Arrow IPC stream."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def from_ipc(blob: bytes) -> pd.DataFrame:
    """The frame of an Arrow IPC stream."""
    frame: pd.DataFrame = pa.ipc.open_stream(blob).read_all().to_pandas()
    return frame


def _array(blob: bytes | None, dtype: type[np.generic]) -> np.ndarray:
    return np.frombuffer(blob, dtype).copy() if blob else np.empty(0, dtype)


@dataclass
class Progress:
    """The small value read and written every batch.

    * ``max_ms``: the greatest valid event time seen (-1 before any);
    * ``open_minutes``: minutes with counts not yet final (sorted);
    * ``kept_minutes``: every minute with counts (sorted), to forget them after 7 days;
    * ``merged_at``: the watermark, rounded down to its minute, when the
      pending events were last merged into sessions.
    """

    max_ms: int = -1
    open_minutes: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    kept_minutes: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    merged_at: int = _NO_MINUTE

    @property
    def watermark(self) -> int:
        """Spark's rule: the greatest event time of earlier batches minus 10 minutes."""
        return self.max_ms - WATERMARK_MS if self.max_ms >= 0 else _NO_MINUTE

    @property
    def session_cut(self) -> int:
        """The watermark rounded down to its minute: sessions close against this.

        Merging sessions costs time in proportion to all open sessions, so it is
        done when this value moves, once a minute of event time, not every batch.
        """
        watermark = self.watermark
        return watermark if watermark == _NO_MINUTE else watermark // MINUTE_MS * MINUTE_MS


def seen(known: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Which of ``hashes`` are in the sorted array ``known`` (a binary search each)."""
    if not len(known):
        return np.zeros(len(hashes), np.bool_)
    at = np.minimum(np.searchsorted(known, hashes), len(known) - 1)
    found: np.ndarray = known[at] == hashes
    return found


class Ledger:
    """The operator's state variables, read and written by key."""

    def __init__(self, handle: StatefulProcessorHandle) -> None:
        """Open the variables (names and schemas are the layout, :data:`VARIABLES`)."""
        self._progress = handle.getValueState("progress", _PROGRESS)
        self._counts = handle.getMapState("counts", _MINUTE_KEY, _BLOB)
        self._ids = handle.getMapState("ids", _MINUTE_KEY, _BLOB)
        self._users = handle.getMapState("users", _MINUTE_KEY, _BLOB)
        self._pending = handle.getListState("pending", _BLOB)
        self._sessions = handle.getValueState("sessions", _BLOB)
        self.bytes_written = 0

    def progress(self) -> Progress:
        """The progress value, or a fresh one."""
        row = self._progress.get() if self._progress.exists() else None
        if row is None:
            return Progress()
        return Progress(
            int(row[0]), _array(row[1], np.int64), _array(row[2], np.int64), int(row[3])
        )

    def save_progress(self, progress: Progress) -> None:
        """Store the progress value."""
        self._progress.update(
            (
                progress.max_ms,
                progress.open_minutes.tobytes(),
                progress.kept_minutes.tobytes(),
                progress.merged_at,
            )
        )

    def counts(self, minute: int) -> np.ndarray | None:
        """A minute's counts, or None when it has none."""
        row = self._counts.getValue((minute,))
        return None if row is None else _array(row[0], np.int64)

    def save_counts(self, counts: np.ndarray) -> None:
        """Store a minute's counts (its minute is ``counts[0]``)."""
        blob = counts.tobytes()
        self.bytes_written += len(blob)
        self._counts.updateValue((int(counts[0]),), (blob,))

    def forget_counts(self, minute: int) -> None:
        """Drop a minute's counts."""
        self._counts.removeKey((minute,))

    def ids(self, minute: int) -> np.ndarray:
        """The sorted id hashes counted in ``minute``."""
        row = self._ids.getValue((minute,))
        return _array(None if row is None else row[0], np.uint64)

    def users(self, minute: int) -> np.ndarray:
        """The sorted user hashes of ``minute``."""
        row = self._users.getValue((minute,))
        return _array(None if row is None else row[0], np.int64)

    def save_minute_sets(self, minute: int, ids: np.ndarray, users: np.ndarray) -> None:
        """Store a minute's id and user hashes."""
        self.bytes_written += ids.nbytes + users.nbytes
        self._ids.updateValue((minute,), (ids.tobytes(),))
        self._users.updateValue((minute,), (users.tobytes(),))

    def forget_minute_sets(self, minute: int) -> None:
        """Drop a final minute's ids and users: nothing on time can fall in it any more."""
        self._ids.removeKey((minute,))
        self._users.removeKey((minute,))

    def add_pending(self, events: pd.DataFrame) -> None:
        """Append a batch's counted events for the next session merge (nothing is read)."""
        blob = to_ipc(events)
        self.bytes_written += len(blob)
        self._pending.appendValue((blob,))

    def take_pending(self) -> pd.DataFrame:
        """Every pending event, removed from the state."""
        frames = [from_ipc(row[0]) for row in self._pending.get()]
        self._pending.clear()
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def open_sessions(self) -> pd.DataFrame:
        """The open sessions as of the last merge."""
        row = self._sessions.get() if self._sessions.exists() else None
        return sessions.empty() if row is None else from_ipc(row[0])

    def save_open_sessions(self, frame: pd.DataFrame) -> None:
        """Store the open sessions."""
        blob = to_ipc(frame)
        self.bytes_written += len(blob)
        self._sessions.update((blob,))


def merge_sorted(known: np.ndarray, new: np.ndarray) -> np.ndarray:
    """``known`` (sorted) with the values of ``new`` (absent from it) inserted in order."""
    new = np.sort(new)
    return np.insert(known, np.searchsorted(known, new), new)


def empty_counts(minute: int) -> np.ndarray:
    """A minute's counts, all zero."""
    counts = np.zeros(len(TABLE_COLUMNS), np.int64)
    counts[0] = minute
    return counts


def column(name: str) -> int:
    """The index of a counts column."""
    return TABLE_COLUMNS.index(name)
