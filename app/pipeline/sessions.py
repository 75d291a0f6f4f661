"""Server-side sessions per user, as pure pandas over one batch at a time.

A session is a user's run of events with gaps under 30 minutes; a gap of 30
minutes or more starts a new one. Events may arrive out of order (within the
watermark), so a batch's events are merged into the user's *open* sessions
as intervals: an event can extend a session, fall inside it, or bridge two
sessions into one.

A session is closed once the watermark has passed its end by the gap: every
event still to come is on time, so at or after the watermark, so 30 minutes
or more after the session's end, and cannot join it.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

GAP_MS = 30 * 60_000
#: Counted fields of a session, summed when sessions merge.
COUNTS = ("events", "page_views", "add_to_carts", "purchases", "remove_from_carts", "revenue_cents")
OPEN_COLUMNS = ("user_id", "start_ms", "end_ms", *COUNTS)
_KINDS = {
    "page_view": "page_views",
    "add_to_cart": "add_to_carts",
    "purchase": "purchases",
    "remove_from_cart": "remove_from_carts",
}


def empty() -> pd.DataFrame:
    """An open-sessions table with no rows."""
    frame = pd.DataFrame({c: pd.Series(dtype="int64") for c in OPEN_COLUMNS})
    frame["user_id"] = frame["user_id"].astype(object)
    return frame


def extend(open_sessions: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Open sessions after adding ``events``.

    ``events`` has ``user_id``, ``time_ms``, ``event_type`` and ``revenue_cents``:
    valid, first, on-time events only.
    """
    if events.empty:
        return open_sessions
    singles = pd.DataFrame(
        {
            "user_id": events["user_id"].to_numpy(object),
            "start_ms": events["time_ms"].to_numpy(np.int64),
            "end_ms": events["time_ms"].to_numpy(np.int64),
            "events": np.ones(len(events), np.int64),
            **{
                column: (events["event_type"] == kind).to_numpy(np.int64)
                for kind, column in _KINDS.items()
            },
            "revenue_cents": events["revenue_cents"].to_numpy(np.int64),
        }
    )
    touched = open_sessions["user_id"].isin(set(singles["user_id"]))
    merged = _merge(pd.concat([open_sessions[touched], singles], ignore_index=True))
    return pd.concat([open_sessions[~touched], merged], ignore_index=True)[list(OPEN_COLUMNS)]


def _merge(intervals: pd.DataFrame) -> pd.DataFrame:
    ordered = intervals.sort_values(["user_id", "start_ms"], kind="stable", ignore_index=True)
    users = ordered["user_id"]
    reach = ordered.groupby(users, sort=False)["end_ms"].cummax().to_numpy()
    same_user = np.concatenate([[False], users.to_numpy()[1:] == users.to_numpy()[:-1]])
    previous_reach = np.concatenate([[0], reach[:-1]])
    starts = ~same_user | (ordered["start_ms"].to_numpy() - previous_reach >= GAP_MS)
    group = np.cumsum(starts)
    aggregations = {"user_id": "first", "start_ms": "min", "end_ms": "max"}
    aggregations |= dict.fromkeys(COUNTS, "sum")
    return ordered.groupby(group, sort=False).agg(aggregations).reset_index(drop=True)


def close(open_sessions: pd.DataFrame, watermark_ms: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(closed records, still open)``: sessions whose end the watermark has passed by the gap."""
    done = (open_sessions["end_ms"] + GAP_MS <= watermark_ms).to_numpy()
    return records(open_sessions[done]), open_sessions[~done].reset_index(drop=True)


def session_id(user_id: str, start_ms: int) -> str:
    """sha256 of ``user|start`` (ISO 8601 UTC, milliseconds, ``Z``), first 32 hex characters."""
    stamp = pd.Timestamp(start_ms, unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return hashlib.sha256(f"{user_id}|{stamp}Z".encode()).hexdigest()[:32]


def records(sessions: pd.DataFrame) -> pd.DataFrame:
    """Session records: ids, start/end timestamps, duration, counts, converted."""
    out = sessions.reset_index(drop=True).copy()
    out["sid"] = [
        session_id(u, int(s)) for u, s in zip(out["user_id"], out["start_ms"], strict=True)
    ]
    out["start"] = pd.to_datetime(out["start_ms"], unit="ms", utc=True)
    out["end"] = pd.to_datetime(out["end_ms"], unit="ms", utc=True)
    out["duration_s"] = (out["end_ms"] - out["start_ms"]) / 1000.0
    out["converted"] = out["purchases"] > 0
    return out.drop(columns=["start_ms", "end_ms"])
