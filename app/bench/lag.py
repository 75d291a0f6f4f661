"""The end-to-end benchmark's verdicts on consumer lag: flat or growing, and a burst's drain time.

The benchmark samples the job's lag (records behind the end of the topic) about once a second.
"The rate is sustained" means the job keeps up: over the second half of a rate step (the first
half absorbs start-up and the step change), the lag's least-squares slope is a small fraction of
the input rate, and the step ends less than ``end_seconds`` of traffic behind. "Ends" is the
smallest lag of the step's last ``settle_seconds``: a lag sampled while a batch runs includes
the batch, and the trough right after a commit is where the job is. A lag that grows by
1 % of the rate every second would double a minute's backlog in about an hour and a half, which
a benchmark of minutes cannot tell from noise; 2 % is the default tolerance for that reason.

A burst's drain time is how long after the burst ends the lag is back at (or under) its level
before the burst, plus a margin of one second of the steady rate, since a lag sampled while a
micro-batch is running is never exactly the baseline.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LagSample:
    """The lag, in records, ``at`` seconds after the benchmark started."""

    at: float
    records: int


@dataclass(frozen=True)
class Flatness:
    """Whether a step's lag stayed flat, with the figures that decided it."""

    flat: bool
    slope: float  # records per second over the step's second half
    final: int  # records behind at the end: the least of the last settle_seconds
    why: str


def slope(samples: Sequence[LagSample]) -> float:
    """The lag's least-squares slope in records per second; 0 with fewer than two moments."""
    if len({s.at for s in samples}) < 2:
        return 0.0
    fit = statistics.linear_regression([s.at for s in samples], [s.records for s in samples])
    return float(fit.slope)


def second_half(samples: Sequence[LagSample]) -> list[LagSample]:
    """The samples from the middle of the step's time span on."""
    if not samples:
        return []
    middle = (samples[0].at + samples[-1].at) / 2
    return [s for s in samples if s.at >= middle]


def flatness(
    samples: Sequence[LagSample],
    rate: float,
    *,
    tolerance: float = 0.02,
    end_seconds: float = 2.0,
    settle_seconds: float = 10.0,
) -> Flatness:
    """Did the job keep up with ``rate`` events/s over this step's ``samples``?"""
    if rate <= 0:
        msg = f"rate must be positive, got {rate}"
        raise ValueError(msg)
    if len(samples) < 4:
        msg = f"{len(samples)} lag samples are too few to judge a step; run it longer"
        raise ValueError(msg)
    half = second_half(samples)
    rise = slope(half)
    final = min(s.records for s in samples if s.at >= samples[-1].at - settle_seconds)
    if rise > tolerance * rate:
        why = f"lag grew {rise:,.0f} records/s over the second half (limit {tolerance * rate:,.0f})"
        return Flatness(flat=False, slope=rise, final=final, why=why)
    if final > end_seconds * rate:
        why = f"ended {final:,} records behind (limit {end_seconds * rate:,.0f})"
        return Flatness(flat=False, slope=rise, final=final, why=why)
    return Flatness(flat=True, slope=rise, final=final, why="kept up")


def drain_seconds(
    samples: Sequence[LagSample], burst_start: float, burst_end: float, steady_rate: float
) -> float | None:
    """Seconds from ``burst_end`` until the lag is back to its pre-burst level; None if never.

    The pre-burst level is the largest lag of the ten seconds before ``burst_start`` (the
    baseline a steady job swings around), plus one second of ``steady_rate``.
    """
    before = [s.records for s in samples if burst_start - 10 <= s.at < burst_start]
    if not before:
        msg = "no lag sample in the ten seconds before the burst: start sampling earlier"
        raise ValueError(msg)
    level = max(before) + steady_rate
    for sample in samples:
        if sample.at >= burst_end and sample.records <= level:
            return sample.at - burst_end
    return None
