"""End-to-end latency as a mergeable fixed-bucket histogram.

A histogram is a dict of bucket name to count, ``{"b07": 3, "b31": 1}``, with
only the non-empty buckets: the form stored in a minute document's ``latency``
field. Fixed buckets make histograms of different batches add up exactly, so
the stream job merges each batch's histogram into the stored one
(``HotStore.add_once``) and percentiles come from the sum.

Bucket ``i`` holds latencies in ``(BOUNDS_MS[i - 1], BOUNDS_MS[i]]``; bucket 0
holds everything up to 1 ms (negative latencies too: clock skew between
producer and job), bucket ``OVERFLOW`` everything above the last bound. Names
are ``b`` and two digits, so they sort and contain no dot.

Only :func:`histogram` needs numpy, imported when called: readers (the CLI,
the API) derive percentiles without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from math import ceil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy.typing as npt

#: Growth from one bound to the next: a percentile is at most 20 % above the true value.
RATIO = Fraction(6, 5)

#: Upper bounds in ms: ``round(1.2 ** k)`` for k = 0..101, duplicates dropped: 1, 2, 3, 4,
#: 5, 6, 7, 9, 11, 13, 15, 18, 22, 27, ... 82,817,975, 99,381,569. 97 finite bounds reach
#: 27.6 h; with the overflow bucket that makes 98 buckets, b00..b97. (Two digits allow 100
#: names, hence 20 % steps: 2 ** (1/4), 19 %, would need 103 buckets to reach 24 h.)
#: Exact fractions give every platform the same bounds: they are a stored format, and
#: changing them would misread every histogram already written.
BOUNDS_MS: tuple[int, ...] = tuple(sorted({round(RATIO**k) for k in range(102)}))

#: Index of the bucket for latencies above ``BOUNDS_MS[-1]``.
OVERFLOW = len(BOUNDS_MS)

#: The quantiles :func:`percentiles` reports by default.
DEFAULT_QUANTILES = (0.50, 0.95, 0.99)

Histogram = dict[str, int]


def bucket_name(index: int) -> str:
    """The stored name of bucket ``index``: ``b`` and two digits, e.g. ``b07``."""
    if not 0 <= index <= OVERFLOW:
        msg = f"bucket index {index} is outside 0..{OVERFLOW}"
        raise ValueError(msg)
    return f"b{index:02d}"


def bucket_index(name: str) -> int:
    """The index of bucket ``name``; ValueError for a name no bucket has."""
    digits = name[1:]
    if name[:1] != "b" or len(digits) != 2 or not digits.isdigit() or int(digits) > OVERFLOW:
        msg = f"{name!r} is not a latency bucket (b00..{bucket_name(OVERFLOW)})"
        raise ValueError(msg)
    return int(digits)


def upper_bound_ms(index: int) -> int:
    """The largest latency bucket ``index`` holds; for the overflow, the last finite bound.

    As Prometheus' ``histogram_quantile`` does for its ``+Inf`` bucket: a
    percentile there reads "at least ``BOUNDS_MS[-1]``" and stays a finite
    number that JSON can carry.
    """
    return BOUNDS_MS[min(index, OVERFLOW - 1)]


def histogram(latencies_ms: npt.ArrayLike) -> Histogram:
    """Count latencies (ms, ints or floats) per bucket; NaNs are skipped.

    Returns only the non-empty buckets, in bucket order, as Python ints (so
    the dict can be stored as it is).
    """
    import numpy as np

    values = np.asarray(latencies_ms).ravel()
    if values.dtype.kind == "f":
        values = values[~np.isnan(values)]
    # side="left": a latency equal to a bound belongs to that bound's bucket.
    indexes = np.searchsorted(np.asarray(BOUNDS_MS), values, side="left")
    counts = np.bincount(indexes, minlength=OVERFLOW + 1)
    return {bucket_name(int(i)): int(counts[i]) for i in np.flatnonzero(counts)}


def merge(a: Mapping[str, int], b: Mapping[str, int]) -> Histogram:
    """The histogram of both inputs' latencies: counts added bucket by bucket."""
    total: dict[str, int] = {}
    for hist in (a, b):
        for name, n in hist.items():
            bucket_index(name)  # refuse names that are not buckets
            total[name] = total.get(name, 0) + int(n)
    return {name: total[name] for name in sorted(total) if total[name]}


def count(hist: Mapping[str, int]) -> int:
    """How many latencies ``hist`` holds."""
    return sum(int(n) for n in hist.values())


def percentiles(
    hist: Mapping[str, int], qs: Iterable[float] = DEFAULT_QUANTILES
) -> dict[str, float | None]:
    """Each quantile as ``{"p50": ms, ...}``: the upper bound of the bucket holding its rank.

    The rank of quantile q is ``ceil(q * count)`` (at least 1), so the true
    value lies in the reported bucket: at most one bucket (20 %) below the
    figure given. None for every quantile when ``hist`` is empty.
    """
    ordered = sorted((bucket_index(name), int(n)) for name, n in hist.items() if n)
    total = sum(n for _, n in ordered)
    result: dict[str, float | None] = {}
    for q in qs:
        rank = quantile_rank(q, total)  # checks q even when there is nothing to rank
        result[quantile_label(q)] = float(_bound_at(ordered, rank)) if total else None
    return result


def quantile_rank(q: float, total: int) -> int:
    """The 1-based rank of quantile ``q`` among ``total`` values (nearest rank, at least 1)."""
    if not 0 <= q <= 1:
        msg = f"quantile {q} is outside [0, 1]"
        raise ValueError(msg)
    # round first: 0.95 * 100 is 95.00000000000001 in floats, and rank 95 is meant.
    return max(1, ceil(round(q * total, 6)))


def _bound_at(ordered: list[tuple[int, int]], rank: int) -> int:
    """The upper bound of the bucket holding the ``rank``-th latency (1-based)."""
    seen = 0
    for index, n in ordered:
        seen += n
        if seen >= rank:
            return upper_bound_ms(index)
    return upper_bound_ms(ordered[-1][0])


def quantile_label(q: float) -> str:
    """``0.5`` → ``p50``, ``0.999`` → ``p99.9``."""
    return f"p{q * 100:g}"
