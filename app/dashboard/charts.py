"""The dashboard's Altair charts, built from the API's minute documents.

Times are plotted in UTC (Vega-Lite would otherwise use the browser's zone,
and the API, the CLI and the alerts all speak UTC). Revenue becomes a float
here only to be drawn; every number printed on the page stays exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import altair as alt
import pandas as pd

from app.api.models import Funnel
from app.dashboard.view import Alert, parse_time
from app.pipeline.documents import MinuteKpis

#: Minutes between time-axis ticks: the first step that keeps an axis to about 8 ticks.
_TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)
_EVENT_TYPES = {
    "page_views": "page view",
    "add_to_carts": "add to cart",
    "remove_from_carts": "remove from cart",
    "purchases": "purchase",
}
_COUNTS = (*_EVENT_TYPES, "deadlettered")
_HEIGHT = 220


def frame(minutes: Sequence[MinuteKpis]) -> pd.DataFrame:
    """One row per minute: counts, money (floats, for drawing), rates and latency percentiles."""
    rows: list[dict[str, Any]] = []
    for m in minutes:
        rows.append(
            {
                "minute": parse_time(m.minute),
                **{name: getattr(m, name) for name in (*_COUNTS, "events", "sessions")},
                "revenue": float(Decimal(m.revenue)),
                "aov": None if m.aov is None else float(Decimal(m.aov)),
                "conversion_rate": m.conversion_rate,
                "p50": m.latency_ms.p50,
                "p95": m.latency_ms.p95,
                "p99": m.latency_ms.p99,
            }
        )
    return pd.DataFrame(rows)


def _x(data: pd.DataFrame) -> alt.X:
    """The time axis in UTC, its ticks on whole minutes.

    The tick times are given explicitly: left to itself, Vega puts several
    ticks in one minute over a short range, each labelled "18:01" (and its
    ``tickCount`` interval form fails on a UTC scale in the Vega that Streamlit
    ships).
    """
    first, last = (data["minute"].min(), data["minute"].max()) if len(data) else (None, None)
    values: list[alt.DateTime] = []
    if first is not None:
        span = (last - first).total_seconds() / 60
        step = next((s for s in _TICK_STEPS if span / s <= 8), _TICK_STEPS[-1])
        ticks = pd.date_range(first.ceil(f"{step}min"), last, freq=f"{step}min")
        values = [_utc(t) for t in ticks]
    axis = alt.Axis(format="%H:%M", values=values) if values else alt.Axis(format="%H:%M")
    return alt.X("minute:T", title="minute (UTC)", scale=alt.Scale(type="utc"), axis=axis)


def _utc(moment: pd.Timestamp) -> alt.DateTime:
    return alt.DateTime(
        year=moment.year,
        month=moment.month,
        date=moment.day,
        hours=moment.hour,
        minutes=moment.minute,
        utc=True,
    )


def funnel_chart(funnel: Funnel) -> alt.LayerChart:
    """Horizontal bars page views → carts → purchases, each labelled with its count and rate."""
    names = {"page_views": "page views", "add_to_carts": "carts", "purchases": "purchases"}
    data = pd.DataFrame(
        [
            {
                "stage": names[s.stage],
                "count": s.count,
                "label": f"{s.count:,}" + ("" if s.rate is None else f" ({s.rate:.1%})"),
            }
            for s in funnel.stages
        ]
    )
    order = list(names.values())
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("stage:N", sort=order, title=None),
            x=alt.X("count:Q", title="events"),
            tooltip=["stage", "count", "label"],
        )
    )
    text = bars.mark_text(align="left", dx=4).encode(text="label:N")
    chart: alt.LayerChart = (bars + text).properties(height=150)  # mark_* are typed Any
    return chart


def events_chart(data: pd.DataFrame, alerts: Sequence[Alert]) -> alt.LayerChart:
    """Events per minute by type, with flagged minutes of the volume marked in red."""
    long = data.melt("minute", list(_EVENT_TYPES), var_name="type", value_name="count")
    long["type"] = long["type"].map(_EVENT_TYPES)
    lines = (
        alt.Chart(long)
        .mark_line()
        .encode(x=_x(data), y=alt.Y("count:Q", title="events / min"), color="type:N")
    )
    marks = _flagged(data, alerts, "events/min", "events")
    chart: alt.LayerChart = (lines + marks).properties(height=_HEIGHT)
    return chart


def line_chart(
    data: pd.DataFrame,
    column: str,
    title: str,
    alerts: Sequence[Alert] = (),
    metric: str = "",
    percent: bool = False,
) -> alt.LayerChart:
    """One series over time, with its flagged minutes (``metric``) marked in red."""
    axis = alt.Axis(format="%") if percent else alt.Axis()
    line = (
        alt.Chart(data)
        .mark_line(point=False)
        .encode(x=_x(data), y=alt.Y(f"{column}:Q", title=title, axis=axis))
    )
    chart: alt.LayerChart = (line + _flagged(data, alerts, metric, column)).properties(
        height=_HEIGHT
    )
    return chart


def latency_chart(data: pd.DataFrame) -> alt.Chart:
    """p50, p95 and p99 of end-to-end latency (ms, log scale: they span decades)."""
    long = data.melt("minute", ["p50", "p95", "p99"], var_name="percentile", value_name="ms")
    long = long.dropna(subset=["ms"])
    chart: alt.Chart = (
        alt.Chart(long)
        .mark_line()
        .encode(
            x=_x(data),
            y=alt.Y("ms:Q", title="latency (ms)", scale=alt.Scale(type="log")),
            color="percentile:N",
        )
        .properties(height=_HEIGHT)
    )
    return chart


def _flagged(data: pd.DataFrame, alerts: Sequence[Alert], metric: str, column: str) -> alt.Chart:
    """Red points on the minutes of ``alerts`` for ``metric`` (an empty layer when none)."""
    flagged = {a.minute for a in alerts if a.metric == metric}
    points = data[data["minute"].isin(flagged)] if flagged else data.iloc[0:0]
    chart: alt.Chart = (
        alt.Chart(points)
        .mark_point(color="red", size=90, filled=True)
        .encode(x=_x(data), y=f"{column}:Q", tooltip=["minute:T", f"{column}:Q"])
    )
    return chart
