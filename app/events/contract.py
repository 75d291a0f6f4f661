"""The event contract: one pydantic model from which the rest derives.

``Event`` is the source of truth. The published JSON Schema
(``docs/event.schema.json``) is ``Event.model_json_schema()``; the Spark schema
is built from the same fields by :mod:`app.events.spark_schema`. A test
regenerates the JSON Schema and fails when the committed file has drifted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1


class EventType(StrEnum):
    """What the shopper did. ``remove_from_cart`` is counted but outside the funnel."""

    PAGE_VIEW = "page_view"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    REMOVE_FROM_CART = "remove_from_cart"


FUNNEL = (EventType.PAGE_VIEW, EventType.ADD_TO_CART, EventType.PURCHASE)


def _utc(value: datetime) -> datetime:
    # A time without an offset is ambiguous; the contract demands UTC on the wire.
    if value.tzinfo is None or value.utcoffset() is None:
        msg = "must carry a UTC offset, e.g. 2026-11-25T18:00:00Z"
        raise ValueError(msg)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


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
    brand: str | None = Field(None, max_length=128, description="Brand, when known.")
    price: Decimal | None = Field(
        None,
        ge=0,
        max_digits=12,
        decimal_places=2,
        description="Unit price; required on purchases.",
    )
    quantity: int = Field(1, ge=1, le=10_000, description="Units; 1 when absent.")
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code of the price.")
    source: str = Field(
        "unknown",
        max_length=64,
        description="Which producer made it: replay, rees46, live, generate.",
    )
    ingest_ts: UtcDatetime | None = Field(
        None, description="Set by the producer when it publishes; start of end-to-end latency."
    )
    schema_version: int = Field(
        SCHEMA_VERSION, ge=1, description="Contract version of the producer."
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


def now_utc() -> datetime:
    """The wall clock, UTC (one place to read it, so tests can pin it)."""
    return datetime.now(UTC)
