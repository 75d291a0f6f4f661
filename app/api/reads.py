"""What each read endpoint computes from the hot store: ranges of minutes, sums, session stats.

Everything derived (money, rates, AOV) goes through the functions of
``app.pipeline.documents``, so the API, the CLI and docs/kpis.md cannot
disagree. Sums are over stored counts; rates come from the sums, never from
averaging per-minute rates.

Reads go through a ``ReadCache`` keyed on the minute grid: ``[start, end)``
selects the same minute documents as ``[ceil(start), ceil(end))`` (minutes
start on the minute), so every request within one minute of a
``minutes_back`` range shares one cached read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from adapters.errors import TerminalError
from adapters.ports import HotStore
from app.api.cache import ReadCache
from app.api.models import Funnel, FunnelStage, KpiRange, MinuteKpis, SessionStats
from app.api.ranges import Window
from app.pipeline.documents import (
    COUNTS,
    KPI_MINUTES,
    SESSION_MINUTES,
    SESSION_SUMS,
    divide_half_even,
    iso,
    minute_view,
    money,
    ratio,
)

#: How far ahead of the wall clock a minute may lie and still be "latest".
_FUTURE = timedelta(minutes=5)
#: How long before a minute ends its successor's range is loaded.
_PREFETCH = timedelta(seconds=5)

#: Encodes the minutes of a ``KpiRange`` (its other fields are encoded per request).
_MINUTE_LIST = TypeAdapter(list[MinuteKpis])

#: The counts a funnel sums: every stored count, and revenue.
_FUNNEL_SUMS = (*COUNTS, "revenue_cents")


async def newest_minute(store: HotStore, cache: ReadCache) -> datetime | None:
    """The newest stored minute's start, or None when there is none."""
    doc = await _latest_doc(store, cache)
    return None if doc is None else _minute(doc)


async def latest(store: HotStore, cache: ReadCache) -> MinuteKpis | None:
    """The newest minute document in the API's shape, or None."""
    doc = await _latest_doc(store, cache)
    return None if doc is None else MinuteKpis(**minute_view(doc))


async def kpi_range_json(store: HotStore, cache: ReadCache, window: Window) -> bytes:
    """The ``KpiRange`` of ``window`` as JSON, minutes earliest first.

    The busiest read (dashboards poll it), and up to 7 days of minutes: the
    minutes are validated and encoded once per cached read, not per request;
    only the range's own bounds are encoded each time.
    """

    def load_minutes(start: datetime, end: datetime) -> tuple[int, bytes]:
        docs = store.find_range(KPI_MINUTES, "minute", start, end)
        minutes = [MinuteKpis(**minute_view(doc)) for doc in docs]
        return len(minutes), _MINUTE_LIST.dump_json(minutes)

    def load() -> tuple[int, bytes]:
        return load_minutes(*_grid(window))

    count, minutes = await cache.get(("kpis", *_grid(window)), load)
    _prefetch_next_minute(cache, "kpis", window, load_minutes)
    bounds = KpiRange(**_bounds(window), count=count, minutes=[])
    head = bounds.model_dump_json(exclude={"minutes"}).encode()
    return head[:-1] + b',"minutes":' + minutes + b"}"  # "minutes" is KpiRange's last field


async def funnel(store: HotStore, cache: ReadCache, window: Window) -> Funnel:
    """Counts summed over ``window``; rates and AOV from the sums."""

    def load_sums(start: datetime, end: datetime) -> tuple[int, dict[str, int]]:
        docs = store.find_range(KPI_MINUTES, "minute", start, end)
        return len(docs), _sums(docs, _FUNNEL_SUMS)

    def load() -> tuple[int, dict[str, int]]:
        return load_sums(*_grid(window))

    count, n = await cache.get(("funnel", *_grid(window)), load)
    _prefetch_next_minute(cache, "funnel", window, load_sums)
    views, carts, buys = n["page_views"], n["add_to_carts"], n["purchases"]
    stages = [
        FunnelStage(stage="page_views", count=views, rate=None),
        FunnelStage(stage="add_to_carts", count=carts, rate=ratio(carts, views)),
        FunnelStage(stage="purchases", count=buys, rate=ratio(buys, carts)),
    ]
    return Funnel(
        **_bounds(window),
        minutes=count,
        **{f: n[f] for f in _FUNNEL_SUMS if f != "revenue_cents"},
        revenue=money(n["revenue_cents"]) or "0.00",
        aov=money(divide_half_even(n["revenue_cents"], buys)),
        cart_rate=ratio(carts, views),
        purchase_rate=ratio(buys, carts),
        conversion_rate=ratio(buys, views),
        stages=stages,
    )


async def session_stats(store: HotStore, cache: ReadCache, window: Window) -> SessionStats:
    """Sessions closed in ``window`` (by end minute), from the per-minute sums."""

    def load_sums(start: datetime, end: datetime) -> dict[str, int]:
        return _sums(store.find_range(SESSION_MINUTES, "minute", start, end), SESSION_SUMS)

    def load() -> dict[str, int]:
        return load_sums(*_grid(window))

    n = await cache.get(("sessions", *_grid(window)), load)
    _prefetch_next_minute(cache, "sessions", window, load_sums)
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


async def _latest_doc(store: HotStore, cache: ReadCache) -> dict[str, Any] | None:
    """The newest minute up to 5 minutes ahead of now (the contract's future limit).

    Older jobs counted records refused for a future event time in that future
    minute; such a document must not become "latest".
    """

    def load() -> dict[str, Any] | None:
        horizon = datetime.now(UTC) + _FUTURE
        docs = store.find_range(KPI_MINUTES, "minute", None, horizon, limit=1, descending=True)
        return docs[0] if docs else None

    return await cache.get(("latest",), load)


def _prefetch_next_minute(
    cache: ReadCache, kind: str, window: Window, load: Callable[[datetime, datetime], Any]
) -> None:
    """Near the end of a minute, load the range a wall-clock request will ask for next.

    A ``minutes_back`` range moves to a new key on every minute; without this,
    the first requests of each minute would all wait for one store read.
    """
    if not window.rolling or datetime.now(UTC) < _ceil_minute(window.end) - _PREFETCH:
        return
    start, end = (t + timedelta(minutes=1) for t in _grid(window))
    cache.prefetch((kind, start, end), lambda: load(start, end))


def _grid(window: Window) -> tuple[datetime, datetime]:
    """``window`` with both bounds rounded up to the minute: the same minutes, a shared key."""
    return _ceil_minute(window.start), _ceil_minute(window.end)


def _ceil_minute(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


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
