"""Marker events: end-to-end latency as a dashboard user sees it, read back through the API.

The benchmark publishes one marker a second, all for one reserved shopper (so one partition,
read in order) and all timed inside one reserved minute that no other traffic touches, and polls
that minute's ``events`` count through the API. Since the markers are read in order, a count of
``baseline + k`` means the first ``k`` markers are visible: marker ``k``'s latency is the time of
the first poll that saw it minus the moment it was sent (its ``ingest_ts``). The poll interval
bounds the error from above; the histograms the job stores (:mod:`app.pipeline.latency`) are the
other measure, and the report shows both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.pipeline.latency import quantile_label, quantile_rank


@dataclass(frozen=True)
class Poll:
    """What one read of the reserved minute returned: its ``events`` count at ``at`` (seconds)."""

    at: float
    count: int


def latencies(
    sent: Sequence[float], polls: Iterable[Poll], baseline: int = 0
) -> list[float | None]:
    """Each marker's latency in seconds, in send order; None for a marker never seen.

    ``sent`` holds the send moments (the same clock as the polls'), ``baseline`` the minute's
    count before the first marker. A count that goes down (it never should: the job only adds
    to a minute) is an error, since every later figure would be wrong.
    """
    seen: list[float | None] = [None] * len(sent)
    visible = 0  # markers known visible so far
    last = baseline
    for poll in sorted(polls, key=lambda p: p.at):
        if poll.count < last:
            msg = f"the marker minute's count fell from {last} to {poll.count} at {poll.at:.3f} s"
            raise ValueError(msg)
        last = poll.count
        reached = min(poll.count - baseline, len(sent))
        for k in range(visible, reached):
            seen[k] = poll.at - sent[k]
        visible = max(visible, reached)
    return seen


def nearest_rank(values: Iterable[float], qs: Iterable[float]) -> dict[str, float | None]:
    """Exact percentiles of ``values`` by nearest rank (``{"p95": ...}``); None when empty.

    The same ranks and labels as the job's histogram percentiles (:mod:`app.pipeline.latency`).
    """
    ordered = sorted(values)
    result: dict[str, float | None] = {}
    for q in qs:
        rank = quantile_rank(q, len(ordered))  # checks q even when there is nothing to rank
        result[quantile_label(q)] = ordered[rank - 1] if ordered else None
    return result
