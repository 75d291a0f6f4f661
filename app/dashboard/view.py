"""What the dashboard shows, worked out from the API's answers: pure functions, no Streamlit.

Kept apart from the page so each number and each word on it can be checked
without a browser, and so the page module only lays things out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from app.analytics.anomaly import score
from app.api.models import Anchor, CheckResult, Funnel, Health, MinuteKpis, SessionStats
from app.pipeline.documents import duration, percent

Level = Literal["ok", "warn", "fail", "skipped"]

MINUTE = timedelta(minutes=1)
#: How far ahead of the wall clock the event contract accepts an event time.
FUTURE_SKEW = timedelta(minutes=5)

#: Dead letters as a share of all records the job read: above these, amber and red.
#: The generator's default malformed share is 0.2 %; a few percent means a broken producer.
DEAD_LETTER_WARN, DEAD_LETTER_FAIL = 0.01, 0.05

#: The job writes at least every 10 s (a batch or an idle report); a minute without
#: either is what /health calls "warn" by default (STREAMKIT_API__FRESH_S = 60).
STOPPED_AFTER_S = 60.0


@dataclass(frozen=True)
class Tile:
    """One ``st.metric``: a stable label, the value as shown, and what it means."""

    label: str
    value: str
    help: str


@dataclass(frozen=True)
class Light:
    """One line of the health panel: green (ok), amber (warn), red (fail) or grey (skipped)."""

    name: str
    level: Level
    reason: str


@dataclass(frozen=True)
class Notice:
    """A state said in words above the tiles (no data, stale, nothing in range)."""

    level: Literal["info", "warning", "error"]
    text: str


@dataclass(frozen=True)
class Alert:
    """One flagged minute of one series."""

    minute: datetime
    metric: str
    value: str
    z: float
    baseline: str


def parse_time(text: str) -> datetime:
    """An API time (ISO 8601 with ``Z``) as an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


def current_minute(minutes: Sequence[MinuteKpis], now: datetime) -> tuple[MinuteKpis | None, bool]:
    """The minute the tiles show, and whether it is complete.

    The newest minute whose end the wall clock has passed: the newest stored one
    is usually still filling while traffic flows, and its half-counted events
    would make every tile dip at the start of each minute. When only a minute
    in progress exists (the job just started), that one, marked incomplete.
    A replay of old data has every minute in the past, so its newest is shown.
    """
    for minute in reversed(minutes):
        if parse_time(minute.minute) + MINUTE <= now:
            return minute, True
    started = [m for m in minutes if parse_time(m.minute) <= now]  # never one ahead of the clock
    return (started[-1], False) if started else (None, False)


def anchor_for(chosen: Anchor, latest: MinuteKpis | None, now: datetime) -> tuple[Anchor, str]:
    """The anchor to ask the API for, and why it differs from the ``chosen`` one ("" if not).

    "latest" anchors ranges on the newest stored minute. A minute ahead of the
    clock holds no events (the contract rejects them) but may hold dead letters:
    a record rejected for a future event time is counted in the minute of that
    time, and one such record would move every "latest" range years ahead. So
    ranges follow the wall clock then, and the page says why.
    """
    if chosen != "latest" or latest is None:
        return chosen, ""
    newest = parse_time(latest.minute)
    if newest <= now + FUTURE_SKEW:
        return chosen, ""
    return "now", (
        f"The newest stored minute, {clock(newest)}, is ahead of the clock (records with a "
        f"future event time, {latest.deadlettered:,} dead-lettered there); showing minutes up to "
        "now instead."
    )


def tiles(minute: MinuteKpis) -> list[Tile]:
    """The seven tiles of one minute, values formatted as shown (money exactly as the API's)."""
    rate = minute.conversion_rate
    return [
        Tile("Events/s", f"{minute.events / 60:,.1f}", "Valid, first, on-time events / 60."),
        Tile("Sessions", f"{minute.sessions:,}", "Distinct sessions with an event in the minute."),
        Tile("Revenue", minute.revenue, "Sum of price × quantity over purchases (exact)."),
        Tile("AOV", minute.aov or "–", "Average order value: revenue / purchases."),
        Tile("Conversion", percent(rate), "Purchases / page views."),
        Tile("P95 latency", duration(minute.latency_ms.p95), "End to end: ingest → hot store."),
        Tile("Dead letters/min", f"{minute.deadlettered:,}", "Records rejected by the contract."),
    ]


def notices(
    latest: MinuteKpis | None,
    shown: Sequence[MinuteKpis],
    health: Health | None,
    anchor: str,
    now: datetime,
) -> list[Notice]:
    """Empty and stale states, in words; nothing when all is well."""
    if latest is None:
        return [
            Notice(
                "info",
                "No data yet: the hot store holds no minute KPIs. Start the stream job and send "
                "traffic (`streamkit demo` does both).",
            )
        ]
    said = []
    stopped = _stopped(health)
    if stopped:
        said.append(Notice("warning", stopped))
    if not shown and anchor == "now":
        newest = parse_time(latest.minute)
        said.append(
            Notice(
                "info",
                f"No minutes in this wall-clock range; the newest stored minute is "
                f"{clock(newest)} ({ago((now - newest).total_seconds())} ago). Choose "
                "'Browse latest data' in the sidebar to see it.",
            )
        )
    return said


