"""The benchmark's lag verdicts: a step kept up or not, and how long a burst took to drain."""

from __future__ import annotations

import random

import pytest

from app.bench.lag import LagSample, drain_seconds, flatness, slope

RATE = 2_000


def samples(lag_at: object, seconds: int = 120) -> list[LagSample]:
    return [LagSample(float(t), int(lag_at(t))) for t in range(seconds)]  # type: ignore[operator]


def test_a_lag_swinging_around_one_batch_is_flat() -> None:
    rng = random.Random(3)
    # A micro-batch job: the lag saws between 0 and about one batch of 2 s.
    step = samples(lambda t: (t % 2) * RATE + rng.randint(0, 200))
    verdict = flatness(step, RATE)
    assert verdict.flat, verdict
    assert abs(verdict.slope) < 0.02 * RATE


def test_a_lag_growing_by_a_tenth_of_the_rate_is_not_flat() -> None:
    step = samples(lambda t: 0.1 * RATE * t)
    verdict = flatness(step, RATE)
    assert not verdict.flat
    assert verdict.slope == pytest.approx(0.1 * RATE)
    assert "lag grew 200 records/s" in verdict.why


def test_only_the_second_half_counts_for_the_slope() -> None:
    # A start-up backlog that the job works off in the first half, then a flat lag.
    step = samples(lambda t: max(0, 60_000 - 1_000 * t))
    assert slope(step) < 0
    verdict = flatness(step, RATE)
    assert verdict.flat and verdict.slope == 0


def test_a_flat_but_large_backlog_fails_on_its_end() -> None:
    step = samples(lambda t: 10 * RATE)
    verdict = flatness(step, RATE)
    assert not verdict.flat
    assert "ended 20,000 records behind (limit 4,000)" in verdict.why


def test_the_end_is_the_trough_of_the_last_seconds() -> None:
    # A job with 4 s batches: sampled mid-batch the lag is 8 s of traffic, right after a
    # commit under one. It keeps up; the step's last sample alone would say it did not.
    step = samples(lambda t: (t % 4) * 2 * RATE + 500)
    assert step[-1].records == 6 * RATE + 500
    verdict = flatness(step, RATE)
    assert verdict.flat, verdict
    assert verdict.final == 500
    assert not flatness(step, RATE, settle_seconds=0).flat


def test_too_few_samples_or_no_rate_are_refused() -> None:
    with pytest.raises(ValueError, match="too few"):
        flatness(samples(lambda t: 0, seconds=3), RATE)
    with pytest.raises(ValueError, match="positive"):
        flatness(samples(lambda t: 0), 0)


def test_the_drain_time_counts_from_the_burst_end_to_the_old_level() -> None:
    def lag(t: float) -> float:
        if t < 60:
            return 500  # steady
        if t < 120:
            return 500 + 8_000 * (t - 60)  # 10,000/s in, 2,000/s out
        return max(500, 480_500 - 3_000 * (t - 120))  # the job catches up at 3,000/s spare

    history = samples(lag, seconds=400)
    drained = drain_seconds(history, burst_start=60, burst_end=120, steady_rate=RATE)
    # Back within one second of traffic of the old level: 480,000 - 2,000 over 3,000/s.
    assert drained == pytest.approx(160, abs=1)


def test_a_burst_never_drained_is_none_and_a_missing_baseline_an_error() -> None:
    history = samples(lambda t: 0 if t < 60 else 8_000 * t, seconds=200)
    assert drain_seconds(history, 60, 120, RATE) is None
    with pytest.raises(ValueError, match="before the burst"):
        drain_seconds(history[70:], 60, 120, RATE)
