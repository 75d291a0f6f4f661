"""The alert figures now: read what they need, compute them (:mod:`app.alerts.observe`).

Shared by ``streamkit alerts`` and the API's ``/metrics``, so the loop and Prometheus see the
same numbers. Works while the hot store is down: the figures that need it are left out, and
the dependency check says it is down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from adapters.errors import StreamkitError
from adapters.ports import Bus, HotStore, OffsetsBus, PublishTimesBus
from app.alerts.engine import Observations
from app.alerts.observe import (
    dependency_figures,
    job_figures,
    kpi_figures,
    merge,
    waiting_offsets,
)
from app.api.health import check_health
from app.pipeline.documents import HEALTH, KPI_MINUTES
from app.settings import Settings

log = logging.getLogger(__name__)


def read_figures(
    settings: Settings, hot: HotStore, bus: Callable[[], Bus], now: datetime
) -> Observations:
    """Every figure a rule may compare, as of ``now``."""
    return figures_with(settings, hot, bus, now, read_health(hot))


def figures_with(
    settings: Settings,
    hot: HotStore,
    bus: Callable[[], Bus],
    now: datetime,
    health: Mapping[str, Any] | None,
) -> Observations:
    """The figures, given the job's health document already read (``/metrics`` reads it once)."""
    ends, oldest_ms = _bus_position(bus, health)
    return merge(
        _kpis(settings, hot, now),
        job_figures(health, now, ends, oldest_ms),
        _dependencies(settings, hot, bus),
    )


def read_health(hot: HotStore) -> dict[str, Any] | None:
    """The job's health document; None before the job reports or while the store is down."""
    try:
        return hot.latest(HEALTH, "job")
    except StreamkitError as e:
        log.warning("could not read the job's health document: %s", e)
        return None


def _kpis(settings: Settings, hot: HotStore, now: datetime) -> Observations:
    dashboard = settings.dashboard
    window = timedelta(minutes=dashboard.z_window_minutes)
    try:
        newest = hot.latest(KPI_MINUTES, "minute")
        if newest is None:
            return {}
        # The window ends at the newest minute, not at now: a replay of old data is judged
        # on its own times.
        minutes = hot.find_range(KPI_MINUTES, "minute", start=newest["minute"] - window)
    except StreamkitError as e:
        log.warning("alerts: could not read the minute documents: %s", e)
        return {}
    return kpi_figures(minutes, now, z_window=window, z_threshold=dashboard.z_threshold)


def _bus_position(
    bus: Callable[[], Bus], health: Mapping[str, Any] | None
) -> tuple[dict[int, int] | None, int | None]:
    """Where the events topic ends now, and when its oldest unread record was published.

    The publish time is epoch ms, of the oldest record the job has not read; each is None
    when the bus cannot say.
    """
    try:
        events = bus()
        if not isinstance(events, OffsetsBus):
            return None, None
        ends = events.end_offsets(timeout_s=5.0)
        waiting = waiting_offsets(health, ends)
        if not waiting or not isinstance(events, PublishTimesBus):
            return ends, None
        times = events.publish_times(waiting, timeout_s=5.0)
        return ends, min(times.values()) if times else None
    except StreamkitError as e:
        log.warning("could not read the bus's offsets: %s", e)
        return None, None


def _dependencies(settings: Settings, hot: HotStore, bus: Callable[[], Bus]) -> Observations:
    health = check_health(hot, bus, settings.api)
    return dependency_figures({name: check.status for name, check in health.checks.items()})
