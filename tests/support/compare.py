"""Comparisons of the stream job's output with the independent oracle's."""

from __future__ import annotations

import pandas as pd

from tests.support.oracle import OracleResult, closed

#: Minute fields compared exactly with the oracle.
COUNTED = [
    "page_views",
    "add_to_carts",
    "purchases",
    "remove_from_carts",
    "events",
    "revenue_cents",
    "sessions",
    "late_dropped",
]
SESSION_FIELDS = ["user_id", "events", "page_views", "add_to_carts", "purchases", "revenue_cents"]


def assert_minutes_match(emitted: pd.DataFrame, oracle: OracleResult) -> None:
    """The job's last document of each minute equals the oracle's minute, field by field.

    Minutes holding only rejected records (attributed to their publish or
    future time) have no KPIs, and the oracle does not list them.
    """
    emitted = emitted.assign(minute=pd.to_datetime(emitted["minute"], utc=True))
    final = emitted.groupby("minute").tail(1).set_index("minute").sort_index()
    expected = oracle.minutes.set_index("minute").sort_index()
    extra = final.loc[~final.index.isin(expected.index)]
    assert (extra[COUNTED].to_numpy() == 0).all(), extra[COUNTED].head()
    missing = set(expected.index) - set(final.index)
    assert not missing, f"{len(missing)} minutes missing, e.g. {sorted(missing)[:3]}"
    final = final.loc[expected.index]
    diff = (final[COUNTED].astype("int64") - expected[COUNTED]).abs()
    assert int(diff.to_numpy().sum()) == 0, final[COUNTED][diff.any(axis=1)].head(10)


def assert_sessions_match(
    emitted: pd.DataFrame, oracle: OracleResult, last_event_time: pd.Timestamp
) -> None:
    """Every session the oracle has closed by ``last_event_time`` is emitted once, equal
    field by field, and every emitted session is one of the oracle's."""
    must = closed(oracle.sessions, last_event_time).set_index("session_id")
    assert len(must) > 0, f"no session closes by {last_event_time}: the traffic is too short"
    assert emitted["session_id"].is_unique
    emitted = emitted.set_index("session_id")
    known = oracle.sessions.set_index("session_id")
    assert set(must.index) <= set(emitted.index), "closed sessions missing"
    assert set(emitted.index) <= set(known.index), "sessions the oracle does not have"
    mine = emitted.loc[:, [*SESSION_FIELDS, "start", "end"]].copy()
    theirs = known.loc[mine.index, [*SESSION_FIELDS, "start", "end"]].copy()
    for column in ["start", "end"]:
        mine[column] = pd.to_datetime(mine[column], utc=True)
        theirs[column] = pd.to_datetime(theirs[column], utc=True)
    mine[SESSION_FIELDS[1:]] = mine[SESSION_FIELDS[1:]].astype("int64")
    differs = (mine != theirs).any(axis=1)
    assert not differs.any(), pd.concat([mine[differs], theirs[differs]]).head(10)
