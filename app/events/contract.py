"""The event contract: one pydantic model from which the rest derives.

``Event`` is the source of truth. The published JSON Schema
(``docs/event.schema.json``) is ``Event.model_json_schema()``; the Spark schema
is built from the same fields by :mod:`app.events.spark_schema`. A test
regenerates the JSON Schema and fails when the committed file has drifted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)

#: The contract's version; the history of its JSON Schemas is under ``schemas/``.
SCHEMA_VERSION = 2


class EventType(StrEnum):
    """What the shopper did. ``remove_from_cart`` is counted but outside the funnel."""

    PAGE_VIEW = "page_view"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    REMOVE_FROM_CART = "remove_from_cart"


FUNNEL = (EventType.PAGE_VIEW, EventType.ADD_TO_CART, EventType.PURCHASE)


#: The one timestamp form on the wire: ISO 8601 date and time, up to microseconds, with an offset.
#: Kept this narrow so every reader (pydantic here, Spark SQL in the job) agrees on each value.
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
#: A price given as text: plain decimal digits, no exponent, no spaces.
PRICE_TEXT_PATTERN = r"^-?\d+(\.\d+)?$"
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)
_PRICE_TEXT = re.compile(PRICE_TEXT_PATTERN)


def _timestamp_text(value: Any) -> Any:
    # Numbers (unix times) and date-only strings would be accepted by pydantic's
    # lax datetime parsing but not by other readers: the wire form is one pattern.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        msg = "must be an ISO 8601 timestamp with offset, e.g. 2026-11-25T18:00:00Z"
        raise ValueError(msg)
    return value


#: The span of times the contract accepts, UTC. Outside it a time is a mistake (a unix time
#: in the wrong unit, a placeholder year), and every reader can hold what is inside: the
#: job's pandas columns span 1677-2262 in nanoseconds, Kafka timestamps start at 1970.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
#: The largest schema_version: the job's column is a 32-bit integer.
INT32_MAX = 2**31 - 1


def _utc(value: datetime) -> datetime:
    msg = f"must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} (UTC)"
    try:
        value = value.astimezone(UTC)
    except OverflowError as e:  # an offset past year 1 or 9999: out of the span too
        raise ValueError(msg) from e
    if not in_span(value):
        raise ValueError(msg)
    return value


def in_span(value: datetime) -> bool:
    """True when an aware ``value`` lies in the span of times the contract accepts."""
    return EARLIEST <= value < LATEST


def _price_value(value: Any) -> Any:
    # A JSON number or plain decimal text; not booleans, exponents or "NaN".
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        msg = "must be a number or decimal text"
        raise ValueError(msg)
    if isinstance(value, str) and not _PRICE_TEXT.match(value):
        msg = "must be plain decimal text such as 19.99"
        raise ValueError(msg)
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(_timestamp_text), AfterValidator(_utc)]
#: The constraints sit inside the annotation, before the text check, so pydantic-core applies
#: them natively; given on the field instead, they run as Python after the wrapped validator
#: (3x the cost; docs/performance.md).
Price = Annotated[
    Decimal, Field(ge=0, max_digits=12, decimal_places=2), BeforeValidator(_price_value)
]
StrictInt = Annotated[int, Strict()]


class Event(BaseModel):
    """One shop event as it travels on the bus (JSON, one object per message)."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    event_id: str = Field(
        min_length=1, max_length=128, description="Unique id; duplicates are dropped by it."
    )
    event_time: UtcDatetime = Field(description="When the shopper acted, UTC (ISO 8601).")
    event_type: EventType = Field(
        description="page_view, add_to_cart, purchase or remove_from_cart."
    )
    user_id: str = Field(min_length=1, max_length=128, description="The shopper; the bus key.")
    session_id: str | None = Field(
        None, max_length=128, description="The client's own session id, kept on archived events."
    )
    product_id: str = Field(min_length=1, max_length=128, description="The product acted on.")
    category: str | None = Field(
        None, max_length=256, description="Category path, e.g. electronics.smartphone."
    )
    # Added in version 2, optional: a version 1 reader ignores it (docs/events.md).
    category_id: str | None = Field(
        None,
        max_length=64,
        description="The shop's stable category id (REES46 category_id), when known.",
    )
    brand: str | None = Field(None, max_length=128, description="Brand, when known.")
    price: Price | None = Field(None, description="Unit price; required on purchases.")
    quantity: StrictInt = Field(
        1, ge=1, le=10_000, description="Units (a JSON integer); 1 when absent."
    )
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code of the price.")
    source: str = Field(
        "unknown",
        max_length=64,
        description="Which producer made it: replay, rees46, live, generate.",
    )
    ingest_ts: UtcDatetime | None = Field(
        None, description="Set by the producer when it publishes; start of end-to-end latency."
    )
    # Absent means 1: producers stamp SCHEMA_VERSION (app/producers/sender.py), and an
    # event without one comes from a producer older than the stamp, which wrote version 1.
    schema_version: StrictInt = Field(
        1,
        ge=1,
        le=INT32_MAX,
        description="Contract version of the producer; 1 when absent.",
    )

    @model_validator(mode="after")
    def _purchase_has_price(self) -> Event:
        if self.event_type is EventType.PURCHASE and self.price is None:
            msg = "a purchase needs a price"
            raise ValueError(msg)
        return self

    @property
    def revenue(self) -> Decimal:
        """``price * quantity`` for purchases, 0 otherwise."""
        if self.event_type is not EventType.PURCHASE or self.price is None:
            return Decimal(0)
        return self.price * self.quantity


#: Columns of the native CSV format, in order. An empty cell means "field absent".
#: ``ingest_ts`` is not a column: producers set it when they publish.
NATIVE_CSV_COLUMNS = (
    "event_id",
    "event_time",
    "event_type",
    "user_id",
    "session_id",
    "product_id",
    "category",
    "brand",
    "price",
    "quantity",
    "currency",
    "source",
)


def json_schema() -> dict[str, object]:
    """The published JSON Schema of the wire format."""
    schema = Event.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://streamkit.dev/schemas/event/v{SCHEMA_VERSION}.json"
    return schema


def parse_utc(value: Any) -> datetime | None:
    """An ISO 8601 time with an offset, in UTC; None for anything else.

    Lenient (any form ``datetime.fromisoformat`` reads): producers use it to
    shift or map times before the contract validates the result.
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.astimezone(UTC) if parsed.utcoffset() is not None else None
    except (ValueError, OverflowError):  # OverflowError: an offset past year 1 or 9999
        return None


def now_utc() -> datetime:
    """The wall clock, UTC (one place to read it, so tests can pin it)."""
    return datetime.now(UTC)
