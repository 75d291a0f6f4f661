"""The time-range parameters every read endpoint takes, validated and resolved to ``[start, end)``.

A range is either ``minutes_back`` (back from "now") or an explicit
``start``/``end``; "now" is the wall clock, or with ``anchor=latest`` the end of
the newest stored minute, so a replay of historical data can be browsed.
Unknown parameters are refused (``extra="forbid"``): a misspelt
``minute_back`` must not silently mean the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The longest range any endpoint answers: the hot store's retention.
MAX_MINUTES = 7 * 24 * 60

Anchor = Literal["now", "latest"]


class RangeQuery(BaseModel):
    """``?minutes_back=`` or ``?start=&end=``, and ``?anchor=``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minutes_back: int | None = Field(
        None,
        ge=1,
        le=MAX_MINUTES,
        description="Minutes back from now (1..10080). Not together with start/end.",
    )
    start: datetime | None = Field(
        None, description="Start (inclusive), ISO 8601; no offset means UTC. Needs end."
    )
    end: datetime | None = Field(
        None, description="End (exclusive), ISO 8601; at most 7 days after start."
    )
    anchor: Anchor = Field(
        "now",
        description="'now': the wall clock; 'latest': just after the newest stored minute.",
    )

    #: minutes_back when neither form is given; subclasses change it.
    default_minutes: ClassVar[int] = 60

    @field_validator("start", "end")
    @classmethod
    def _as_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # 0001-01-01 with a positive offset is before year 1 in UTC
            msg = "the time is outside the calendar once converted to UTC"
            raise ValueError(msg) from None

    @model_validator(mode="after")
    def _one_form(self) -> RangeQuery:
        explicit = self.start is not None or self.end is not None
        if explicit and self.minutes_back is not None:
            msg = "give either minutes_back or start and end, not both"
            raise ValueError(msg)
        if explicit:
            if self.start is None or self.end is None:
                msg = "start and end go together; give both (or minutes_back)"
                raise ValueError(msg)
            if self.start >= self.end:
                msg = "start must be before end"
                raise ValueError(msg)
            if self.end - self.start > timedelta(minutes=MAX_MINUTES):
                msg = "the range is longer than 7 days (the hot store's retention)"
                raise ValueError(msg)
        return self


class FunnelQuery(RangeQuery):
    """The funnel's range: the last 5 minutes unless told otherwise."""

    default_minutes: ClassVar[int] = 5


@dataclass(frozen=True)
class Window:
    """A resolved range: ``start <= minute < end``."""

    start: datetime
    end: datetime
    anchor: Anchor
    #: Back from the wall clock: the next request asks for a later range.
    rolling: bool = False


def needs_newest(query: RangeQuery) -> bool:
    """True when resolving ``query`` needs the newest stored minute."""
    return query.anchor == "latest" and (query.start is None or query.end is None)


def resolve(query: RangeQuery, newest: datetime | None) -> Window:
    """The ``[start, end)`` that ``query`` means; ``newest`` is the newest stored minute.

    ``newest`` matters only for ``anchor=latest`` with ``minutes_back`` (see
    :func:`needs_newest`); with no stored minute the wall clock stands in.
    """
    if query.start is not None and query.end is not None:
        return Window(query.start, query.end, query.anchor)
    now = datetime.now(UTC)
    if query.anchor == "latest" and newest is not None:
        now = newest + timedelta(minutes=1)
    back = query.minutes_back or query.default_minutes
    return Window(now - timedelta(minutes=back), now, query.anchor, rolling=query.anchor == "now")


class AlertsQuery(BaseModel):
    """``?hours=`` of history and ``?limit=`` of its events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hours: int = Field(24, ge=1, le=168, description="Hours of history (1..168).")
    limit: int = Field(100, ge=1, le=500, description="At most this many events (1..500).")
