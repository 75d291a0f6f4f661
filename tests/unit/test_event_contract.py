"""The event contract: parsing, every rejection reason, the dead-letter record, derived schemas."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from app.cli.schema import render
from app.events.contract import Event, EventType
from app.events.rejects import DeadLetter, Reason, Rejection, dead_letter, dead_letter_id, validate

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
GOOD = {
    "event_id": "e1",
    "event_time": "2026-11-25T17:59:00Z",
    "event_type": "purchase",
    "user_id": "u1",
    "product_id": "p1",
    "price": "19.99",
    "quantity": 2,
}


def raw(**changes: object) -> bytes:
    record = {**GOOD, **changes}
    return orjson.dumps({k: v for k, v in record.items() if v is not ...})


def test_a_valid_record_parses_with_defaults_and_utc() -> None:
    event = validate(raw(event_time="2026-11-25T18:59:00+01:00"), now=NOW)
    assert isinstance(event, Event)
    assert event.event_time == datetime(2026, 11, 25, 17, 59, tzinfo=UTC)
    assert event.event_type is EventType.PURCHASE
    assert (event.currency, event.source, event.session_id) == ("USD", "unknown", None)
    assert event.revenue == Decimal("39.98")


def test_only_purchases_have_revenue() -> None:
    event = validate(raw(event_type="add_to_cart"), now=NOW)
    assert isinstance(event, Event)
    assert event.revenue == 0


def test_remove_from_cart_is_valid() -> None:
    assert isinstance(validate(raw(event_type="remove_from_cart"), now=NOW), Event)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (b"{not json", Reason.NOT_JSON),
        (b"", Reason.NOT_JSON),
        (b"\xff\xfe", Reason.NOT_JSON),
        (b"[1, 2]", Reason.NOT_AN_OBJECT),
        (b'"text"', Reason.NOT_AN_OBJECT),
        (raw(user_id=...), Reason.MISSING_FIELD),
        (raw(event_id=...), Reason.MISSING_FIELD),
        (raw(event_type="checkout"), Reason.UNKNOWN_EVENT_TYPE),
        (raw(price="-0.01"), Reason.NEGATIVE_PRICE),
        (raw(price=...), Reason.PURCHASE_WITHOUT_PRICE),
        (raw(price=None), Reason.PURCHASE_WITHOUT_PRICE),
        (raw(event_time="yesterday"), Reason.BAD_EVENT_TIME),
        (raw(event_time="2026-11-25T17:59:00"), Reason.BAD_EVENT_TIME),
        (raw(event_time="2026-11-25T18:06:00Z"), Reason.FUTURE_EVENT_TIME),
        (raw(quantity=0), Reason.BAD_FIELD),
        (raw(currency="usd"), Reason.BAD_FIELD),
    ],
)
def test_each_kind_of_bad_record_gets_its_reason(record: bytes, reason: Reason) -> None:
    result = validate(record, now=NOW)
    assert isinstance(result, Rejection)
    assert result.reason is reason
    assert result.message


def test_five_minutes_ahead_is_still_plausible() -> None:
    assert isinstance(validate(raw(event_time="2026-11-25T18:05:00Z"), now=NOW), Event)


def test_a_dead_letter_keeps_the_exact_bytes_and_a_deterministic_id() -> None:
    payload = b"\xff\x00 broken"
    rejection = validate(payload, now=NOW)
    assert isinstance(rejection, Rejection)
    first = dead_letter(payload, rejection, "kafka:events_raw", "2/1041", at=NOW)
    again = dead_letter(payload, rejection, "kafka:events_raw", "2/1041")
    assert first.dead_letter_id == again.dead_letter_id  # the same record twice is one
    assert base64.b64decode(first.raw_b64) == payload
    assert first.reason is Reason.NOT_JSON
    round_trip = DeadLetter.model_validate_json(first.to_json())
    assert round_trip == first


def test_dead_letter_ids_differ_by_position_and_source() -> None:
    ids = {
        dead_letter_id(b"x", "file:a.csv", "1"),
        dead_letter_id(b"x", "file:a.csv", "2"),
        dead_letter_id(b"x", "file:b.csv", "1"),
        dead_letter_id(b"1x", "file:a.csv", ""),  # no ambiguity from concatenation
    }
    assert len(ids) == 4


def test_the_committed_json_schema_matches_the_model() -> None:
    committed = (ROOT / "docs" / "event.schema.json").read_text()
    assert committed == render(), "regenerate: streamkit schema show --out docs/event.schema.json"
    schema = json.loads(committed)
    assert set(schema["required"]) == {
        "event_id",
        "event_time",
        "event_type",
        "user_id",
        "product_id",
    }


def test_every_reason_is_documented() -> None:
    doc = (ROOT / "docs" / "events.md").read_text()
    assert [r.value for r in Reason if f"`{r.value}`" not in doc] == []
    assert [f for f in Event.model_fields if f"`{f}`" not in doc] == []
