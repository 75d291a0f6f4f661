"""An independent computation of the minute KPIs and sessions, from the definitions alone.

Written from ``docs/kpis.md`` with pandas over the raw records in publish order,
sharing no code with the stream job (``app/pipeline``; ``tests/unit/test_import_rules.py``
holds the rule). Validity comes from the contract (``app.events.rejects.validate``),
which the job runs too: the one validator, tested on its own
(``tests/unit/test_event_contract.py``, ``tests/unit/test_records.py``), is not what
these comparisons are about.

Lateness: the job drops an event that is behind the watermark of its batch,
``max(event_time of earlier batches) - 10 min``. Batch boundaries are not
known here, so an event is *late* when it is more than 10 minutes behind the
maximum of the records before it; it is *ambiguous* when that maximum was
reached fewer than ``margin`` records earlier (a batch boundary could fall
either side). Tests use data with no ambiguous events, or check that there
are none before comparing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from app.events.contract import Event
from app.events.rejects import validate

WATERMARK = timedelta(minutes=10)
SESSION_GAP = timedelta(minutes=30)


@dataclass(frozen=True)
class OracleResult:
    """Minute KPIs (one row per minute), closed sessions, and the ambiguous-lateness count."""

    minutes: pd.DataFrame
    sessions: pd.DataFrame
    ambiguous: int


def session_id(user_id: str, start: pd.Timestamp) -> str:
    """The documented session id: sha256 of ``user|start`` (ISO, milliseconds, Z), 32 hex chars."""
    stamp = (
        start.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"
    )
    return hashlib.sha256(f"{user_id}|{stamp}".encode()).hexdigest()[:32]


def _valid_events(records: list[bytes]) -> tuple[pd.DataFrame, int]:
    rows, rejected = [], 0
    for position, raw in enumerate(records):
        # The wall clock, as the job's future-time rule uses at processing time.
        result = validate(raw)
        if not isinstance(result, Event):
            rejected += 1
            continue
        rows.append(
            {
                "position": position,
                "event_id": result.event_id,
                "event_time": pd.Timestamp(result.event_time),
                "event_type": result.event_type.value,
                "user_id": result.user_id,
                "revenue_cents": int(result.revenue * 100),
            }
        )
    return pd.DataFrame(rows), rejected


def _batch_lateness(events: pd.DataFrame, batch_of: np.ndarray) -> pd.Series:
    """Late by Spark's rule when batch boundaries are known.

    Behind the maximum event time of earlier batches minus the watermark delay.
    """
    times = events["event_time"].to_numpy(dtype="datetime64[ns]")
    batches = batch_of[events["position"].to_numpy()]
    per_batch = pd.Series(times).groupby(batches).max()
    earlier_max = per_batch.cummax().shift(1)
    watermark = earlier_max.reindex(batches).to_numpy(dtype="datetime64[ns]") - np.timedelta64(
        WATERMARK
    )
    late = np.where(np.isnat(watermark), False, times < watermark)
    return pd.Series(late, index=events.index)


def _lateness(events: pd.DataFrame, margin: int) -> tuple[pd.Series, int]:
    times = events["event_time"].to_numpy(dtype="datetime64[ns]")
    running = np.maximum.accumulate(times)
    before = np.concatenate([[np.datetime64("NaT")], running[:-1]])
    late = times < before - np.timedelta64(WATERMARK)
    # Where the maximum that makes an event late was first reached: an event
    # is unambiguous only when that happened at least `margin` records earlier.
    first_reach = np.searchsorted(running, times + np.timedelta64(WATERMARK), side="right")
    ambiguous = late & ((np.arange(len(times)) - first_reach) < margin)
    return pd.Series(late, index=events.index), int(ambiguous.sum())


def compute(
    records: list[bytes], margin: int = 5_000, batch_sizes: list[int] | None = None
) -> OracleResult:
    """KPIs and sessions of ``records`` (raw bus payloads in publish order).

    With ``batch_sizes`` (records per micro-batch, in order) lateness follows
    the batches exactly and nothing is ambiguous.
    """
    events, _ = _valid_events(records)
    if batch_sizes is not None:
        batch_of = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
        late, ambiguous = _batch_lateness(events, batch_of), 0
    else:
        late, ambiguous = _lateness(events, margin)
    events["minute"] = events["event_time"].dt.floor("min")
    on_time = events[~late]
    # The first copy of an id within its event-time minute (a re-sent event keeps its time).
    counted = on_time.drop_duplicates(["event_id", "minute"], keep="first")
    return OracleResult(_minutes(counted, events[late]), _sessions(counted), ambiguous)


def _minutes(counted: pd.DataFrame, late: pd.DataFrame) -> pd.DataFrame:
    # A minute exists when it has a counted or a late event.
    index = pd.Index(sorted(set(counted["minute"]) | set(late["minute"])), name="minute")
    by_type = pd.crosstab(counted["minute"], counted["event_type"])
    out = pd.DataFrame(index=index)
    for kind, column in (
        ("page_view", "page_views"),
        ("add_to_cart", "add_to_carts"),
        ("purchase", "purchases"),
        ("remove_from_cart", "remove_from_carts"),
    ):
        out[column] = by_type[kind] if kind in by_type else 0
    grouped = counted.groupby("minute")
    out["events"] = grouped.size()
    out["revenue_cents"] = grouped["revenue_cents"].sum()
    out["sessions"] = grouped["user_id"].nunique()
    out["late_dropped"] = late.groupby("minute").size()
    return out.fillna(0).astype("int64").reset_index()


def _sessions(counted: pd.DataFrame) -> pd.DataFrame:
    ordered = counted.sort_values(["user_id", "event_time"])
    gap = ordered.groupby("user_id")["event_time"].diff()
    ordered["session_no"] = (gap.isna() | (gap >= SESSION_GAP)).cumsum()
    sessions = ordered.groupby("session_no").agg(
        user_id=("user_id", "first"),
        start=("event_time", "min"),
        end=("event_time", "max"),
        events=("event_id", "size"),
        page_views=("event_type", lambda s: int((s == "page_view").sum())),
        add_to_carts=("event_type", lambda s: int((s == "add_to_cart").sum())),
        purchases=("event_type", lambda s: int((s == "purchase").sum())),
        revenue_cents=("revenue_cents", "sum"),
    )
    sessions["session_id"] = [
        session_id(u, s) for u, s in zip(sessions["user_id"], sessions["start"], strict=True)
    ]
    sessions["duration_s"] = (sessions["end"] - sessions["start"]).dt.total_seconds()
    sessions["converted"] = sessions["purchases"] > 0
    return sessions.reset_index(drop=True)


def closed(sessions: pd.DataFrame, last_event_time: pd.Timestamp) -> pd.DataFrame:
    """Sessions closed once the watermark reached ``last_event_time`` - 10 minutes.

    Those ending more than the gap before that watermark, rounded down to its minute.
    """
    cut = (last_event_time - WATERMARK).floor("min")
    return sessions[sessions["end"] + SESSION_GAP < cut]
