"""API keys and rate limits, in front of every route but ``/health``.

A pure ASGI middleware rather than a route dependency, so nothing escapes it:
the OpenAPI document, the docs page, ``/metrics`` and unknown paths (a scanner
learns nothing without a key). Keys are compared in constant time against
*every* configured key; they are never logged: a key is named by the first 8
hex characters of its sha256.

Requests with a missing or unknown key have a budget of their own per client
address (``auth_failure_limit``), so guessing keys is slow. The client address
is the connection's, or, behind proxies that append to ``X-Forwarded-For``, the
entry the nearest trusted proxy wrote (``proxy_hops`` from the right): the
entries left of it are whatever the client sent.
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

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: Sequence[str],
        rate_limit: str,
        auth_failure_limit: str = "",
        proxy_hops: int = 0,
    ) -> None:
        """Limits in the ``limits`` notation (``1200/minute``); empty disables one.

        ``rate_limit`` is per key (per client address without keys);
        ``auth_failure_limit`` counts a client address's requests refused for their key.
        """
        self.app = app
        self._keys = [k.encode() for k in keys]
        self._limit: RateLimitItem | None = parse(rate_limit) if rate_limit else None
        self._failures: RateLimitItem | None = (
            parse(auth_failure_limit) if auth_failure_limit else None
        )
        self._hops = proxy_hops
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
            address = client_address(scope, self._hops)
            if await self._over(send, self._failures, f"auth:{address}", "refused keys"):
                return
            message = "missing or unknown API key: send it in the X-API-Key header"
            await _refuse(send, 401, "unauthorized", message)
            return
        caller = (
            f"key:{key_id(presented.decode('latin-1'))}"
            if self._keys
            else f"addr:{client_address(scope, self._hops)}"
        )
        if await self._over(send, self._limit, caller, "requests"):
            return
        await self.app(scope, receive, send)

    async def _over(self, send: Send, limit: RateLimitItem | None, caller: str, what: str) -> bool:
        """Count a hit of ``caller`` against ``limit``; answer 429 (True) once it is spent."""
        if limit is None or self._limiter.hit(limit, caller):
            return False
        reset, _ = self._limiter.get_window_stats(limit, caller)
        wait = max(1, math.ceil(reset - time.time()))
        message = f"rate limit of {limit} {what} exceeded; retry in {wait} s"
        await _refuse(send, 429, "rate_limited", message, [(b"retry-after", str(wait).encode())])
        return True

    def _known(self, presented: bytes) -> bool:
        # No early exit: the time taken must not tell which key (or how much of one) matched.
        found = False
        for key in self._keys:
            found |= hmac.compare_digest(presented, key)
        return found


def client_address(scope: Scope, proxy_hops: int) -> str:
    """The client's address: the connection's, or the one the nearest trusted proxy appended.

    With ``proxy_hops`` proxies in front, each appending its peer to ``X-Forwarded-For``,
    the client is the ``proxy_hops``-th entry from the right. A header shorter than that
    did not pass through them all: the connection's address is used.
    """
    if proxy_hops:
        # Several X-Forwarded-For lines are one list, in order (RFC 9110): a proxy may add
        # its entry as a line of its own, so the last line alone may not hold them all.
        lines = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
        entries = [e.strip() for e in ",".join(lines).split(",") if e.strip()]
        if len(entries) >= proxy_hops:
            return entries[-proxy_hops]
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


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
