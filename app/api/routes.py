"""The endpoints. Thin: parameters in, ``app.api.reads`` / ``app.api.health`` out.

The data routes are ``async``: a cached read is answered on the event loop,
and a store read runs in the executor while its waiters hold no thread
(``app.api.cache``). /health and /metrics are plain ``def``, run in FastAPI's
thread pool: their checks block on the clients.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adapters.ports import HotStore
from app.alerts.store import AlertStore
from app.api import reads
from app.api.cache import ReadCache
from app.api.deps import deps_of
from app.api.health import check_health
from app.api.models import (
    ActiveAlert,
    AlertEvent,
    Alerts,
    ErrorBody,
    Funnel,
    Health,
    KpiRange,
    MinuteKpis,
    SessionStats,
)
from app.api.ranges import AlertsQuery, FunnelQuery, RangeQuery, Window, needs_newest, resolve
from app.pipeline.documents import iso

#: Declares the key header in the OpenAPI document (the "Authorize" button of
#: /docs) when keys are configured; the check itself is app.api.guard, which
#: also covers /docs and unknown paths.
API_KEY = Security(APIKeyHeader(name="X-API-Key", description="One of STREAMKIT_API__KEYS."))

#: The data and metrics routes: behind the key when keys are configured.
router = APIRouter()
#: Routes open to anyone: load balancers probe /health.
open_router = APIRouter()


@router.get(
    "/kpis/latest",
    response_model=MinuteKpis,
    responses={404: {"model": ErrorBody, "description": "No minute stored yet."}},
    tags=["kpis"],
)
async def kpis_latest(request: Request) -> MinuteKpis:
    """The newest minute's KPIs (it may still be open: see `final`)."""
    deps = deps_of(request)
    minute = await reads.latest(deps.hot_store(), deps.cache)
    if minute is None:
        raise HTTPException(404, "no minute stored yet: is the stream job running?")
    return minute


@router.get("/kpis", response_model=KpiRange, tags=["kpis"])
async def kpis(request: Request, query: Annotated[RangeQuery, Query()]) -> Response:
    """Minute documents of a range, earliest first (default: the last 60 minutes)."""
    store, cache = deps_of(request).hot_store(), deps_of(request).cache
    body = await reads.kpi_range_json(store, cache, await _window(store, cache, query))
    return Response(body, media_type="application/json")  # already a KpiRange, encoded


@router.get("/funnel", response_model=Funnel, tags=["kpis"])
async def funnel(request: Request, query: Annotated[FunnelQuery, Query()]) -> Funnel:
    """Page views → carts → purchases summed over a range (default 5 minutes); rates of the sums."""
    store, cache = deps_of(request).hot_store(), deps_of(request).cache
    return await reads.funnel(store, cache, await _window(store, cache, query))


@router.get("/sessions", response_model=SessionStats, tags=["kpis"])
async def sessions(request: Request, query: Annotated[RangeQuery, Query()]) -> SessionStats:
    """Statistics of the sessions closed in a range, by the minute of their last event."""
    store, cache = deps_of(request).hot_store(), deps_of(request).cache
    return await reads.session_stats(store, cache, await _window(store, cache, query))


async def _window(store: HotStore, cache: ReadCache, query: RangeQuery) -> Window:
    newest = await reads.newest_minute(store, cache) if needs_newest(query) else None
    return resolve(query, newest)


@open_router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The stream job has stopped reporting."}},
    tags=["operations"],
)
def health(request: Request) -> Any:
    """Each dependency with status and latency: 503 when the job stopped reporting, else 200.

    A dependency that does not answer makes the service ``degraded`` (200): see
    :func:`app.api.health.overall`.
    """
    deps = deps_of(request)
    result = deps.health.get(lambda: check_health(deps.hot_store(), deps.bus, deps.settings.api))
    status = 503 if result.status == "unhealthy" else 200
    return JSONResponse(result.model_dump(), status_code=status)


@router.get("/alerts", response_model=Alerts, tags=["operations"])
def alerts(request: Request, query: Annotated[AlertsQuery, Query()]) -> Alerts:
    """Active alerts as `streamkit alerts` last evaluated them, and recent transitions."""
    store = AlertStore(deps_of(request).hot_store())
    evaluated_at, active = store.active()
    since = datetime.now(UTC) - timedelta(hours=query.hours)
    return Alerts(
        evaluated_at=iso(evaluated_at) if evaluated_at else None,
        active=[
            ActiveAlert(
                rule=a["rule"],
                labels=a.get("labels") or {},
                state=a["state"],
                since=iso(a["since"]),
                fired_at=iso(a["fired_at"]) if a.get("fired_at") else None,
                value=a["value"],
            )
            for a in active
        ],
        recent=[
            AlertEvent(**{k: e[k] for k in AlertEvent.model_fields if k != "at"}, at=iso(e["at"]))
            for e in store.recent(since, query.limit)
        ],
    )


@router.get(
    "/metrics",
    response_class=Response,
    tags=["operations"],
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
def metrics(request: Request) -> Response:
    """Prometheus exposition: request counts and latencies, and the pipeline's health figures."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
