"""``streamkit api``: serve the KPI API with uvicorn."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from adapters.urls import mask_url
from app.cli.output import echo, fail_on_error
from app.cli.wiring import hot_store, load_settings


@fail_on_error
def api(
    host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0 for every interface).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (rate limits are per process).")
    ] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Log one line per request (method, route, status, ms).")
    ] = False,
) -> None:
    """Serve the KPI API: /kpis/latest, /kpis, /funnel, /sessions, /health, /metrics, /docs.

    Reads STREAMKIT_HOT_STORE_URL; /health also pings STREAMKIT_BUS_URL.

    Keys, rate limit, CORS: STREAMKIT_API__KEYS, __RATE_LIMIT, __CORS_ORIGINS (docs/api.md).
    """
    try:
        import uvicorn
    except ImportError:
        msg = "the API needs its extra: pip install 'streamkit[api]'"
        raise typer.BadParameter(msg) from None
    if access_log:
        logging.getLogger("app.api.access").setLevel(logging.INFO)
    settings = load_settings()
    settings.api.refuse_open(settings.env)  # before uvicorn: one error, not one per worker
    # The app opens the store on the first request: check its URL now, not in every response.
    hot_store(settings).close()
    keys = len(settings.api.key_list())
    echo(
        f"serving the KPI API on http://{host}:{port} (docs at /docs) · hot store "
        f"{mask_url(settings.hot_store_url.get_secret_value())} · "
        f"{f'{keys} API key(s)' if keys else 'no API keys (open)'} · "
        f"rate limit {settings.api.rate_limit or 'off'}"
    )
    uvicorn.run(
        "app.api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        # Our own access log (app.api.access) never shows query strings or headers.
        log_config=None,
    )
