"""The ports the API's routes use, opened once per process and shared by every request."""

from __future__ import annotations

import contextlib
import threading

from fastapi import Request

from adapters.errors import StreamkitError
from adapters.ports import Bus, HotStore
from app import bootstrap
from app.api import health
from app.api.cache import ReadCache
from app.settings import Settings


class Dependencies:
    """The ports the API uses, opened on first use and shared by every request."""

    def __init__(self, settings: Settings, hot_store: HotStore | None, bus: Bus | None) -> None:
        """Given ports are used as they are (tests, Lambda warm starts); missing ones are opened."""
        self.settings = settings
        self._hot, self._bus = hot_store, bus
        self._opened: list[HotStore | Bus] = []  # closed by close(); given ports are the caller's
        self._lock = threading.Lock()
        api = settings.api
        self.cache = ReadCache(api.cache_s, max_stale_s=api.cache_s + api.cache_stale_s)
        self.health = health.Memo(api.health_cache_s)

    def hot_store(self) -> HotStore:
        """The hot store, opened once (threads of the sync routes race to the first call)."""
        with self._lock:
            if self._hot is None:
                self._hot = bootstrap.hot_store(self.settings)
                self._opened.append(self._hot)
            return self._hot

    def bus(self) -> Bus:
        """The bus for /health's ping, opened on first use."""
        with self._lock:
            if self._bus is None:
                self._bus = bootstrap.bus(self.settings)
                self._opened.append(self._bus)
            return self._bus

    def close(self) -> None:
        """Release what this object opened."""
        for port in self._opened:
            with contextlib.suppress(StreamkitError):  # shutting down: nothing to do about it
                port.close()
        self._opened.clear()


def deps_of(request: Request) -> Dependencies:
    """The ``Dependencies`` of the app serving ``request``."""
    deps: Dependencies = request.app.state.deps
    return deps