def _stopped(health: Health | None) -> str:
    check = health.checks.get("pipeline") if health else None
    if check is None or check.status not in ("warn", "fail"):
        return ""
    if check.age_s is None:
        return f"Pipeline has not reported: {check.detail}"
    if check.age_s < STOPPED_AFTER_S:
        return ""  # behind, not stopped: the health panel says why
    since = (
        f" (last batch at {clock(parse_time(check.last_batch_at))})" if check.last_batch_at else ""
    )
    return f"Pipeline stopped {ago(check.age_s)} ago{since}: no batch or idle report since."


def lights(
    api_ms: float | None, api_error: str, health: Health | None, funnel: Funnel | None
) -> list[Light]:
    """The health panel: API, hot store, bus, pipeline lag, dead-letter rate."""
    if api_ms is None:
        return [Light("API", "fail", api_error or "no answer")]
    found = [Light("API", "ok", f"answered /health in {api_ms:,.0f} ms")]
    checks = health.checks if health else {}
    for key, name in (("hot_store", "Hot store"), ("bus", "Bus")):
        found.append(_check_light(name, checks.get(key)))
    found.append(_pipeline_light(checks.get("pipeline")))
    found.append(dead_letter_light(funnel))
    return found


def _check_light(name: str, check: CheckResult | None) -> Light:
    if check is None:
        return Light(name, "warn", "not reported by /health")
    took = f" ({check.latency_ms:,.0f} ms)" if check.latency_ms is not None else ""
    return Light(name, _level(check.status), f"{check.detail}{took}")


def _pipeline_light(check: CheckResult | None) -> Light:
    if check is None:
        return Light("Pipeline lag", "warn", "not reported by /health")
    # The API's detail already names the age and the lag that decided the status.
    return Light("Pipeline lag", _level(check.status), check.detail)


def dead_letter_light(funnel: Funnel | None) -> Light:
    """Dead letters as a share of every record the job read in the funnel's range."""
    if funnel is None:
        return Light("Dead-letter rate", "skipped", "no funnel for the range")
    read = funnel.events + funnel.late_dropped + funnel.deadlettered
    if read == 0:
        return Light("Dead-letter rate", "skipped", "no records in the range")
    share = funnel.deadlettered / read
    level: Level = "ok"
    if share > DEAD_LETTER_FAIL:
        level = "fail"
    elif share > DEAD_LETTER_WARN:
        level = "warn"
    reason = f"{percent(share)} of {read:,} records ({funnel.deadlettered:,} dead-lettered)"
    return Light("Dead-letter rate", level, reason)


def _level(status: str) -> Level:
    return status if status in ("ok", "warn", "fail") else "skipped"  # type: ignore[return-value]


def alerts(
    minutes: Sequence[MinuteKpis],
    *,
    since: datetime,
    until: datetime,
    window: timedelta,
    threshold: float,
) -> list[Alert]:
    """Flagged minutes in ``[since, until)`` of conversion rate and event volume, newest first.

    Minutes before ``since`` serve as baseline only. A minute still in progress
    (``until`` is the end of the newest complete one) is never scored: its
    partial counts would read as a drop.
    """
    complete = [m for m in minutes if parse_time(m.minute) < until]
    series: dict[str, tuple[list[tuple[datetime, float | None]], Callable[[float | None], str]]]
    series = {
        "conversion rate": ([(parse_time(m.minute), m.conversion_rate) for m in complete], percent),
        "events/min": ([(parse_time(m.minute), float(m.events)) for m in complete], _count),
    }
    found = []
    for metric, (points, show) in series.items():
        for s in score(points, window=window, threshold=threshold):
            if s.flagged and s.at >= since and s.z is not None:
                baseline = f"{show(s.mean)} ± {show(s.std)} over {s.history} min"
                found.append(Alert(s.at, metric, show(s.value), s.z, baseline))
    return sorted(found, key=lambda a: (a.minute, a.metric), reverse=True)


def funnel_line(funnel: Funnel) -> str:
    """The funnel in words: each stage's count and its rate from the previous stage."""
    names = {"page_views": "Page views", "add_to_carts": "carts", "purchases": "purchases"}
    steps = []
    for stage in funnel.stages:
        rate = f" ({percent(stage.rate)})" if stage.rate is not None else ""
        steps.append(f"{names[stage.stage]} {stage.count:,}{rate}")
    return " → ".join(steps) + f" · conversion {percent(funnel.conversion_rate)}"


def sessions_line(stats: SessionStats) -> str:
    """Sessions closed in the range, in one line."""
    if not stats.sessions:
        return "No session closed in this range yet (a session closes 30 min after its last event)."
    minutes = (stats.avg_duration_s or 0) / 60
    return (
        f"Sessions closed: {stats.sessions:,} · converted {stats.converted:,} "
        f"({percent(stats.conversion_rate)}) · average {minutes:,.1f} min and "
        f"{stats.avg_events or 0:,.1f} events · revenue per session {stats.revenue_per_session}"
    )


def ago(seconds: float) -> str:
    """``"45 s"``, ``"12 min"``, ``"3.5 h"``, ``"2.0 days"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def clock(moment: datetime) -> str:
    """``2026-11-25 18:01 UTC``."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _count(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"
