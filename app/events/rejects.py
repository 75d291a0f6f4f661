"""Why a record is rejected, and the one dead-letter record every writer emits.

Producers, the stream job and the replay tools all dead-letter through
:func:`dead_letter`, so a record rejected twice by an at-least-once writer
carries the same ``dead_letter_id`` (a hash of its raw bytes and source
position) and is recognisably one.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from enum import StrEnum

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.events.contract import Event, now_utc

#: How far ahead of the wall clock an event time may be before it is implausible.
MAX_FUTURE = timedelta(minutes=5)
_PREVIEW_CHARS = 512


class Reason(StrEnum):
    """Reason codes; ``docs/events.md`` describes each."""

    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    NEGATIVE_PRICE = "negative_price"
    PURCHASE_WITHOUT_PRICE = "purchase_without_price"
    BAD_EVENT_TIME = "bad_event_time"
    FUTURE_EVENT_TIME = "future_event_time"
    BAD_FIELD = "bad_field"
    TRUNCATED_RECORD = "truncated_record"


class Rejection(BaseModel):
    """A record that failed the contract: the first reason found, and a readable message."""

    model_config = ConfigDict(frozen=True)

    reason: Reason
    message: str


class DeadLetter(BaseModel):
    """The dead-letter record, the same for every writer (JSON on ``events_deadletter``)."""

    model_config = ConfigDict(frozen=True)

    dead_letter_id: str = Field(
        description="sha256 of source, position and raw bytes (32 hex chars)."
    )
    reason: Reason
    message: str
    raw_b64: str = Field(description="The raw bytes, exactly, base64.")
    raw_preview: str = Field(description="The raw bytes as text (lossy, truncated) for people.")
    source: str = Field(
        description="Where the record came from, e.g. kafka:events_raw or file:x.csv."
    )
    source_position: str = Field(description="Partition/offset, line number, or stream id.")
    rejected_at: datetime

    def to_json(self) -> bytes:
        """The wire form."""
        return orjson.dumps(self.model_dump(mode="json"))


def dead_letter_id(raw: bytes, source: str, position: str) -> str:
    """Deterministic id of a rejected record at one source position."""
    digest = hashlib.sha256()
    for part in (source.encode(), position.encode(), raw):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no ambiguity
        digest.update(part)
    return digest.hexdigest()[:32]


def dead_letter(
    raw: bytes, rejection: Rejection, source: str, position: str, at: datetime | None = None
) -> DeadLetter:
    """The dead-letter record for ``raw`` rejected at ``source``/``position``."""
    return DeadLetter(
        dead_letter_id=dead_letter_id(raw, source, position),
        reason=rejection.reason,
        message=rejection.message,
        raw_b64=base64.b64encode(raw).decode(),
        raw_preview=raw[:_PREVIEW_CHARS].decode("utf-8", errors="replace"),
        source=source,
        source_position=position,
        rejected_at=at or now_utc(),
    )


def validate(raw: bytes, now: datetime | None = None) -> Event | Rejection:
    """Parse one wire record; an ``Event`` or the ``Rejection`` saying why not."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        return Rejection(reason=Reason.NOT_JSON, message=f"not JSON: {e}")
    if not isinstance(data, dict):
        return Rejection(
            reason=Reason.NOT_AN_OBJECT, message=f"a JSON {type(data).__name__}, not an object"
        )
    try:
        event = Event.model_validate(data)
    except ValidationError as e:
        return _classify(e)
    limit = (now or now_utc()) + MAX_FUTURE
    if event.event_time > limit:
        return Rejection(
            reason=Reason.FUTURE_EVENT_TIME,
            message=f"event_time {event.event_time.isoformat()} is more than {MAX_FUTURE} ahead",
        )
    return event


def _classify(error: ValidationError) -> Rejection:
    # The first error decides the reason: one record, one reason code.
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "record"
    kind = first["type"]
    if kind == "missing":
        reason = Reason.MISSING_FIELD
    elif field == "event_type":
        reason = Reason.UNKNOWN_EVENT_TYPE
    elif field == "price" and kind == "greater_than_equal":
        reason = Reason.NEGATIVE_PRICE
    elif field == "event_time":
        reason = Reason.BAD_EVENT_TIME
    elif "purchase needs a price" in first["msg"]:
        reason = Reason.PURCHASE_WITHOUT_PRICE
    else:
        reason = Reason.BAD_FIELD
    return Rejection(reason=reason, message=f"{field}: {first['msg']}")
