"""An open-loop HTTP load generator: requests leave on a fixed schedule, whatever the answers do.

A closed loop (send, wait, send) slows down with the server and hides its
stalls ("coordinated omission"). Here request ``i`` is due at ``t0 + i/rate``
and its latency is measured from that due time, so a stall shows up in every
request it delays. The time from actual send to answer is kept too.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class LoadResult:
    """Latencies (ms) from due time and from send time, and the status codes seen."""

    rate: float
    seconds: float
    due_ms: list[float] = field(default_factory=list)
    service_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    late_starts: int = 0

    def summary(self) -> dict[str, Any]:
        """Percentiles and counts, JSON-ready."""
        return {
            "target_rate": self.rate,
            "seconds": round(self.seconds, 1),
            "requests": len(self.due_ms),
            "achieved_rate": round(len(self.due_ms) / self.seconds, 1) if self.seconds else 0.0,
            "statuses": dict(self.statuses),
            "late_starts": self.late_starts,
            "latency_ms": percentiles(self.due_ms),
            "service_ms": percentiles(self.service_ms),
        }


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50/p90/p95/p99/max (nearest-rank), in ms to 2 places."""
    if not values:
        return dict.fromkeys(("p50", "p90", "p95", "p99", "max"))
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))], 2)

    return {
        "p50": rank(0.50),
        "p90": rank(0.90),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": round(ordered[-1], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


async def _run(
    url: str,
    rate: float,
    seconds: float,
    headers: Mapping[str, str],
    progress: Callable[[str], None],
) -> LoadResult:
    result = LoadResult(rate=rate, seconds=seconds)
    total = int(rate * seconds)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=10.0, limits=limits, headers=dict(headers)) as client:

        async def one(due: float) -> None:
            sent = time.perf_counter()
            if sent - due > 0.005:
                result.late_starts += 1  # the generator itself fell behind (CPU)
            try:
                response = await client.get(url)
                status = str(response.status_code)
            except httpx.HTTPError as e:
                status = type(e).__name__
            done = time.perf_counter()
            result.statuses[status] += 1
            result.due_ms.append((done - due) * 1000)
            result.service_ms.append((done - sent) * 1000)

        tasks = []
        start = time.perf_counter() + 0.05
        next_report = start + 10
        for i in range(total):
            due = start + i / rate
            # Always yield, even when behind: the requests in flight must run.
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(due)))
            if time.perf_counter() >= next_report:
                p = percentiles(result.due_ms[-int(rate * 10) :])
                progress(f"load     | {i:,} of {total:,} sent · last 10 s p99 {p['p99']} ms")
                next_report = time.perf_counter() + 10
        await asyncio.gather(*tasks)
    return result


def run_load(
    url: str,
    rate: float,
    seconds: float,
    headers: Mapping[str, str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> LoadResult:
    """GET ``url`` at ``rate`` requests/s for ``seconds``, open loop."""
    return asyncio.run(_run(url, rate, seconds, headers or {}, progress))
