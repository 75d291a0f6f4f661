"""The figures the alert rules compare, computed from what the job stored.

Pure functions of documents and the time, so ``streamkit alerts`` and ``/metrics`` give
Prometheus and the loop the same numbers (docs/monitoring.md):

* ``streamkit_pipeline_latency_p95_seconds``: the newest minute's P95 end-to-end latency;
* ``streamkit_kpi_conversion_zscore_abs``: ``|z|`` of the newest minute's conversion rate
  against the trailing window, by the dashboard's rule (:mod:`app.analytics.anomaly`);
* ``streamkit_kpi_deadletter_share``: dead letters over all records of the newest minute
  (and ``streamkit_kpi_deadlettered``, ``streamkit_kpi_late_dropped``: its counts);
* ``streamkit_pipeline_newest_minute_age_seconds``: wall-clock time since the newest minute
  was last written: no new data in that long;
* ``streamkit_pipeline_consumer_lag_seconds``: while records wait (the bus's end offsets
  now against the job's, or the job's own count), how old the oldest waiting record is;
* ``streamkit_dependency_up``: 1 or 0 per dependency ``/health`` checks.

A figure that cannot be computed (no minute yet, too short a history) is left out, so its
rule neither fires nor stays firing on stale numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from app.alerts.engine import Labels, Observations
from app.analytics.anomaly import score
from app.pipeline.documents import last_written, latency_view, ratio

LATENCY_P95 = "streamkit_pipeline_latency_p95_seconds"
CONVERSION_Z = "streamkit_kpi_conversion_zscore_abs"
DEADLETTER_SHARE = "streamkit_kpi_deadletter_share"
#: Not compared by a rule: the newest minute's counts, for dashboards.
DEADLETTERED = "streamkit_kpi_deadlettered"
LATE_DROPPED = "streamkit_kpi_late_dropped"
NEWEST_MINUTE_AGE = "streamkit_pipeline_newest_minute_age_seconds"
CONSUMER_LAG = "streamkit_pipeline_consumer_lag_seconds"
DEPENDENCY_UP = "streamkit_dependency_up"


def kpi_figures(
    minutes: Sequence[Mapping[str, Any]],
    now: datetime,
    *,
    z_window: timedelta = timedelta(minutes=60),
    z_threshold: float = 3.0,
) -> Observations:
    """Figures from the minute documents of the trailing window (any order)."""
    if not minutes:
        return {}
    ordered = sorted(minutes, key=lambda d: d["minute"])
    newest = ordered[-1]
    figures: dict[str, dict[Labels, float]] = {}
    p95 = latency_view(newest.get("latency"))["p95"]
    if p95 is not None:
        figures[LATENCY_P95] = {(): float(p95) / 1000}
    records = newest["events"] + newest["late_dropped"] + newest["deadlettered"]
    if records:
        figures[DEADLETTER_SHARE] = {(): newest["deadlettered"] / records}
    figures[DEADLETTERED] = {(): float(newest["deadlettered"])}
    figures[LATE_DROPPED] = {(): float(newest["late_dropped"])}
    written = newest.get("written_at")
    if isinstance(written, datetime):
        figures[NEWEST_MINUTE_AGE] = {(): max(0.0, (now - written).total_seconds())}
    rates = [(d["minute"], _conversion(d)) for d in ordered]
    last = score(rates, window=z_window, threshold=z_threshold)[-1]
    if last.z is not None:
        figures[CONVERSION_Z] = {(): abs(last.z)}
    return figures


def _conversion(doc: Mapping[str, Any]) -> float | None:
    return ratio(doc["purchases"], doc["page_views"])


def job_figures(
    health: Mapping[str, Any] | None,
    now: datetime,
    bus_ends: Mapping[int, int] | None = None,
    oldest_waiting_ms: int | None = None,
) -> Observations:
    """Consumer lag in seconds from the job's health document (none before it reports).

    Records wait when the bus's end offsets now are past the job's (or, when the bus cannot
    say, by the job's own count). The lag is then how old the oldest waiting record is:
    ``oldest_waiting_ms``, its publish time, when the bus can say (Kafka); else the time since
    the job was last caught up (the start of its last batch that read everything, or its
    last idle report), which bounds that age from above; else, from a job that wrote
    neither, the time since it last wrote. It grows while the job is stopped.
    """
    if not health:
        return {}
    lag = _backlog(health, bus_ends)
    last = last_written(health)
    if lag is None or last is None:
        return {}
    if lag <= 0:
        return {CONSUMER_LAG: {(): 0.0}}
    if oldest_waiting_ms is not None:
        since = datetime.fromtimestamp(oldest_waiting_ms / 1000, UTC)
    elif isinstance(caught_up := health.get("caught_up_at"), datetime):
        since = caught_up if caught_up.tzinfo else caught_up.replace(tzinfo=UTC)
    else:
        since = last
    return {CONSUMER_LAG: {(): max(0.0, (now - since).total_seconds())}}


def job_offsets(health: Mapping[str, Any] | None) -> dict[int, int] | None:
    """The offset each partition's next unread record has, from the job's health document."""
    ends = (health or {}).get("end_offsets")
    if not isinstance(ends, Mapping) or not ends:
        return None
    try:
        return {int(p): int(o) for p, o in ends.items()}
    except (TypeError, ValueError):
        return None


def waiting_offsets(
    health: Mapping[str, Any] | None, bus_ends: Mapping[int, int] | None
) -> dict[int, int] | None:
    """Per partition with records the job has not read, the offset of the oldest of them.

    None when either side's offsets are unknown (a bus that cannot say, an older job).
    """
    done = job_offsets(health)
    if not bus_ends or done is None:
        return None
    return {p: done.get(p, 0) for p, end in bus_ends.items() if end > done.get(p, 0)}


def _backlog(health: Mapping[str, Any], bus_ends: Mapping[int, int] | None) -> int | None:
    """Records behind the end of the bus: counted now when both offsets are known."""
    waiting = waiting_offsets(health, bus_ends)
    if waiting is not None and bus_ends:
        return sum(bus_ends[p] - offset for p, offset in waiting.items())
    lag = health.get("lag_records")
    return lag if isinstance(lag, int) and not isinstance(lag, bool) else None


def dependency_figures(checks: Mapping[str, str]) -> Observations:
    """``/health``'s dependency checks (``ok``/``fail``; ``skipped`` left out) as up 1/0."""
    series: dict[Labels, float] = {
        (("dependency", name),): 1.0 if status == "ok" else 0.0
        for name, status in sorted(checks.items())
        if name in {"hot_store", "bus"} and status in {"ok", "fail"}
    }
    return {DEPENDENCY_UP: series} if series else {}


def merge(*parts: Observations) -> Observations:
    """One set of observations from several sources (their metrics do not overlap)."""
    merged: dict[str, Mapping[Labels, float]] = {}
    for part in parts:
        merged.update(part)
    return merged
