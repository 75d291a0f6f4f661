"""Pacing: a token bucket (``--rate``), a rate profile (``--profile``), a schedule (``--speedup``).

The token bucket refills continuously at ``rate`` tokens per second and
holds at most ``burst`` of them, so a producer that fell behind (a GC pause,
a slow flush) catches up by at most ``burst`` events and the long-run rate
stays exact.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
        self._burst_given = burst is not None
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()

    def change_rate(self, rate: float) -> None:
        """From now on, ``rate`` per second; tokens (or debt) carry over, no fresh burst."""
        if rate <= 0:
            msg = f"rate must be positive, not {rate}"
            raise ValueError(msg)
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self.rate = rate
        if not self._burst_given:
            self.burst = max(1.0, rate / 50)

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


@dataclass(frozen=True)
class Step:
    """One step of a rate profile: ``rate`` events/s for ``seconds``."""

    rate: float
    seconds: float

    def __str__(self) -> str:
        return f"{self.rate:,.0f} events/s for {self.seconds:g} s"


def parse_profile(text: str) -> list[Step]:
    """``"2000:120,10000:60"`` → two steps; a clear error for anything else."""
    steps = []
    for part in text.split(","):
        rate, sep, seconds = part.strip().partition(":")
        try:
            step = Step(float(rate), float(seconds)) if sep else None
        except ValueError:
            step = None
        if step is None or step.rate <= 0 or step.seconds <= 0:
            msg = (
                f"a rate profile is RATE:SECONDS steps separated by commas, "
                f"e.g. 2000:120,10000:60; {part.strip()!r} is not one"
            )
            raise ValueError(msg)
        steps.append(step)
    return steps


class RateProfile:
    """Rates in turn, each for its seconds, then the end: a token bucket whose rate steps.

    The steps' boundaries are fixed from the first ``take``, so a producer that falls behind
    in one step does not push the next one later: what a benchmark's timeline relies on.
    """

    def __init__(
        self,
        steps: Sequence[Step],
        on_step: Callable[[int, Step], None] = lambda _i, _s: None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if not steps:
            msg = "a rate profile needs at least one step"
            raise ValueError(msg)
        self.steps = list(steps)
        self._on_step = on_step
        self._clock = clock
        self._sleep = sleep
        self._ends = list(itertools.accumulate(s.seconds for s in self.steps))
        self._start: float | None = None
        self._index = -1
        self._bucket: TokenBucket | None = None

    def take(self) -> bool:
        """Wait for the next event's turn; False once the last step is over."""
        now = self._clock()
        if self._start is None:
            self._start = now
        elapsed = now - self._start
        index = self._index if self._index >= 0 else 0
        while index < len(self.steps) and elapsed >= self._ends[index]:
            index += 1
        if index == len(self.steps):
            return False
        if index != self._index:
            self._index = index
            step = self.steps[index]
            if self._bucket is None:
                self._bucket = TokenBucket(step.rate, clock=self._clock, sleep=self._sleep)
            else:
                self._bucket.change_rate(step.rate)
            self._on_step(index, step)
        assert self._bucket is not None
        self._bucket.take()
        return True
