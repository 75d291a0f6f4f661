"""Serve an ASGI app on a free local port from a background thread: a real HTTP server for tests.

    with serving(create_app(hot_store=store)) as url:
        httpx.get(f"{url}/health")

uvicorn runs in the thread with its own event loop; the context waits until it
listens and, on exit, asks it to stop and joins the thread, so no socket or
thread outlives the test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from app.serve import free_port

__all__ = ["closed_port_url", "free_port", "serving"]


def closed_port_url() -> str:
    """A URL where nothing answers: a port just freed, refused at once."""
    return f"http://127.0.0.1:{free_port()}"


@contextmanager
def serving(app: Any, timeout_s: float = 15.0) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 and a free port; yields the base URL (``http://127.0.0.1:P``)."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=5)
            msg = f"the test server did not start on port {port} within {timeout_s:g} s"
            raise RuntimeError(msg)
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout_s)
