"""A short-lived cache of hot-store reads, shared by the API's requests.

The stream job rewrites the minute documents once per trigger (2 s by
default), while a dashboard fleet or a load balancer may ask for the same
range hundreds of times a second. Reusing a read for ``STREAMKIT_API__CACHE_S``
(1 s) turns those into one store query per range per second and adds at most
that much staleness. Concurrent misses of one key wait for a single load
("single flight") instead of all querying the store at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import TTLCache

T = TypeVar("T")


class ReadCache:
    """``get(key, load)``: the value loaded within the last ``ttl_s`` seconds, or a fresh load."""

    def __init__(self, ttl_s: float, maxsize: int = 1024) -> None:
        """``ttl_s`` 0 disables caching (every call loads)."""
        self._values: TTLCache[Hashable, Any] | None = (
            TTLCache(maxsize=maxsize, ttl=ttl_s) if ttl_s > 0 else None
        )
        self._lock = threading.Lock()
        self._gates: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.loads = 0

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The cached value of ``key``, or ``load()``'s (stored); errors are not cached."""
        if self._values is None:
            self.loads += 1
            return load()
        found, value = self._lookup(key)
        if found:
            return value  # type: ignore[no-any-return]
        with self._lock:
            gate = self._gates.setdefault(key, threading.Lock())
        with gate:
            found, value = self._lookup(key)  # another request may have just loaded it
            if found:
                return value  # type: ignore[no-any-return]
            try:
                fresh = load()
                with self._lock:
                    self.loads += 1
                    self._values[key] = fresh
            finally:
                with self._lock:
                    self._gates.pop(key, None)
        return fresh

    def _lookup(self, key: Hashable) -> tuple[bool, Any]:
        assert self._values is not None
        with self._lock:  # TTLCache is not thread-safe; expiry mutates it on reads
            if key in self._values:
                self.hits += 1
                return True, self._values[key]
        return False, None
