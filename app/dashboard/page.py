"""The dashboard page: a sidebar, then a fragment that re-reads the API every ``refresh_s``.

Only the fragment reruns on the timer (``st.fragment(run_every=…)``), so the
sidebar keeps its state and nothing ever sleeps. Each run makes five GETs
(``/health``, ``/kpis/latest``, ``/kpis``, ``/funnel``, ``/sessions``) and draws
what came back; when the API does not answer, the page says so and tries
again on the next tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from app.api.models import Alerts, Funnel, Health, KpiRange, MinuteKpis, SessionStats
from app.dashboard import charts
from app.dashboard.client import Anchor, ApiClient, ApiError, ApiUnavailable
from app.dashboard.view import (
    MINUTE,
    Alert,
    Light,
    Notice,
    alerts,
    anchor_for,
    clock,
    current_minute,
    funnel_line,
    lights,
    notices,
    parse_time,
    sessions_line,
    tiles,
)
from app.settings import DashboardSettings, get_settings

#: Seconds each GET may take: well under the refresh period, so ticks never pile up.
REQUEST_TIMEOUT_S = 5.0
#: The /kpis range cannot reach further back (docs/api.md).
MAX_MINUTES_BACK = 10_080
_TIME_MODES: dict[str, Anchor] = {"Browse latest data": "latest", "Follow wall clock": "now"}
_SHOWN = (15, 30, 60, 180, 360, 720, 1440)
_BOX = {"ok": st.success, "warn": st.warning, "fail": st.error, "skipped": st.info}
_WORD = {"ok": "OK", "warn": "Warning", "fail": "Failing", "skipped": "Not checked"}


@dataclass(frozen=True)
class Options:
    """What the sidebar chose."""

    anchor: Anchor
    shown_minutes: int


@dataclass
class Snapshot:
    """Everything one refresh read from the API (None where a read did not happen)."""

    api_ms: float | None = None
    api_error: str = ""
    health: Health | None = None
    latest: MinuteKpis | None = None
    kpis: KpiRange | None = None
    funnel: Funnel | None = None
    sessions: SessionStats | None = None
    anchor_note: str = ""
    error: str = ""
    alerts: Alerts | None = None
    alerts_error: str = ""


def main() -> None:
    """Draw the page; Streamlit runs this on every interaction, the fragment on its timer."""
    st.set_page_config(page_title="streamkit", page_icon=":material/monitoring:", layout="wide")
    settings = get_settings().dashboard
    options = _sidebar(settings)
    st.title("streamkit")
    st.fragment(run_every=settings.refresh_s)(_live)(options, settings)


def _sidebar(settings: DashboardSettings) -> Options:
    with st.sidebar:
        mode = st.radio(
            "Time",
            list(_TIME_MODES),
            key="time_mode",
            help="Browse latest data: ranges end just after the newest stored minute, so a "
            "replay of old data shows. Follow wall clock: ranges end now.",
        )
        shown = st.select_slider("Minutes shown", _SHOWN, value=60, key="shown_minutes")
        st.caption(
            f"API {settings.api_url} · refresh every {settings.refresh_s:g} s · anomalies at "
            f"|z| > {settings.z_threshold:g} against the trailing {settings.z_window_minutes} min"
        )
    return Options(_TIME_MODES[mode or "Browse latest data"], int(shown))


@st.cache_resource(show_spinner=False)
def _client(url: str, key: str) -> ApiClient:
    return ApiClient(url, key, timeout_s=REQUEST_TIMEOUT_S)


def fetch(client: ApiClient, options: Options, settings: DashboardSettings) -> Snapshot:
    """One refresh's reads; errors end up in the snapshot as words, never raised."""
    shot = Snapshot()
    try:
        shot.health, shot.api_ms = client.health()
    except (ApiUnavailable, ApiError) as e:
        shot.api_error = str(e)
        return shot
    # The range reaches a window further back than shown: the first minute shown
    # needs its trailing baseline for the anomaly rule.
    back = min(options.shown_minutes + settings.z_window_minutes, MAX_MINUTES_BACK)
    try:
        shot.latest = client.latest()
        anchor, shot.anchor_note = anchor_for(options.anchor, shot.latest, datetime.now(UTC))
        shot.kpis = client.kpis(back, anchor)
        shot.funnel = client.funnel(options.shown_minutes, anchor)
        shot.sessions = client.sessions(options.shown_minutes, anchor)
    except (ApiUnavailable, ApiError) as e:
        shot.error = str(e)
    try:  # on its own: an API without the route (older) must not blank the page
        shot.alerts = client.alerts()
    except (ApiUnavailable, ApiError) as e:
        shot.alerts_error = str(e)
    return shot


def _live(options: Options, settings: DashboardSettings) -> None:
    client = _client(settings.api_url, settings.api_key.get_secret_value())
    shot = fetch(client, options, settings)
    now = datetime.now(UTC)
    if shot.api_ms is None:
        st.error(shot.api_error)
        st.caption(f"Trying again every {settings.refresh_s:g} s ({clock(now)}).")
        _health_panel(lights(None, shot.api_error, None, None))
    elif shot.error or shot.kpis is None:
        # /health answered but a data read did not: its reason, and the checks that may explain it.
        st.error(shot.error)
        _health_panel(lights(shot.api_ms, "", shot.health, None))
    else:
        _data(shot, shot.kpis, options, settings, now)


