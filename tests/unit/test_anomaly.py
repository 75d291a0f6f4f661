"""The anomaly rule of the dashboard and the alerts: two-sided z against a trailing window."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from app.analytics.anomaly import MIN_HISTORY, anomalies, score

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
HOUR = timedelta(minutes=60)


def minutes(
    values: list[float | None], start: datetime = T0
) -> list[tuple[datetime, float | None]]:
    return [(start + timedelta(minutes=i), v) for i, v in enumerate(values)]


def noisy(n: int, mean: float, sd: float, seed: int = 7) -> list[float | None]:
    """Gaussian noise: a few points of it pass |z| > 3 by chance (about 0.3 %)."""
    rng = random.Random(seed)
    return [rng.gauss(mean, sd) for _ in range(n)]


def wobble(n: int, mean: float, amplitude: float) -> list[float | None]:
    """Deterministic noise that never strays 2 sd from its trailing mean: nothing to flag."""
    return [mean + amplitude * math.sin(1.3 * i) for i in range(n)]


def test_a_spike_is_flagged_with_its_time_value_and_baseline() -> None:
    series = [*wobble(90, 2000, 40), 2600.0, *wobble(10, 2000, 40)]
    flagged = anomalies(minutes(series), window=HOUR, threshold=3)
    assert [s.at for s in flagged] == [T0 + timedelta(minutes=90)]
    spike = flagged[0]
    assert spike.value == 2600.0
    assert spike.direction == "high"
    assert spike.history == 60  # the trailing hour, the spike itself excluded
    assert spike.mean == pytest.approx(2000, abs=5)
    assert spike.std == pytest.approx(40 / math.sqrt(2), rel=0.05)  # a sine's sd
    assert spike.z == pytest.approx((2600 - spike.mean) / spike.std)
    assert spike.z > 10
    # (The minutes after it carry the spike in their baseline and are not flagged for that.)


def test_a_wobbling_series_is_not_flagged() -> None:
    scored = score(minutes(wobble(300, 0.03, 0.002)), window=HOUR, threshold=3)
    assert all(s.z is not None for s in scored[MIN_HISTORY:])
    assert not any(s.flagged for s in scored)
    assert max(abs(s.z or 0) for s in scored) < 2


def test_gaussian_noise_is_flagged_only_as_often_as_the_threshold_says() -> None:
    # A day of minutes of pure noise: |z| > 3 should happen about 0.3 % of the
    # time (a little more with an estimated baseline), i.e. a handful, not dozens.
    scored = score(minutes(noisy(1440, 0.03, 0.002, seed=11)), window=HOUR, threshold=3)
    flagged = sum(s.flagged for s in scored)
    assert 0 < flagged < 0.01 * len(scored)


@pytest.mark.parametrize(("jump", "direction"), [(+0.02, "high"), (-0.02, "low")])
def test_both_directions_are_flagged(jump: float, direction: str) -> None:
    series = [*wobble(60, 0.03, 0.002), 0.03 + jump]
    flagged = anomalies(minutes(series), window=HOUR, threshold=3)
    assert [(s.at, s.direction) for s in flagged] == [(T0 + timedelta(minutes=60), direction)]
    assert (flagged[0].z or 0) * jump > 0


def test_the_threshold_is_strict_and_configurable() -> None:
    # History alternating 9, 11: mean 10, sample sd sqrt(6/5) → points at z just under and over 3.
    base: list[float | None] = [9.0, 11.0] * 3
    sd = math.sqrt(6 / 5)
    under, over = 10 + (3 - 1e-9) * sd, 10 + (3 + 1e-9) * sd

    def last(value: float, threshold: float) -> bool:
        return score(minutes([*base, value]), window=HOUR, threshold=threshold)[-1].flagged

    assert score(minutes([*base, under]), window=HOUR, threshold=3)[-1].z == pytest.approx(3)
    assert not last(under, 3) and last(over, 3)
    assert last(10 - (3 + 1e-9) * sd, 3)  # two-sided
    assert last(under, 2.5)


def test_short_history_gets_no_score() -> None:
    series: list[float | None] = [1.0, 1.1, 0.9, 1.0, 50.0]  # a spike after 4 points
    scored = score(minutes(series), window=HOUR, threshold=3)
    assert [s.history for s in scored] == [0, 1, 2, 3, 4]
    assert all(s.z is None and s.mean is None and not s.flagged for s in scored)
    # One more point of history and the same spike is scored and flagged.
    scored = score(minutes([1.0, 1.1, 0.9, 1.0, 1.05, 50.0]), window=HOUR, threshold=3)
    assert scored[-1].flagged and scored[-1].history == MIN_HISTORY


def test_the_window_is_trailing_time_not_a_count_of_points() -> None:
    # An old regime (values near 100) then a new one near 10: once the window has
    # moved past the old regime, 10 is normal again.
    old = minutes(noisy(30, 100, 1))
    new = minutes(noisy(120, 10, 1, seed=3), start=T0 + timedelta(minutes=30))
    scored = {s.at: s for s in score([*old, *new], window=HOUR, threshold=3)}
    assert scored[T0 + timedelta(minutes=30)].flagged  # the step itself
    late = [s for at, s in scored.items() if at >= T0 + timedelta(minutes=91)]
    assert late and not any(s.flagged for s in late)
    assert all(s.history == 60 for s in late)


def test_gaps_are_not_filled() -> None:
    # Ten minutes of history, then nothing for 2 hours: the next point has an empty window.
    points = [*minutes([5.0] * 10), (T0 + timedelta(hours=3), 500.0)]
    last = score(points, window=HOUR, threshold=3)[-1]
    assert last.history == 0 and last.z is None and not last.flagged


def test_missing_values_get_no_score_and_stay_out_of_baselines() -> None:
    series: list[float | None] = [1.0, None, 1.2, float("nan"), 0.8, 1.1, 0.9, None, 1.0, 9.0]
    scored = score(minutes(series), window=HOUR, threshold=3)
    assert scored[1].z is None and scored[1].value is None
    assert scored[3].value is None  # NaN is missing, not a number that poisons the mean
    assert scored[-1].history == 6  # the 8 earlier points minus 2 missing
    assert scored[-1].flagged
    assert scored[-3].history == 5 and scored[-3].value is None and not scored[-3].flagged


def test_a_flat_history_flags_nothing() -> None:
    flat = [0.0] * 60
    on_it = score(minutes([*flat, 0.0]), window=HOUR, threshold=3)[-1]
    assert on_it.std == 0 and on_it.z == 0.0 and not on_it.flagged
    off_it = score(minutes([*flat, 0.05]), window=HOUR, threshold=3)[-1]
    assert off_it.std == 0 and off_it.z is None and not off_it.flagged
    # Floats that are all equal give exactly zero (exact sums), never a tiny residue.
    assert score(minutes([0.1] * 61), window=HOUR, threshold=3)[-1].z == 0.0


def test_order_of_input_does_not_matter() -> None:
    points = minutes([*noisy(40, 10, 1), 30.0])
    shuffled = points[::-1]
    assert score(points, window=HOUR, threshold=3) == score(shuffled, window=HOUR, threshold=3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": timedelta(0), "threshold": 3},
        {"window": HOUR, "threshold": 0},
        {"window": HOUR, "threshold": 3, "min_history": 1},
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="positive"):
        score(minutes([1.0]), **kwargs)  # type: ignore[arg-type]
