"""A stored minute document (collection ``kpi_minutes``) in the shape the API and CLI show.

The store keeps counts, integer cents and a latency histogram; everything
derived (money as decimal strings, AOV, rates, latency percentiles) is
computed here on read, so a re-processed batch can never skew a ratio and the
CLI and the API cannot disagree. See docs/kpis.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from adapters.errors import TerminalError
from app.pipeline import latency

#: The hot-store collection of minute documents, keyed by ``minute``.
KPI_MINUTES = "kpi_minutes"
#: Closed sessions, keyed by ``session_id``.
SESSIONS = "sessions"
#: Closed-session sums per minute of session end, keyed by ``minute`` (docs/api.md).
SESSION_MINUTES = "session_minutes"
#: The summed fields of a ``session_minutes`` document.
SESSION_SUMS = ("sessions", "converted", "events", "duration_ms", "revenue_cents")
#: The job's health document (one, keyed by ``job``), written after each batch.
HEALTH = "pipeline_health"
JOB = "streamkit"
#: Every collection the job writes: what dropping a job's database means.
JOB_COLLECTIONS = (KPI_MINUTES, SESSIONS, SESSION_MINUTES, HEALTH)

#: Stored integer fields shown as they are.
COUNTS = (
    "page_views",
    "add_to_carts",
    "purchases",
    "remove_from_carts",
    "events",
    "sessions",
    "late_dropped",
    "deadlettered",
)

#: The fields of a minute's API shape, in the order they are shown.
FIELDS = (
    "minute",
    "page_views",
    "add_to_carts",
    "purchases",
    "remove_from_carts",
    "events",
    "revenue",
    "aov",
    "cart_rate",
    "purchase_rate",
    "conversion_rate",
    "sessions",
    "late_dropped",
    "deadlettered",
    "final",
    "latency_ms",
    "watermark",
    "written_at",
)


class LatencyMs(BaseModel):
    """Percentiles of end-to-end latency (ms): bucket upper bounds, None when no event was timed."""

    model_config = ConfigDict(frozen=True)

    p50: float | None
    p95: float | None
    p99: float | None
    count: int = Field(ge=0, description="Events timed.")


class MinuteKpis(BaseModel):
    """One UTC minute's KPIs as the API returns them (docs/kpis.md)."""

    model_config = ConfigDict(frozen=True)

    minute: str = Field(description="Start of the minute, ISO 8601 UTC, e.g. 2026-11-25T18:01:00Z.")
    page_views: int
    add_to_carts: int
    purchases: int
    remove_from_carts: int
    events: int
    revenue: str = Field(description="Decimal string with two places, e.g. '1234.50'.")
    aov: str | None = Field(description="revenue / purchases to the cent (half-even).")
    cart_rate: float | None
    purchase_rate: float | None
    conversion_rate: float | None
    sessions: int
    late_dropped: int
    deadlettered: int
    final: bool
    latency_ms: LatencyMs
    watermark: str
    written_at: str


def minute_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The API shape of stored minute document ``doc``, fields in ``FIELDS`` order.

    Exact money (no float ever holds cents), rates rounded to 6 places and
    None on a zero denominator, latency percentiles from the histogram.

    Raises:
        TerminalError: ``doc`` lacks a field or holds one of the wrong type.
    """
    where = f"{KPI_MINUTES} document {doc.get('minute')!s}"
    n = {f: _int(doc, f, where) for f in (*COUNTS, "revenue_cents")}
    view = {
        **n,
        "minute": iso(_time(doc, "minute", where)),
        "revenue": money(n["revenue_cents"]),
        "aov": money(divide_half_even(n["revenue_cents"], n["purchases"])),
        "cart_rate": ratio(n["add_to_carts"], n["page_views"]),
        "purchase_rate": ratio(n["purchases"], n["add_to_carts"]),
        "conversion_rate": ratio(n["purchases"], n["page_views"]),
        "final": _bool(doc, "final", where),
        "latency_ms": latency_view(doc.get("latency"), where),
        "watermark": iso(_time(doc, "watermark", where)),
        "written_at": iso(_time(doc, "written_at", where)),
    }
    return {f: view[f] for f in FIELDS}


def last_written(health: Mapping[str, Any]) -> datetime | None:
    """When the job last wrote its health document: a finished batch or an idle report.

    The job's freshness (``/health``, ``/metrics``): an idle but running job
    is fresh, and a replay of old data is not stale. None when neither is there.
    """
    times = [
        t for t in (health.get("last_batch_at"), health.get("idle_at")) if isinstance(t, datetime)
    ]
    if not times:
        return None
    return max(t if t.tzinfo else t.replace(tzinfo=UTC) for t in times)


def money(cents: int | None) -> str | None:
    """Integer cents as a decimal string with two places (``123450`` → ``"1234.50"``)."""
    if cents is None:
        return None
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def divide_half_even(numerator: int, denominator: int) -> int | None:
    """``numerator / denominator`` rounded half-even to an integer, exactly; None for 0."""
    if denominator == 0:
        return None
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    q, r = divmod(numerator, denominator)  # floor division: 0 <= r < denominator
    if 2 * r > denominator or (2 * r == denominator and q % 2):
        q += 1
    return q


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator`` rounded to 6 places; None for a zero denominator."""
    return None if denominator == 0 else round(numerator / denominator, 6)


def percent(rate: float | None, missing: str = "–") -> str:
    """``0.0512`` → ``"5.12%"``; a missing rate → ``missing``."""
    return missing if rate is None else f"{rate:.2%}"


def duration(ms: float | None, missing: str = "–") -> str:
    """Milliseconds as ``"840 ms"`` or ``"12.5 s"``; None → ``missing``."""
    if ms is None:
        return missing
    return f"{ms:,.0f} ms" if ms < 10_000 else f"{ms / 1000:,.1f} s"


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``; milliseconds only when present (naive means UTC)."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    spec = "seconds" if not utc.microsecond else "milliseconds"
    if utc.microsecond % 1000:
        spec = "microseconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def latency_view(hist: Any, where: str = "histogram") -> dict[str, float | int | None]:
    """``{"p50", "p95", "p99", "count"}`` from a stored histogram (missing means empty)."""
    if hist is None:
        hist = {}
    if not isinstance(hist, Mapping) or not all(_is_int(v) for v in hist.values()):
        msg = f"{where}: latency must map bucket names to counts, not {hist!r}"
        raise TerminalError(msg)
    try:
        quantiles = latency.percentiles(hist)
    except ValueError as e:
        msg = f"{where}: {e}"
        raise TerminalError(msg) from e
    return {**quantiles, "count": latency.count(hist)}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(doc: Mapping[str, Any], field: str, where: str) -> int:
    return int(_typed(doc, field, where, _is_int, "an integer"))


def _bool(doc: Mapping[str, Any], field: str, where: str) -> bool:
    return bool(_typed(doc, field, where, lambda v: isinstance(v, bool), "true or false"))


def _time(doc: Mapping[str, Any], field: str, where: str) -> datetime:
    value: datetime = _typed(doc, field, where, lambda v: isinstance(v, datetime), "a datetime")
    return value


def _typed(
    doc: Mapping[str, Any], field: str, where: str, ok: Callable[[Any], bool], expected: str
) -> Any:
    """``doc[field]``, or a ``TerminalError`` saying it is missing or not ``expected``."""
    if field not in doc:
        msg = f"{where} lacks {field!r}"
        raise TerminalError(msg)
    value = doc[field]
    if not ok(value):
        msg = f"{where}: {field} must be {expected}, not {value!r}"
        raise TerminalError(msg)
    return value