def _data(
    shot: Snapshot, kpis: KpiRange, options: Options, settings: DashboardSettings, now: datetime
) -> None:
    """Everything below the title, from a refresh whose reads all succeeded."""
    since = parse_time(kpis.end) - timedelta(minutes=options.shown_minutes)
    shown = [m for m in kpis.minutes if parse_time(m.minute) >= since]
    if shot.anchor_note:
        st.warning(shot.anchor_note)
    for notice in notices(shot.latest, shown, shot.health, options.anchor, now):
        _notice(notice)
    current, complete = current_minute(shown, now)
    frame = charts.frame(shown)
    if current is not None:
        _tiles(current, complete, frame, now, settings)
    _health_panel(lights(shot.api_ms, "", shot.health, shot.funnel))
    _alerts_panel(shot.alerts, shot.alerts_error)
    if current is None:
        return
    start = parse_time(current.minute)
    found = alerts(
        kpis.minutes,  # the minutes before `since` are the first ones' baseline
        since=since,
        until=start + MINUTE if complete else start,  # never score a minute still filling
        window=timedelta(minutes=settings.z_window_minutes),
        threshold=settings.z_threshold,
    )
    _anomalies(found, settings)
    _funnel(shot.funnel, shot.sessions, options)
    _series(frame, found)


def _notice(notice: Notice) -> None:
    {"info": st.info, "warning": st.warning, "error": st.error}[notice.level](notice.text)


def _tiles(
    minute: MinuteKpis,
    complete: bool,
    frame: pd.DataFrame,
    now: datetime,
    settings: DashboardSettings,
) -> None:
    # A sparkline of the shown minutes under each tile.
    trends = {
        "Events/s": frame["events"] / 60,
        "Sessions": frame["sessions"],
        "Revenue": frame["revenue"],
        "AOV": frame["aov"],
        "Conversion": frame["conversion_rate"],
        "P95 latency": frame["p95"],
        "Dead letters/min": frame["deadlettered"],
    }
    # Two rows of four: seven tiles in one row truncate their values on a laptop screen.
    columns = [*st.columns(4), *st.columns(4)]
    for column, tile in zip(columns, tiles(minute), strict=False):
        data = [float(v) for v in trends[tile.label].dropna()] or None
        column.metric(tile.label, tile.value, help=tile.help, border=True, chart_data=data)
    state = "complete" if complete else "in progress"
    st.caption(
        f"Minute {clock(parse_time(minute.minute))} ({state}) · read at {now:%H:%M:%S} UTC, "
        f"every {settings.refresh_s:g} s"
    )


def _health_panel(found: list[Light]) -> None:
    st.subheader("Health")
    for column, light in zip(st.columns(5), found, strict=False):
        with column:
            _BOX[light.level](f"**{light.name}** · {_WORD[light.level]}  \n{light.reason}")


def _alerts_panel(found: Alerts | None, error: str) -> None:
    """The alert rules' state, as ``streamkit alerts`` last evaluated it."""
    st.subheader("Alerts")
    if found is None:
        st.caption(f"Alerts unavailable: {error}")
        return
    if found.evaluated_at is None:
        st.caption("No alert rounds yet: `streamkit alerts` evaluates the rules.")
        return
    firing = [a for a in found.active if a.state == "firing"]
    pending = [a for a in found.active if a.state == "pending"]
    for a in firing:
        where = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()))
        st.error(
            f"**{a.rule}**{f' ({where})' if where else ''} firing since "
            f"{clock(parse_time(a.fired_at or a.since))} · value {a.value:g}"
        )
    if not firing:
        st.success("No alert firing.")
    waiting = f"; pending: {', '.join(a.rule for a in pending)}" if pending else ""
    st.caption(f"Rules last evaluated {clock(parse_time(found.evaluated_at))}{waiting}.")


def _anomalies(found: list[Alert], settings: DashboardSettings) -> None:
    st.subheader("Anomalies")
    rule = f"|z| > {settings.z_threshold:g} against the trailing {settings.z_window_minutes} min"
    if not found:
        st.caption(f"No anomalies in conversion rate or event volume ({rule}).")
        return
    table = pd.DataFrame(
        [
            {
                "minute": clock(a.minute),
                "metric": a.metric,
                "value": a.value,
                "z": round(a.z, 1),
                "baseline": a.baseline,
            }
            for a in found
        ]
    )
    st.dataframe(table, hide_index=True, key="anomalies")
    st.caption(f"Flagged minutes, newest first ({rule}).")


def _funnel(funnel: Funnel | None, sessions: SessionStats | None, options: Options) -> None:
    st.subheader(f"Funnel, last {options.shown_minutes} min")
    left, right = st.columns([3, 2])
    if funnel is not None:
        left.altair_chart(charts.funnel_chart(funnel), width="stretch")
        left.markdown(funnel_line(funnel))
    if sessions is not None:
        right.markdown(sessions_line(sessions))


def _series(frame: pd.DataFrame, found: list[Alert]) -> None:
    st.subheader("Per minute")
    top_left, top_right = st.columns(2)
    top_left.markdown("**Events by type**")
    top_left.altair_chart(charts.events_chart(frame, found), width="stretch")
    top_right.markdown("**Revenue**")
    top_right.altair_chart(charts.line_chart(frame, "revenue", "revenue"), width="stretch")
    low_left, low_right = st.columns(2)
    low_left.markdown("**Conversion rate**")
    conversion = charts.line_chart(
        frame, "conversion_rate", "conversion", found, "conversion rate", percent=True
    )
    low_left.altair_chart(conversion, width="stretch")
    low_right.markdown("**End-to-end latency p50 / p95 / p99**")
    low_right.altair_chart(charts.latency_chart(frame), width="stretch")
