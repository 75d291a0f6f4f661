"""The KPI API: one FastAPI application, run by uvicorn, on Lambda (mangum) and on Cloud Run.

``create_app`` wires settings to ports through ``app.bootstrap`` (lazily: the
hot store is opened by the first request that needs it, so a cold start or an
unreachable store never stops the app from answering ``/health``). Routes are
in ``app.api.routes``; the middleware stack, outermost first: request metrics
and access log, CORS, keys and rate limits.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from adapters.ports import Bus, HotStore
from app.alerts.figures import figures_with
from app.api import errors, routes
from app.api.deps import Dependencies
from app.api.guard import Guard
from app.api.metrics import ApiMetrics
from app.api.observe import Observe
from app.settings import Settings, get_settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Minute KPIs of the streamkit pipeline: the newest minute, ranges, the funnel,
closed-session statistics, health and Prometheus metrics. Definitions:
docs/kpis.md; money is a decimal string, rates are rounded to 6 places and null
on a zero denominator. When API keys are configured, send one in `X-API-Key`
(every endpoint but `/health`).
"""


def create_app(
    settings: Settings | None = None,
    *,
    hot_store: HotStore | None = None,
    bus: Bus | None = None,
) -> FastAPI:
    """The API, reading ``settings`` (default: the environment's)."""
    settings = settings or get_settings()
    settings.api.refuse_open(settings.env)
    deps = Dependencies(settings, hot_store, bus)
    metrics = ApiMetrics(
        deps.hot_store,
        lambda health: figures_with(
            settings, deps.hot_store(), deps.bus, datetime.now(UTC), health
        ),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        deps.close()

    app = FastAPI(
        title="streamkit KPI API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=errors.COMMON_RESPONSES,
    )
    app.state.deps = deps
    app.state.metrics = metrics
    errors.install(app)
    api = settings.api
    # The document must say what the app does: the key only when keys are set.
    app.include_router(routes.router, dependencies=[routes.API_KEY] if api.key_list() else [])
    app.include_router(routes.open_router)
    # add_middleware wraps: the last added runs first.
    app.add_middleware(
        Guard,
        keys=api.key_list(),
        rate_limit=api.rate_limit,
        auth_failure_limit=api.auth_failure_limit,
        proxy_hops=api.proxy_hops,
    )
    if origins := api.origin_list():
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET"],
            allow_headers=["X-API-Key"],
        )
    app.add_middleware(Observe, metrics=metrics)
    return app
