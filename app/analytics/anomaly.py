"""Anomalies in a per-minute series: two-sided z-scores against a trailing window.

This is the one rule the dashboard shows and the alerts fire on (docs/api.md):
a point at time ``t`` is scored against the points in ``[t - window, t)``, the
point itself excluded, so a spike cannot hide by inflating its own baseline:

    z = (value - mean(history)) / stdev(history)

and it is flagged when ``|z| > threshold``, in either direction (a drop in
conversion matters as much as a jump in traffic).

Edge cases, decided here once so the dashboard and the alerts agree:

* A missing value (``None``, NaN or infinite; e.g. a conversion rate with no
  page views) gets no score and is left out of every baseline.
* Fewer than ``min_history`` values in the window (default 5): no score. A
  standard deviation of two or three points says nothing useful, and a series
  that has just started would flag its every wobble.
* A flat history (standard deviation exactly 0): a value equal to it scores
  0; any other value gets no score and is **not** flagged. Its z would be
  infinite, and flat stretches are what idle or tiny series look like (no
  conversions for an hour, then one), where every change would fire. A real
  outage of a busy series still shows, because its history is never flat.
* The window is in time, not in points: a gap (minutes without a document) is
  not filled, so the baseline is the values that exist in the last ``window``.

The standard deviation is the sample one (n - 1): the window is a sample of
the process. Sums are exact (:mod:`statistics`), so a flat series of floats
has a standard deviation of exactly 0, never a rounding residue.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Values a baseline needs before a point is scored.
MIN_HISTORY = 5


@dataclass(frozen=True, slots=True)
class Score:
    """One point of the series and how it compares with its trailing window.

    Attributes:
        at: The point's time (a minute's start).
        value: Its value; None when it had none.
        z: ``(value - mean) / std``; None when the point could not be scored
            (no value, short history, or a flat history it departs from).
        mean: Mean of the baseline; None when it had fewer than ``min_history`` values.
        std: Sample standard deviation of the baseline; None as ``mean``.
        history: How many values the baseline held.
        flagged: ``|z| > threshold``.
    """

    at: datetime
    value: float | None
    z: float | None
    mean: float | None
    std: float | None
    history: int
    flagged: bool

    @property
    def direction(self) -> str:
        """``"high"`` or ``"low"`` for a scored point off its mean, else ``""``."""
        if not self.z:
            return ""
        return "high" if self.z > 0 else "low"


def score(
    points: Iterable[tuple[datetime, float | None]],
    *,
    window: timedelta,
    threshold: float,
    min_history: int = MIN_HISTORY,
) -> list[Score]:
    """Score every point against the values in the ``window`` before it.

    Args:
        points: ``(time, value)`` pairs, in any order; times should be unique
            (a point never counts in its own baseline, nor do others at the same time).
        window: Length of the trailing window, e.g. ``timedelta(minutes=60)``.
        threshold: Flag when ``|z|`` is strictly above this (e.g. 3).
        min_history: Values the window must hold for a score (at least 2).

    Returns:
        One :class:`Score` per point, in time order.

    Raises:
        ValueError: A non-positive ``window`` or ``threshold``, or ``min_history`` below 2.
    """
    if window <= timedelta(0) or threshold <= 0 or min_history < 2:
        msg = (
            f"window and threshold must be positive and min_history at least 2, "
            f"not {window}, {threshold}, {min_history}"
        )
        raise ValueError(msg)
    ordered = sorted(((at, _clean(v)) for at, v in points), key=lambda p: p[0])
    scores = []
    first = 0  # index of the oldest point still inside the window: a sliding two-pointer
    for i, (at, value) in enumerate(ordered):
        while ordered[first][0] < at - window:
            first += 1
        history = [v for t, v in ordered[first:i] if t < at and v is not None]
        scores.append(_score(at, value, history, threshold, min_history))
    return scores


def anomalies(
    points: Iterable[tuple[datetime, float | None]],
    *,
    window: timedelta,
    threshold: float,
    min_history: int = MIN_HISTORY,
) -> list[Score]:
    """The flagged points of :func:`score`, in time order."""
    scored = score(points, window=window, threshold=threshold, min_history=min_history)
    return [s for s in scored if s.flagged]


def _score(
    at: datetime, value: float | None, history: list[float], threshold: float, min_history: int
) -> Score:
    if len(history) < min_history:
        return Score(at, value, None, None, None, len(history), flagged=False)
    mean = statistics.mean(history)
    std = statistics.stdev(history, mean)
    z: float | None = None
    if value is not None and std > 0:
        z = (value - mean) / std
    elif value is not None and value == mean:
        z = 0.0  # flat history, and the point is on it
    flagged = z is not None and abs(z) > threshold
    return Score(at, value, z, mean, std, len(history), flagged)


def _clean(value: float | None) -> float | None:
    """A finite float, or None for a missing one (NaN and infinities are missing too)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
