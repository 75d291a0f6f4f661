"""The oracle comparisons report what differs: counts per field, missing and unexpected keys."""

from __future__ import annotations

import orjson
import pandas as pd

from app.chaos.compare import COUNTED, compare_minutes, compare_sessions
from app.chaos.oracle import compute


def event(eid: str, t: str, user: str = "u1") -> bytes:
    return orjson.dumps(
        {
            "event_id": eid,
            "event_time": t,
            "event_type": "page_view",
            "user_id": user,
            "product_id": "p",
        }
    )


RECORDS = [
    event("a", "2026-01-01T10:00:05Z"),
    event("b", "2026-01-01T10:00:30Z", user="u2"),
    event("c", "2026-01-01T10:01:10Z"),
    event("d", "2026-01-01T11:30:00Z"),  # closes the 10:00 sessions
]
ORACLE = compute(RECORDS, margin=1)


def as_emitted() -> pd.DataFrame:
    """The oracle's own minutes, shaped as the job's documents (an exact match)."""
    return ORACLE.minutes.copy()


def test_the_oracles_own_answer_has_no_differences() -> None:
    differences = compare_minutes(as_emitted(), ORACLE)
    assert differences.ok and differences.total == 0
    assert differences.describe() == "no differences"


def test_a_double_count_and_a_missing_minute_are_reported() -> None:
    emitted = as_emitted()
    emitted.loc[0, "events"] += 1  # one event counted twice
    emitted = emitted.drop(index=1)  # one minute never written
    differences = compare_minutes(emitted, ORACLE)
    assert not differences.ok
    assert differences.by_field["events"] == 1 and differences.missing == 1
    assert sum(differences.by_field[c] for c in COUNTED if c != "events") == 0
    assert "events 3 vs 2 (job vs oracle)" in differences.describe()


def test_a_minute_holding_only_rejects_is_not_unexpected_but_one_that_counts_is() -> None:
    zeros = dict.fromkeys(COUNTED, 0)
    rejects_only = pd.DataFrame([{"minute": pd.Timestamp("2026-01-01T12:00Z"), **zeros}])
    counting = pd.DataFrame([{"minute": pd.Timestamp("2026-01-01T12:01Z"), **zeros, "events": 1}])
    assert compare_minutes(pd.concat([as_emitted(), rejects_only]), ORACLE).ok
    assert compare_minutes(pd.concat([as_emitted(), counting]), ORACLE).unexpected == 1


def test_sessions_missing_repeated_and_differing_are_reported() -> None:
    last = pd.Timestamp("2026-01-01T11:30:00Z")
    sessions = ORACLE.sessions
    assert compare_sessions(sessions, ORACLE, last).ok
    changed = sessions.copy()
    changed.loc[0, "events"] += 1
    differences = compare_sessions(pd.concat([changed, changed.iloc[[1]]]), ORACLE, last)
    assert differences.by_field["events"] == 1 and differences.unexpected == 1
    assert compare_sessions(sessions.iloc[1:], ORACLE, last).missing == 1
