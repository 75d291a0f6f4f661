"""The latency histogram: fixed buckets, exact merges, percentiles within one bucket."""

from __future__ import annotations

import numpy as np
import pytest

from app.pipeline import latency
from app.pipeline.latency import BOUNDS_MS, OVERFLOW, bucket_index, bucket_name

RNG = np.random.default_rng(20261125)


def sample(n: int) -> np.ndarray:
    """Latencies shaped like a stream job's: a log-normal body around 1.5 s and a long tail."""
    return np.round(RNG.lognormal(mean=np.log(1500), sigma=1.0, size=n)).astype(np.int64)


def index_of(ms: float) -> int:
    """The bucket holding ``ms``, by a linear scan of the bounds (independent of searchsorted)."""
    return next((i for i, bound in enumerate(BOUNDS_MS) if ms <= bound), OVERFLOW)


# ---------------------------------------------------------------------- bounds


def test_bounds_are_a_stable_stored_format() -> None:
    assert BOUNDS_MS[:14] == (1, 2, 3, 4, 5, 6, 7, 9, 11, 13, 15, 18, 22, 27)
    assert BOUNDS_MS[-2:] == (82_817_975, 99_381_569)
    assert len(BOUNDS_MS) == OVERFLOW == 97
    assert all(a < b for a, b in zip(BOUNDS_MS, BOUNDS_MS[1:], strict=False))
    assert BOUNDS_MS[-1] >= 24 * 3600 * 1000  # a day is covered before the overflow
    steps = [b / a for a, b in zip(BOUNDS_MS, BOUNDS_MS[1:], strict=False) if a >= 50]
    assert max(steps) < 1.21  # about 20 % resolution once integer ms stop dominating


def test_bucket_names_have_two_digits_and_sort() -> None:
    names = [bucket_name(i) for i in range(OVERFLOW + 1)]
    assert names[0] == "b00" and names[7] == "b07" and names[-1] == "b97"
    assert names == sorted(names)
    assert all(len(n) == 3 and "." not in n for n in names)
    assert [bucket_index(n) for n in names] == list(range(OVERFLOW + 1))
    for bad in ("b98", "b7", "b007", "x07", "b-1", ""):
        with pytest.raises(ValueError, match="latency bucket"):
            bucket_index(bad)
    with pytest.raises(ValueError, match="outside"):
        bucket_name(OVERFLOW + 1)


# ------------------------------------------------------------------- histogram


def test_histogram_counts_each_latency_in_its_bucket() -> None:
    values = sample(5_000)
    hist = latency.histogram(values)
    expected: dict[str, int] = {}
    for v in values:
        name = bucket_name(index_of(v))
        expected[name] = expected.get(name, 0) + 1
    assert hist == dict(sorted(expected.items()))
    assert latency.count(hist) == 5_000
    assert all(type(n) is int for n in hist.values())  # storable as BSON, unlike np.int64


def test_bounds_belong_to_their_own_bucket() -> None:
    assert latency.histogram([1, 2, 7, 8, 9, 10]) == {
        "b00": 1,
        "b01": 1,
        "b06": 1,
        "b07": 2,
        "b08": 1,
    }


def test_negative_zero_and_huge_values() -> None:
    hist = latency.histogram(
        np.array([-50_000, -1, 0, 1, 10**12, BOUNDS_MS[-1], BOUNDS_MS[-1] + 1])
    )
    assert hist == {"b00": 4, "b96": 1, "b97": 2}
    assert latency.histogram([1e300, -1e300, 0.5]) == {"b00": 2, "b97": 1}


def test_nans_and_empty_input_count_nothing() -> None:
    assert latency.histogram(np.array([], dtype=np.int64)) == {}
    assert latency.histogram([float("nan"), 3.0]) == {"b02": 1}


# ----------------------------------------------------------------------- merge


def test_merge_equals_the_histogram_of_the_concatenation() -> None:
    a, b, c = sample(1_000), sample(10), sample(3_000)
    ha, hb, hc = (latency.histogram(x) for x in (a, b, c))
    whole = latency.histogram(np.concatenate([a, b, c]))
    assert latency.merge(latency.merge(ha, hb), hc) == whole
    assert latency.merge(ha, latency.merge(hb, hc)) == whole  # associative
    assert latency.merge(hc, ha) == latency.merge(ha, hc)  # commutative
    assert list(whole) == sorted(whole)


def test_merge_with_empty_and_zero_counts() -> None:
    h = latency.histogram([5, 5, 300])
    assert latency.merge(h, {}) == h == latency.merge({}, h)
    assert latency.merge({}, {}) == {}
    assert latency.merge({"b03": 0}, {"b05": 2}) == {"b05": 2}
    with pytest.raises(ValueError, match="latency bucket"):
        latency.merge(h, {"latency.b07": 1})


# ----------------------------------------------------------------- percentiles


@pytest.mark.parametrize("n", [1, 7, 100, 10_000])
def test_percentiles_are_within_one_bucket_of_numpy(n: int) -> None:
    values = sample(n)
    got = latency.percentiles(latency.histogram(values))
    assert list(got) == ["p50", "p95", "p99"]
    for label, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        exact = float(np.percentile(values, q))
        reported = got[label]
        assert reported is not None
        assert reported in BOUNDS_MS
        assert abs(index_of(reported) - index_of(exact)) <= 1, (label, exact, reported)
        # An upper bound: never below the true value's bucket.
        assert index_of(reported) >= index_of(exact) - 1


def test_percentiles_on_known_data() -> None:
    # 100 latencies, 1..100 ms; bounds around them: ... 46, 55, 66, 79, 95, 114 ...
    # Rank 50 is 50 ms (bucket up to 55), rank 95 is 95 ms (a bound: its own bucket),
    # rank 99 is 99 ms (up to 114).
    hist = latency.histogram(np.arange(1, 101))
    assert latency.percentiles(hist) == {"p50": 55.0, "p95": 95.0, "p99": 114.0}
    assert latency.percentiles(hist, qs=(0.0, 1.0, 0.999)) == {
        "p0": 1.0,
        "p100": 114.0,
        "p99.9": 114.0,
    }
    # 0.95 * 100 is 95.00000000000001 in floats; the rank is still 95, not 96.
    hist = latency.histogram([95] * 95 + [96] * 5)
    assert latency.percentiles(hist, qs=(0.95,)) == {"p95": 95.0}


def test_percentiles_of_an_empty_histogram_are_none() -> None:
    assert latency.percentiles({}) == {"p50": None, "p95": None, "p99": None}
    assert latency.percentiles({"b04": 0}) == {"p50": None, "p95": None, "p99": None}
    assert latency.count({}) == 0


def test_overflow_reports_the_last_bound() -> None:
    # As Prometheus does for +Inf: a finite figure meaning "at least this".
    hist = latency.histogram([10, 10**12])
    assert latency.percentiles(hist) == {"p50": 11.0, "p95": 99_381_569.0, "p99": 99_381_569.0}


def test_percentiles_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="outside"):
        latency.percentiles({"b01": 1}, qs=(1.5,))
    with pytest.raises(ValueError, match="latency bucket"):
        latency.percentiles({"bogus": 1})
