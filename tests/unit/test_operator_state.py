"""The stream operator's split state, driven batch by batch through pyspark's ``TwsTester``.

``TwsTester`` runs the real :class:`StreamOperator` against in-memory state
variables (no JVM), so these tests see what a batch reads, writes and forgets.
The whole job against the oracle is ``tests/integration/test_minute_kpis.py``.
"""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest
from pyspark.sql.streaming.tws_tester import TwsTester

from app.pipeline.operator import StreamOperator
from app.pipeline.state import LayoutError, check_layout, merge_sorted, seen, state_variables

KEY = (0,)


def record(event_id: str, event_time: str, event_type: str, user_id: str) -> bytes:
    """One valid event on the wire (a purchase at 2.50)."""
    price = {"price": "2.50"} if event_type == "purchase" else {}
    fields = {"event_type": event_type, "user_id": user_id, "product_id": "p", "source": "test"}
    return orjson.dumps({"event_id": event_id, "event_time": event_time, **fields, **price})


def batch(*events: tuple[str, str, str, str], raw: tuple[bytes, ...] = ()) -> pd.DataFrame:
    """Events ``(event_id, event_time, event_type, user_id)``, then ``raw`` records, as the
    bus hands them to the operator: bytes and their position."""
    values = [record(*e) for e in events] + list(raw)
    n = len(values)
    return pd.DataFrame(
        {
            "value": values,
            "partition": [0] * n,
            "offset": list(range(n)),
            "publish_time": pd.to_datetime(["2026-01-01T12:00:00"] * n),
            "batch_time": pd.to_datetime(["2026-01-01T12:00:01"] * n),  # naive UTC, as Spark's
            "clock": [0] * n,
        }
    )


@pytest.fixture
def tester() -> TwsTester:
    return TwsTester(StreamOperator(), outputMode="Update")


def minutes(out: pd.DataFrame) -> pd.DataFrame:
    rows = out[out["kind"] == "minute"].copy()
    rows["minute"] = rows["minute"].dt.strftime("%H:%M")
    return rows.set_index("minute")


def test_a_resent_event_counts_once_and_an_id_in_another_minute_counts_again(
    tester: TwsTester,
) -> None:
    tester.testInPandas(KEY, batch(("a", "2026-01-01T10:00:05Z", "page_view", "u1")))
    out = tester.testInPandas(
        KEY,
        batch(
            ("a", "2026-01-01T10:00:05Z", "page_view", "u1"),  # re-sent
            ("a", "2026-01-01T10:01:05Z", "purchase", "u2"),  # another minute
            ("b", "2026-01-01T10:00:20Z", "add_to_cart", "u1"),
        ),
    )
    got = minutes(out)
    assert got.loc["10:00", ["events", "page_views", "add_to_carts", "sessions"]].tolist() == [
        2,
        1,
        1,
        1,
    ]
    assert got.loc["10:01", ["events", "purchases", "revenue_cents"]].tolist() == [1, 1, 250]
    assert (out["kind"] == "event").sum() == 2  # the re-sent copy is not archived again


def test_a_batch_keeps_ids_and_users_only_for_minutes_not_yet_final(tester: TwsTester) -> None:
    tester.testInPandas(
        KEY,
        batch(
            ("a", "2026-01-01T10:00:05Z", "page_view", "u1"),
            ("b", "2026-01-01T10:01:05Z", "page_view", "u2"),
        ),
    )
    assert sorted(tester.peekMapState("ids", KEY)) == [(1767261600000,), (1767261660000,)]
    # 10:11:30 puts the next watermark at 10:01:30: 10:00 is final, 10:01 is not.
    out = tester.testInPandas(KEY, batch(("c", "2026-01-01T10:11:30Z", "page_view", "u3")))
    got = minutes(out)
    assert bool(got.loc["10:00", "final"]) and bool(got.loc["10:00", "closing"])
    assert got.loc["10:00", "sessions"] == 1
    assert (1767261600000,) not in tester.peekMapState("ids", KEY)
    assert (1767261600000,) not in tester.peekMapState("users", KEY)
    assert (1767261660000,) in tester.peekMapState("users", KEY)
    # A late copy of a forgotten id is late, not a new event.
    out = tester.testInPandas(KEY, batch(("a", "2026-01-01T10:00:05Z", "page_view", "u1")))
    assert minutes(out).loc["10:00", ["events", "late_dropped"]].tolist() == [1, 1]


