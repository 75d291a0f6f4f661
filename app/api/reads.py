"""What each read endpoint computes from the hot store: ranges of minutes, sums, session stats.

Everything derived (money, rates, AOV) goes through the functions of
``app.pipeline.documents``, so the API, the CLI and docs/kpis.md cannot
disagree. Sums are over stored counts; rates come from the sums, never from
averaging per-minute rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from adapters.errors import TerminalError
from adapters.ports import HotStore
from app.api.models import Funnel, FunnelStage, KpiRange, MinuteKpis, SessionStats
from app.api.ranges import Window
from app.pipeline.documents import (
    KPI_MINUTES,
    SESSION_MINUTES,
    SESSION_SUMS,
    divide_half_even,
    iso,
    minute_view,
    money,
    ratio,
)

#: The counts a funnel sums.
_FUNNEL_SUMS = (
    "page_views",
    "add_to_carts",
    "purchases",
    "remove_from_carts",
    "events",
    "sessions",
    "late_dropped",
    "deadlettered",
    "revenue_cents",
)


def newest_minute(store: HotStore) -> datetime | None:
    """The newest stored minute's start, or None when there is none."""
    doc = store.latest(KPI_MINUTES, "minute")
    return None if doc is None else _minute(doc)


def latest(store: HotStore) -> MinuteKpis | None:
    """The newest minute document in the API's shape, or None."""
    doc = store.latest(KPI_MINUTES, "minute")
    return None if doc is None else MinuteKpis(**minute_view(doc))


def kpi_range(store: HotStore, window: Window) -> KpiRange:
    """The minute documents of ``window``, earliest first."""
    docs = store.find_range(KPI_MINUTES, "minute", window.start, window.end)
    minutes = [MinuteKpis(**minute_view(doc)) for doc in docs]
    return KpiRange(**_bounds(window), count=len(minutes), minutes=minutes)


def funnel(store: HotStore, window: Window) -> Funnel:
    """Counts summed over ``window``; rates and AOV from the sums."""
    docs = store.find_range(KPI_MINUTES, "minute", window.start, window.end)
    n = _sums(docs, _FUNNEL_SUMS)
    views, carts, buys = n["page_views"], n["add_to_carts"], n["purchases"]
    stages = [
        FunnelStage(stage="page_views", count=views, rate=None),
        FunnelStage(stage="add_to_carts", count=carts, rate=ratio(carts, views)),
        FunnelStage(stage="purchases", count=buys, rate=ratio(buys, carts)),
    ]
    return Funnel(
        **_bounds(window),
        minutes=len(docs),
        **{f: n[f] for f in _FUNNEL_SUMS if f != "revenue_cents"},
        revenue=money(n["revenue_cents"]) or "0.00",
        aov=money(divide_half_even(n["revenue_cents"], buys)),
        cart_rate=ratio(carts, views),
        purchase_rate=ratio(buys, carts),
        conversion_rate=ratio(buys, views),
        stages=stages,
    )


def session_stats(store: HotStore, window: Window) -> SessionStats:
    """Sessions closed in ``window`` (by end minute), from the per-minute sums."""
    docs = store.find_range(SESSION_MINUTES, "minute", window.start, window.end)
    n = _sums(docs, SESSION_SUMS)
    count = n["sessions"]
    per_session = divide_half_even(n["revenue_cents"], count)
    return SessionStats(
        **_bounds(window),
        sessions=count,
        converted=n["converted"],
        conversion_rate=ratio(n["converted"], count),
        avg_duration_s=None if not count else round(n["duration_ms"] / count / 1000, 3),
        avg_events=ratio(n["events"], count),
        revenue=money(n["revenue_cents"]) or "0.00",
        revenue_per_session=money(per_session),
    )


def _bounds(window: Window) -> dict[str, Any]:
    return {"start": iso(window.start), "end": iso(window.end), "anchor": window.anchor}


def _sums(docs: Iterable[Mapping[str, Any]], fields: Iterable[str]) -> dict[str, int]:
    """Field-wise sums; a missing field counts 0, a non-integer one is a stored-data error."""
    names = tuple(fields)
    totals = dict.fromkeys(names, 0)
    for doc in docs:
        for f in names:
            value = doc.get(f, 0)
            if not isinstance(value, int) or isinstance(value, bool):
                msg = (
                    f"stored document {doc.get('minute')!s}: {f} must be an integer, not {value!r}"
                )
                raise TerminalError(msg)
            totals[f] += value
    return totals


def _minute(doc: Mapping[str, Any]) -> datetime:
    value = doc.get("minute")
    if not isinstance(value, datetime):
        msg = f"stored minute document has no datetime 'minute': {value!r}"
        raise TerminalError(msg)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
