"""Request metrics, a request id and one access-log line per request.

Outermost middleware, so it also sees the answers of the guard (401, 429).
The log line names method, route template, status and milliseconds: never
query strings or headers, which could carry a key.
"""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.metrics import ApiMetrics

log = logging.getLogger("app.api.access")

#: The label of requests that matched no route (scanners, typos).
UNMATCHED = "<unmatched>"


class Observe:
    """Times each HTTP request and records it by route template."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        """``metrics`` receives one observation per answered request."""
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; record how it was answered."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", UNMATCHED)
            self.metrics.observe(scope["method"], route, status, seconds)
            log.info(
                "%s %s %d %.1f ms [%s]", scope["method"], route, status, seconds * 1000, request_id
            )