def test_sessions_close_once_the_watermark_minute_passes_their_end_by_the_gap(
    tester: TwsTester,
) -> None:
    tester.testInPandas(KEY, batch(("a", "2026-01-01T10:00:10Z", "page_view", "u1")))
    tester.testInPandas(KEY, batch(("b", "2026-01-01T10:00:40Z", "page_view", "u2")))
    # The watermark stayed in minute 09:50: the second batch's events wait, unmerged.
    assert len(tester.peekListState("pending", KEY)) == 1
    # Watermark 10:30:30, rounded down to 10:30: u1's session (ends 10:00:10) stays open.
    out = tester.testInPandas(KEY, batch(("c", "2026-01-01T10:40:30Z", "page_view", "u3")))
    assert (out["kind"] == "session").sum() == 0
    assert tester.peekListState("pending", KEY) == []
    out = tester.testInPandas(KEY, batch(("d", "2026-01-01T10:41:00Z", "page_view", "u3")))
    closed = out[out["kind"] == "session"].set_index("user_id")
    assert sorted(closed.index) == ["u1", "u2"]
    assert closed["events"].tolist() == [1, 1]


def test_an_event_within_the_gap_extends_its_session_across_a_merge(tester: TwsTester) -> None:
    tester.testInPandas(KEY, batch(("a", "2026-01-01T10:00:00Z", "page_view", "u1")))
    tester.testInPandas(KEY, batch(("b", "2026-01-01T10:20:00Z", "purchase", "u1")))
    tester.testInPandas(KEY, batch(("c", "2026-01-01T10:45:00Z", "page_view", "u2")))
    out = tester.testInPandas(KEY, batch(("d", "2026-01-01T11:01:00Z", "page_view", "u2")))
    closed = out[out["kind"] == "session"].set_index("user_id")
    assert closed.loc["u1", ["events", "purchases", "revenue_cents"]].tolist() == [2, 1, 250]
    assert bool(closed.loc["u1", "converted"])


def test_sorted_ids_are_found_by_binary_search_and_merged_in_order() -> None:
    rng = np.random.default_rng(7)
    first = rng.integers(0, 2**63, 5_000, dtype=np.int64).astype(np.uint64)
    known = merge_sorted(np.empty(0, np.uint64), first)
    second = rng.integers(0, 2**63, 3_000, dtype=np.int64).astype(np.uint64)
    assert not seen(known, second).any()
    known = merge_sorted(known, second)
    assert seen(known, np.concatenate([first, second])).all()
    assert bool(np.all(known[1:] >= known[:-1]))


def test_a_checkpoint_of_another_state_layout_is_refused_naming_the_fix() -> None:
    old = '{"timeMode":"NoTime","stateVariables":[{"stateName":"clock"}]}'
    with pytest.raises(LayoutError, match="streamkit pipeline --reset"):
        check_layout(state_variables(old), "/ck")
    check_layout([], "/ck")  # no state yet
    check_layout(["sessions", "progress", "counts", "ids", "users", "pending"], "/ck")


def test_the_operator_validates_raw_records_and_counts_rejects_by_their_time(
    tester: TwsTester,
) -> None:
    unknown = b'{"event_id": "x", "event_time": "2026-01-01T10:00:30Z", "event_type": "view"}'
    # "In the future" is judged against the batch's timestamp (12:00:01), not the wall clock.
    future = record("f", "2026-01-01T12:06:00Z", "page_view", "u9")
    out = tester.testInPandas(
        KEY,
        batch(
            ("a", "2026-01-01T10:00:05Z", "page_view", "u1"),
            ("b", "2026-01-01T12:04:30Z", "page_view", "u2"),  # ahead, within the 5 minutes
            raw=(b"{oops", unknown, future),
        ),
    )
    rejects = out[out["kind"] == "reject"].set_index("reason")
    assert sorted(rejects.index) == ["future_event_time", "not_json", "unknown_event_type"]
    assert rejects.loc["unknown_event_type", "raw"] == unknown  # the bytes, for the dead letter
    assert rejects.loc["unknown_event_type", "message"].startswith("event_type: Input should be")
    assert rejects.loc["not_json", "offset"] == 2  # and where the record sat on the bus
    got = minutes(out)
    # In its event time's minute when that parses; else, and when it is in the future, in the
    # minute it was published (12:00).
    assert got.loc["10:00", ["events", "deadlettered"]].tolist() == [1, 1]
    assert got.loc["12:00", ["events", "deadlettered"]].tolist() == [0, 2]
    assert got.loc["12:04", ["events", "deadlettered"]].tolist() == [1, 0]
    assert (out["kind"] == "event").sum() == 2
