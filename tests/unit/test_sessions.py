"""Server-side sessions: merging out-of-order events, closing, ids."""

from __future__ import annotations

import hashlib

import pandas as pd

from app.pipeline import sessions
from app.pipeline.sessions import GAP_MS

MIN = 60_000


def events(*rows: tuple[str, int, str]) -> pd.DataFrame:
    """Events as (user, minute, type); purchases are worth 10.00."""
    return pd.DataFrame(
        {
            "user_id": [r[0] for r in rows],
            "time_ms": [r[1] * MIN for r in rows],
            "event_type": [r[2] for r in rows],
            "revenue_cents": [1000 if r[2] == "purchase" else 0 for r in rows],
        }
    )


def spans(open_sessions: pd.DataFrame) -> list[tuple[str, int, int, int]]:
    rows = open_sessions.sort_values(["user_id", "start_ms"])
    return [
        (u, s // MIN, e // MIN, n)
        for u, s, e, n in zip(
            rows["user_id"], rows["start_ms"], rows["end_ms"], rows["events"], strict=True
        )
    ]


def test_a_gap_of_30_minutes_or_more_starts_a_new_session() -> None:
    state = sessions.extend(
        sessions.empty(),
        events(("a", 0, "page_view"), ("a", 29, "page_view"), ("a", 59, "page_view")),
    )
    assert spans(state) == [("a", 0, 29, 2), ("a", 59, 59, 1)]


def test_an_out_of_order_event_bridges_two_sessions() -> None:
    state = sessions.extend(sessions.empty(), events(("a", 0, "page_view"), ("a", 40, "purchase")))
    assert len(state) == 2
    state = sessions.extend(state, events(("a", 20, "add_to_cart")))
    assert spans(state) == [("a", 0, 40, 3)]
    row = state.iloc[0]
    assert (row["page_views"], row["add_to_carts"], row["purchases"]) == (1, 1, 1)
    assert row["revenue_cents"] == 1000


def test_events_inside_a_session_and_other_users_are_kept_apart() -> None:
    first = events(("a", 0, "page_view"), ("a", 10, "page_view"), ("b", 5, "page_view"))
    state = sessions.extend(sessions.empty(), first)
    state = sessions.extend(state, events(("a", 5, "page_view")))
    assert spans(state) == [("a", 0, 10, 3), ("b", 5, 5, 1)]


def test_sessions_close_once_the_watermark_passes_end_plus_gap() -> None:
    state = sessions.extend(sessions.empty(), events(("a", 0, "purchase"), ("b", 10, "page_view")))
    closed, still_open = sessions.close(state, GAP_MS + 5 * MIN)
    assert list(closed["user_id"]) == ["a"]
    assert list(still_open["user_id"]) == ["b"]
    record = closed.iloc[0]
    assert record["converted"]
    assert record["duration_s"] == 0.0
    assert record["start"] == pd.Timestamp(0, unit="ms", tz="UTC")


def test_the_session_id_is_a_hash_of_user_and_start() -> None:
    start = pd.Timestamp("2026-01-01T10:00:00.123Z").value // 1_000_000
    expected = hashlib.sha256(b"u1|2026-01-01T10:00:00.123Z").hexdigest()[:32]
    assert sessions.session_id("u1", start) == expected
