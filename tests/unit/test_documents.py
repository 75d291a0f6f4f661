"""A stored minute document in the API's shape: exact money, safe ratios, latency percentiles."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from adapters.errors import TerminalError
from app.pipeline import latency
from app.pipeline.documents import (
    FIELDS,
    MinuteKpis,
    divide_half_even,
    iso,
    minute_view,
    money,
    ratio,
)

MINUTE = datetime(2026, 11, 25, 18, 1, tzinfo=UTC)


def stored(**changes: Any) -> dict[str, Any]:
    """A minute document as the stream job stores it (and the store returns it)."""
    doc: dict[str, Any] = {
        "minute": MINUTE,
        "page_views": 400,
        "add_to_carts": 40,
        "purchases": 8,
        "remove_from_carts": 2,
        "events": 450,
        "revenue_cents": 123_450,
        "sessions": 97,
        "late_dropped": 3,
        "deadlettered": 1,
        "final": True,
        "watermark": MINUTE + timedelta(minutes=12, seconds=30),
        "written_at": MINUTE + timedelta(minutes=12, seconds=31, milliseconds=250),
        "batch_id": 41,
        "latency": {"b40": 50, "b45": 45, "b52": 5},
        "latency_batch": 41,
    }
    return doc | changes


def test_the_api_shape_in_order() -> None:
    view = minute_view(stored())
    assert list(view) == list(FIELDS)
    assert view == {
        "minute": "2026-11-25T18:01:00Z",
        "page_views": 400,
        "add_to_carts": 40,
        "purchases": 8,
        "remove_from_carts": 2,
        "events": 450,
        "revenue": "1234.50",
        "aov": "154.31",  # 15431.25 cents: rounds down
        "cart_rate": 0.1,
        "purchase_rate": 0.2,
        "conversion_rate": 0.02,
        "sessions": 97,
        "late_dropped": 3,
        "deadlettered": 1,
        "final": True,
        "latency_ms": {
            "p50": float(latency.BOUNDS_MS[40]),
            "p95": float(latency.BOUNDS_MS[45]),
            "p99": float(latency.BOUNDS_MS[52]),
            "count": 100,
        },
        "watermark": "2026-11-25T18:13:30Z",
        "written_at": "2026-11-25T18:13:31.250Z",
    }
    json.dumps(view, allow_nan=False)  # strict JSON as it is


def test_the_model_has_the_same_fields_and_round_trips() -> None:
    assert tuple(MinuteKpis.model_fields) == FIELDS
    view = minute_view(stored())
    assert MinuteKpis.model_validate(view).model_dump(mode="json") == view


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (0, "0.00"),
        (5, "0.05"),
        (99, "0.99"),
        (100, "1.00"),
        (123_450, "1234.50"),
        (-5, "-0.05"),
        (2**63 - 1, "92233720368547758.07"),  # exact where a float would not be
    ],
)
def test_money_is_exact(cents: int, text: str) -> None:
    assert money(cents) == text
    assert money(None) is None


@pytest.mark.parametrize(
    ("revenue_cents", "purchases", "aov"),
    [
        (1_000, 4, "2.50"),
        (1, 2, "0.00"),  # 0.5 cent: half to even (0)
        (3, 2, "0.02"),  # 1.5 cents: half to even (2)
        (5, 2, "0.02"),  # 2.5 cents: half to even (2)
        (7, 2, "0.04"),  # 3.5 cents: half to even (4)
        (10, 3, "0.03"),  # 3.33 cents
        (20, 3, "0.07"),  # 6.67 cents
        (2**63 - 1, 2, "46116860184273879.04"),  # 4611686018427387903.5 cents: to even
        (2**63 - 1, 3, "30744573456182586.02"),  # ...602.33 cents
        (0, 5, "0.00"),
    ],
)
def test_aov_rounds_half_even_to_the_cent(revenue_cents: int, purchases: int, aov: str) -> None:
    view = minute_view(stored(revenue_cents=revenue_cents, purchases=purchases))
    assert view["aov"] == aov


def test_divide_half_even_matches_decimal() -> None:
    from decimal import ROUND_HALF_EVEN, Decimal

    for n in range(-60, 61):
        for d in (1, 2, 3, 4, 7, -2, -3):
            expected = int((Decimal(n) / Decimal(d)).quantize(Decimal(1), ROUND_HALF_EVEN))
            assert divide_half_even(n, d) == expected, (n, d)
    assert divide_half_even(5, 0) is None


def test_zero_denominators_give_none() -> None:
    view = minute_view(stored(page_views=0, add_to_carts=0, purchases=0, revenue_cents=0, events=0))
    assert view["aov"] is None
    assert view["revenue"] == "0.00"
    assert view["cart_rate"] is view["purchase_rate"] is view["conversion_rate"] is None
    # Only one denominator zero: the others still compute.
    view = minute_view(stored(add_to_carts=0, purchases=0))
    assert view["purchase_rate"] is None and view["cart_rate"] == 0.0
    assert view["conversion_rate"] == 0.0 and view["aov"] is None


def test_rates_round_to_six_places() -> None:
    assert ratio(1, 3) == 0.333333
    assert ratio(2, 3) == 0.666667
    assert ratio(3, 0) is None
    view = minute_view(stored(page_views=7, add_to_carts=3, purchases=1))
    assert view["cart_rate"] == 0.428571
    assert view["purchase_rate"] == 0.333333
    assert view["conversion_rate"] == 0.142857


def test_missing_latency_is_an_empty_histogram() -> None:
    doc = stored()
    del doc["latency"], doc["latency_batch"]
    assert minute_view(doc)["latency_ms"] == {"p50": None, "p95": None, "p99": None, "count": 0}
    empty = {"p50": None, "p95": None, "p99": None, "count": 0}
    assert minute_view(stored(latency={}))["latency_ms"] == empty
    assert minute_view(stored(latency=None))["latency_ms"] == empty


def test_times_are_iso_utc_with_z() -> None:
    plus1 = timezone(timedelta(hours=1))
    assert iso(datetime(2026, 11, 25, 19, 1, tzinfo=plus1)) == "2026-11-25T18:01:00Z"
    assert iso(datetime(2026, 11, 25, 18, 1)) == "2026-11-25T18:01:00Z"  # noqa: DTZ001 naive = UTC
    assert iso(MINUTE.replace(microsecond=7000)) == "2026-11-25T18:01:00.007Z"
    assert iso(MINUTE.replace(microsecond=7)) == "2026-11-25T18:01:00.000007Z"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"purchases": None}, "purchases must be an integer"),
        ({"events": 3.0}, "events must be an integer"),
        ({"final": 1}, "final must be true or false"),
        ({"minute": "2026-11-25T18:01:00Z"}, "minute must be a datetime"),
        ({"latency": {"b07": "x"}}, "latency must map"),
        ({"latency": {"b99": 1}}, "not a latency bucket"),
        ({"latency": [1, 2]}, "latency must map"),
    ],
)
def test_malformed_documents_are_terminal(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(TerminalError, match=message):
        minute_view(stored(**changes))


def test_a_missing_field_is_named() -> None:
    doc = stored()
    del doc["sessions"]
    with pytest.raises(TerminalError, match="2026-11-25 18:01:00.*lacks 'sessions'"):
        minute_view(doc)
