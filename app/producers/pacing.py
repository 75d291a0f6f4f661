"""Pacing: a token bucket for ``--rate``, and a schedule for ``--speedup``.

The token bucket refills continuously at ``rate`` tokens per second and
holds at most ``burst`` of them, so a producer that fell behind (a GC pause,
a slow flush) catches up by at most ``burst`` events and the long-run rate
stays exact.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class TokenBucket:
    """Blocks ``take`` so that events pass at ``rate`` per second on average."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if rate <= 0:
            msg = f"rate must be positive, not {rate}"
            raise ValueError(msg)
        self.rate = rate
        # ~20 ms worth of events: smooth enough for a broker, coarse enough
        # that sleeping (which overshoots by ~0.1 ms) costs little accuracy.
        self.burst = burst if burst is not None else max(1.0, rate / 50)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()

    def take(self, n: int = 1) -> None:
        """Spend ``n`` tokens, sleeping off any debt.

        The balance may go negative and the caller sleeps exactly long enough
        to repay it: no polling loop, so no drift from rounding.
        """
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate) - n
        self._last = now
        if self._tokens < 0:
            self._sleep(-self._tokens / self.rate)


class Schedule:
    """Sends each event at its original offset from the first, divided by ``speedup``."""

    def __init__(
        self, speedup: float, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> None:
        if speedup <= 0:
            msg = f"speedup must be positive, not {speedup}"
            raise ValueError(msg)
        self.speedup = speedup
        self._clock = clock
        self._sleep = sleep
        self._first: datetime | None = None
        self._start = 0.0

    def wait_for(self, event_time: datetime) -> None:
        """Block until ``event_time``'s turn; events earlier than the first go at once."""
        if self._first is None:
            self._first, self._start = event_time, self._clock()
            return
        due = self._start + (event_time - self._first).total_seconds() / self.speedup
        delay = due - self._clock()
        if delay > 0:
            self._sleep(delay)
