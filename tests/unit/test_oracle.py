"""The independent KPI oracle agrees with the generator's manifest and with hand-made cases."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pandas as pd

from app.chaos.oracle import closed, compute, session_id
from app.generate import Options, generate
from app.producers.formats import Format, read


def event(
    eid: str, t: str, kind: str = "page_view", user: str = "u1", price: str | None = None
) -> bytes:
    record = {
        "event_id": eid,
        "event_time": t,
        "event_type": kind,
        "user_id": user,
        "product_id": "p",
    }
    if price is not None:
        record["price"] = price
    return orjson.dumps(record)


def test_hand_made_minutes_with_duplicates_late_and_rejects() -> None:
    records = [
        event("a", "2026-01-01T10:00:05Z"),
        event("b", "2026-01-01T10:00:30Z", "add_to_cart", user="u2"),
        event("a", "2026-01-01T10:00:05Z"),  # duplicate
        event("c", "2026-01-01T10:00:40Z", "purchase", price="19.99"),
        event("d", "2026-01-01T10:25:00Z"),
        b"{broken",
        event("e", "2026-01-01T10:01:00Z"),  # 24 min behind the maximum: late
    ]
    result = compute(records, margin=1)
    minutes = result.minutes.set_index("minute")
    ten = minutes.loc[pd.Timestamp("2026-01-01T10:00:00Z")]
    assert (ten.page_views, ten.add_to_carts, ten.purchases, ten.events) == (1, 1, 1, 3)
    assert ten.revenue_cents == 1999
    assert ten.sessions == 2
    assert minutes.loc[pd.Timestamp("2026-01-01T10:01:00Z")].late_dropped == 1
    assert result.ambiguous == 0
    # u1: 10:00:05, 10:00:40 then 10:25 (24 min gap, same session); u2 alone.
    assert sorted(result.sessions["events"]) == [1, 3]


def test_a_gap_of_30_minutes_starts_a_new_session() -> None:
    records = [event("a", "2026-01-01T10:00:00Z"), event("b", "2026-01-01T10:30:00Z")]
    sessions = compute(records).sessions
    assert len(sessions) == 2
    assert set(sessions["session_id"]) == {
        session_id("u1", pd.Timestamp("2026-01-01T10:00:00Z")),
        session_id("u1", pd.Timestamp("2026-01-01T10:30:00Z")),
    }
    assert len(closed(sessions, pd.Timestamp("2026-01-01T11:05:00Z"))) == 1  # cut-off 10:25


def test_sessions_close_against_the_watermark_rounded_down_to_its_minute() -> None:
    sessions = compute([event("a", "2026-01-01T10:00:10Z")]).sessions
    # Watermark 10:30:30 rounds down to 10:30: a session ending 10:00:10 is not closed yet.
    assert closed(sessions, pd.Timestamp("2026-01-01T10:40:30Z")).empty
    assert len(closed(sessions, pd.Timestamp("2026-01-01T10:41:00Z"))) == 1


def test_an_id_is_a_duplicate_within_its_event_time_minute() -> None:
    records = [
        event("a", "2026-01-01T10:00:05Z"),
        event("a", "2026-01-01T10:00:50Z"),  # the same minute: a duplicate
        event("a", "2026-01-01T10:01:05Z"),  # another minute: another event
    ]
    minutes = compute(records).minutes.set_index("minute")
    assert minutes["events"].tolist() == [1, 1]


def test_generated_traffic_matches_its_manifest(tmp_path: Path) -> None:
    rows, minutes = 20_000, 240
    out = tmp_path / "events.csv"
    generate(Options.over(out, rows, minutes))
    manifest = json.loads((tmp_path / "events.csv.manifest.json").read_text())
    records = [orjson.dumps(r.event) for r in read(out, Format.NATIVE) if r.event is not None]
    # 12+ minute late events are ~2 event-minutes (~170 rows) behind the maximum here:
    # unambiguous for batches of up to 50 rows, which is what this margin states.
    result = compute(records, margin=50)
    assert result.ambiguous == 0
    kinds = manifest["kinds"]
    assert int(result.minutes["late_dropped"].sum()) == kinds["late_beyond_watermark"]
    assert (
        int(result.minutes["events"].sum())
        == kinds["valid_unique"] - kinds["late_beyond_watermark"]
    )
    counted = result.minutes[["page_views", "add_to_carts", "purchases", "remove_from_carts"]].sum()
    assert int(counted.sum()) == int(result.minutes["events"].sum())
