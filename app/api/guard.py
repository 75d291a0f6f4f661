"""API keys and rate limits, in front of every route but ``/health``.

A pure ASGI middleware rather than a route dependency, so nothing escapes it:
the OpenAPI document, the docs page, ``/metrics`` and unknown paths (a scanner
learns nothing without a key). Keys are compared in constant time against
*every* configured key; they are never logged: a key is named by the first 8
hex characters of its sha256.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Sequence

import orjson
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

#: Paths open without a key: load balancers and uptime checks probe /health.
OPEN_PATHS = frozenset({"/health"})
HEADER = b"x-api-key"


def key_id(key: str) -> str:
    """A loggable name for ``key``: never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


class Guard:
    """Checks ``X-API-Key`` (when keys are set) and the per-caller rate limit."""

    def __init__(self, app: ASGIApp, *, keys: Sequence[str], rate_limit: str) -> None:
        """``rate_limit`` in the ``limits`` notation (``1200/minute``); empty disables it."""
        self.app = app
        self._keys = [k.encode() for k in keys]
        self._limit: RateLimitItem | None = parse(rate_limit) if rate_limit else None
        # Per process: behind Lambda or several replicas, the gateway's throttling
        # is the global limit (docs/api.md).
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse with 401 or 429, or pass the request on."""
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        presented = dict(scope["headers"]).get(HEADER, b"")
        if self._keys and not self._known(presented):
            message = "missing or unknown API key: send it in the X-API-Key header"
            await _refuse(send, 401, "unauthorized", message)
            return
        caller = f"key:{key_id(presented.decode('latin-1'))}" if self._keys else _address(scope)
        if self._limit is not None and not self._limiter.hit(self._limit, caller):
            reset, _ = self._limiter.get_window_stats(self._limit, caller)
            wait = max(1, math.ceil(reset - time.time()))
            message = f"rate limit of {self._limit} exceeded; retry in {wait} s"
            await _refuse(
                send, 429, "rate_limited", message, [(b"retry-after", str(wait).encode())]
            )
            return
        await self.app(scope, receive, send)

    def _known(self, presented: bytes) -> bool:
        # No early exit: the time taken must not tell which key (or how much of one) matched.
        found = False
        for key in self._keys:
            found |= hmac.compare_digest(presented, key)
        return found


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:unknown"


async def _refuse(
    send: Send,
    status: int,
    error: str,
    message: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    body = orjson.dumps({"error": error, "message": message, "details": []})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
