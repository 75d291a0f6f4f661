"""Assertions over :mod:`app.chaos.compare`: the stream job's output equals the oracle's."""

from __future__ import annotations

import pandas as pd

from app.chaos.compare import COUNTED, SESSION_FIELDS, compare_minutes, compare_sessions
from app.chaos.oracle import OracleResult, closed

__all__ = ["COUNTED", "SESSION_FIELDS", "assert_minutes_match", "assert_sessions_match"]


def assert_minutes_match(emitted: pd.DataFrame, oracle: OracleResult) -> None:
    """The job's last document of each minute equals the oracle's minute, field by field."""
    differences = compare_minutes(emitted, oracle)
    assert differences.ok, differences.describe()


def assert_sessions_match(
    emitted: pd.DataFrame, oracle: OracleResult, last_event_time: pd.Timestamp
) -> None:
    """The sessions the oracle has closed by ``last_event_time`` are emitted once, equal."""
    assert len(closed(oracle.sessions, last_event_time)) > 0, (
        f"no session closes by {last_event_time}: the traffic is too short"
    )
    differences = compare_sessions(emitted, oracle, last_event_time)
    assert differences.ok, differences.describe()
