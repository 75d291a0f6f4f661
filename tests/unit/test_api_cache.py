"""The API's read cache: one store query per range per TTL, single flight, never cached errors."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.errors import TransientError
from adapters.registry import open_hot_store
from app.api.cache import ReadCache
from app.api.main import create_app
from app.pipeline.documents import KPI_MINUTES
from app.settings import Settings
from tests.support.documents import minute_doc


class CountingStore:
    """The memory hot store, counting the range reads that reach it."""

    def __init__(self) -> None:
        self.inner = open_hot_store(f"memory://cache-{uuid.uuid4().hex[:8]}")
        self.inner.upsert_many(KPI_MINUTES, [minute_doc(i) for i in range(5)], ["minute"])
        self.reads = 0
        self.ranges: list[tuple[Any, Any]] = []

    def find_range(self, collection: str, field: str, *args: Any, **kwargs: Any) -> Any:
        self.reads += 1
        self.ranges.append(tuple(args[:2]))
        return self.inner.find_range(collection, field, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def api(store: CountingStore, cache_s: float) -> TestClient:
    settings = Settings(hot_store_url="memory://x", api={"check_bus": False, "cache_s": cache_s})
    return TestClient(create_app(settings, hot_store=store))  # type: ignore[arg-type]


def test_a_burst_of_the_same_range_reads_the_store_once() -> None:
    store = CountingStore()
    with api(store, cache_s=5) as c:
        bodies = [
            c.get("/kpis", params={"minutes_back": 10, "anchor": "latest"}).json()
            for _ in range(50)
        ]
    assert store.reads == 2  # the newest minute (anchor=latest) and the range, once each
    assert all(b["minutes"] == bodies[0]["minutes"] and b["count"] == 5 for b in bodies)


def test_the_wall_clock_range_shares_a_key_within_the_minute() -> None:
    store = CountingStore()
    with api(store, cache_s=5) as c:
        first = c.get("/kpis", params={"minutes_back": 60}).json()
        time.sleep(0.05)
        second = c.get("/kpis", params={"minutes_back": 60}).json()
    assert first["end"] != second["end"]  # each answer names its own range...
    # ...but both read one grid range, once. In a minute's last 5 s the next
    # minute's range is prefetched too: a different range, so it is not counted.
    if second["end"][:16] == first["end"][:16]:
        assert len(store.ranges) == len(set(store.ranges)) and len(store.ranges) in (1, 2)
        assert store.ranges[0][1] >= datetime.fromisoformat(first["end"])


def test_reads_expire_after_the_ttl_and_zero_disables() -> None:
    store = CountingStore()
    with api(store, cache_s=0.2) as c:
        c.get("/funnel", params={"anchor": "latest"})
        c.get("/funnel", params={"anchor": "latest"})
        time.sleep(0.3)
        c.get("/funnel", params={"anchor": "latest"})
    assert store.reads == 4  # newest minute + range, twice
    store = CountingStore()
    with api(store, cache_s=0) as c:
        for _ in range(3):
            c.get("/funnel", params={"anchor": "latest"})
    assert store.reads == 6  # newest minute + range, every time


def test_concurrent_misses_wait_for_one_load() -> None:
    cache = ReadCache(ttl_s=5)
    loads = 0

    def load() -> int:
        nonlocal loads
        loads += 1
        time.sleep(0.2)
        return 42

    async def burst() -> list[int]:
        return list(await asyncio.gather(*(cache.get("k", load) for _ in range(8))))

    assert asyncio.run(burst()) == [42] * 8 and loads == 1


def test_a_stale_value_is_served_at_once_while_one_refresh_runs() -> None:
    cache = ReadCache(ttl_s=0.3, max_stale_s=30)
    version = 0

    def slow_load() -> int:
        nonlocal version
        time.sleep(0.5)  # a store busy with the job's writes
        version += 1
        return version

    async def scenario() -> tuple[int, float, list[int], int]:
        first = await cache.get("k", slow_load)
        await asyncio.sleep(0.4)  # past the TTL: stale
        started = time.monotonic()
        stale = [await cache.get("k", slow_load) for _ in range(20)]
        waited = time.monotonic() - started
        await asyncio.sleep(0.7)  # the one background refresh lands
        return first, waited, stale, await cache.get("k", slow_load)

    first, waited, stale, fresh = asyncio.run(scenario())
    assert first == 1 and stale == [1] * 20 and waited < 0.1
    assert fresh == 2 and cache.loads == 2  # 20 stale reads, one refresh


def test_errors_are_not_cached() -> None:
    cache = ReadCache(ttl_s=5)

    def fail() -> int:
        msg = "store down"
        raise TransientError(msg)

    async def scenario() -> int:
        with pytest.raises(TransientError):
            await cache.get("k", fail)
        return await cache.get("k", lambda: 7)

    assert asyncio.run(scenario()) == 7
