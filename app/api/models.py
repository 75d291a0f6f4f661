"""The API's response and error bodies: typed, and listed in the OpenAPI document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.pipeline.documents import LatencyMs, MinuteKpis

__all__ = [
    "Anchor",
    "CheckResult",
    "ErrorBody",
    "Funnel",
    "FunnelStage",
    "Health",
    "KpiRange",
    "LatencyMs",
    "MinuteKpis",
    "ParamError",
    "SessionStats",
]

Anchor = Literal["now", "latest"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class KpiRange(_Frozen):
    """Minute documents in ``[start, end)``, earliest first."""

    start: str = Field(description="Start of the range (inclusive), ISO 8601 UTC.")
    end: str = Field(description="End of the range (exclusive), ISO 8601 UTC.")
    anchor: Anchor = Field(description="What 'now' meant for minutes_back.")
    count: int = Field(ge=0)
    minutes: list[MinuteKpis]


class FunnelStage(_Frozen):
    """One funnel step: its count and the share of the previous step that reached it."""

    stage: Literal["page_views", "add_to_carts", "purchases"]
    count: int = Field(ge=0)
    rate: float | None = Field(
        description="count / previous stage's count (null for the first stage or a zero base)."
    )


class Funnel(_Frozen):
    """Counts summed over a range, with rates and AOV computed from the sums."""

    start: str
    end: str
    anchor: Anchor
    minutes: int = Field(ge=0, description="Minute documents summed.")
    page_views: int
    add_to_carts: int
    purchases: int
    remove_from_carts: int
    events: int
    sessions: int = Field(
        description="Sum of the minutes' sessions (a user active in two minutes counts twice)."
    )
    revenue: str
    aov: str | None
    cart_rate: float | None
    purchase_rate: float | None
    conversion_rate: float | None
    late_dropped: int
    deadlettered: int
    stages: list[FunnelStage]


class SessionStats(_Frozen):
    """Sessions closed in a range, by the minute of their last event."""

    start: str
    end: str
    anchor: Anchor
    sessions: int = Field(ge=0)
    converted: int = Field(ge=0, description="Sessions with at least one purchase.")
    conversion_rate: float | None = Field(description="converted / sessions.")
    avg_duration_s: float | None
    avg_events: float | None
    revenue: str
    revenue_per_session: str | None


class CheckResult(_Frozen):
    """One dependency of /health."""

    status: Literal["ok", "warn", "fail", "skipped"]
    latency_ms: float | None = Field(description="How long the check took.")
    detail: str = Field(description="Why, in words.")
    age_s: float | None = Field(None, description="pipeline: seconds since the job last wrote.")
    lag_records: int | None = Field(None, description="pipeline: consumer lag, worst partition.")
    last_batch_at: str | None = Field(None, description="pipeline: when the last batch finished.")


class Health(_Frozen):
    """Each dependency's check, and the sum of them.

    ``unhealthy`` (503): the job stopped reporting; ``degraded`` (200): a warn, or a
    dependency that does not answer; ``healthy`` (200): all ok.
    """

    status: Literal["healthy", "degraded", "unhealthy"]
    checked_at: str
    checks: dict[str, CheckResult]


class ParamError(_Frozen):
    """One rejected parameter."""

    param: str
    message: str


class ErrorBody(_Frozen):
    """Every error response."""

    error: Literal[
        "invalid_request",
        "unauthorized",
        "method_not_allowed",
        "rate_limited",
        "no_data",
        "unavailable",
        "internal",
    ]
    message: str
    details: list[ParamError] = Field(default_factory=list)


class ActiveAlert(_Frozen):
    """An alert whose condition holds: ``pending`` (not yet for its window) or ``firing``."""

    rule: str
    labels: dict[str, str]
    state: Literal["pending", "firing"]
    since: str
    fired_at: str | None
    value: float


class AlertEvent(_Frozen):
    """An alert that fired or resolved."""

    rule: str
    labels: dict[str, str]
    kind: Literal["firing", "resolved"]
    at: str
    value: float
    summary: str
    severity: str


class Alerts(_Frozen):
    """What `streamkit alerts` last found, and what fired or resolved lately (newest first)."""

    evaluated_at: str | None
    active: list[ActiveAlert]
    recent: list[AlertEvent]
