"""A short-lived cache of hot-store reads, shared by the API's requests (stale-while-revalidate).

The stream job rewrites the minute documents once per trigger (2 s by
default), while dashboards and load balancers may ask for the same range
hundreds of times a second. So each read is reused:

* for ``ttl_s`` (``STREAMKIT_API__CACHE_S``, 1 s) it is served as it is;
* after that, up to ``max_stale_s`` (``CACHE_S + CACHE_STALE_S``, 31 s), it
  is still served at once while one background load refreshes it, so no
  request waits for a store that is busy with the job's writes (a refresh
  normally lands within milliseconds, so values are rarely over 1 s old);
* only a key never read (or read too long ago) makes requests wait, all of
  them on one shared load ("single flight"); ``prefetch`` loads a key about
  to be asked for (the next minute's range) so that hardly ever happens.

Everything runs on the event loop; loads run in the default executor, so a
waiting request holds no thread. A failed load is not cached: waiters get the
error, and a failed refresh leaves the stale value in place until it expires.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from cachetools import LRUCache

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class _Entry:
    value: Any
    loaded_at: float


class ReadCache:
    """``await get(key, load)``: a recent value of ``key``, loading it with ``load`` when needed."""

    def __init__(self, ttl_s: float, max_stale_s: float = 4.0, maxsize: int = 1024) -> None:
        """``ttl_s`` 0 disables caching: every call loads."""
        self.ttl_s, self.max_stale_s = ttl_s, max(max_stale_s, ttl_s)
        self._entries: LRUCache[Hashable, _Entry] = LRUCache(maxsize=maxsize)
        self._loading: dict[Hashable, asyncio.Future[Any]] = {}
        self.hits = self.stale_hits = self.loads = 0

    async def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The value of ``key``: cached, stale while a refresh runs, or freshly loaded."""
        # shield: a request that goes away must not cancel a load others wait on.
        if self.ttl_s <= 0:
            return await asyncio.shield(self._start(key, load))
        entry = self._entries.get(key)
        age = time.monotonic() - entry.loaded_at if entry else None
        if entry is not None and age is not None and age < self.ttl_s:
            self.hits += 1
            return entry.value  # type: ignore[no-any-return]
        if entry is not None and age is not None and age < self.max_stale_s:
            self.stale_hits += 1
            if key not in self._loading:
                self._start(key, load).add_done_callback(_log_refresh_failure)
            return entry.value  # type: ignore[no-any-return]
        return await asyncio.shield(self._start(key, load))

    def prefetch(self, key: Hashable, load: Callable[[], Any]) -> None:
        """Load ``key`` in the background unless it is cached or loading (never waits)."""
        if self.ttl_s > 0 and key not in self._entries and key not in self._loading:
            self._start(key, load).add_done_callback(_log_refresh_failure)

    def _start(self, key: Hashable, load: Callable[[], T]) -> asyncio.Future[T]:
        """The load of ``key`` in flight, or a new one in the default executor."""
        if (running := self._loading.get(key)) is not None:
            return running
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.run_in_executor(None, load)
        self._loading[key] = future
        self.loads += 1

        def done(f: asyncio.Future[T]) -> None:
            self._loading.pop(key, None)
            if not f.cancelled() and f.exception() is None and self.ttl_s > 0:
                self._entries[key] = _Entry(f.result(), time.monotonic())

        future.add_done_callback(done)
        return future


def _log_refresh_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        log.warning("background refresh of a cached read failed: %s", error)
