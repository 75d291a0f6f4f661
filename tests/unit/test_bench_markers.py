"""Marker latencies from polls of the reserved minute, and exact percentiles."""

from __future__ import annotations

import pytest

from app.bench.markers import Poll, latencies, nearest_rank


def test_each_marker_is_seen_at_the_first_poll_whose_count_covers_it() -> None:
    sent = [0.0, 1.0, 2.0, 3.0]
    polls = [Poll(0.5, 5), Poll(1.6, 6), Poll(2.2, 6), Poll(3.4, 8), Poll(3.9, 9)]
    # Baseline 5: the first marker shows at 1.6 s, the next two together at 3.4 s.
    assert latencies(sent, polls, baseline=5) == pytest.approx([1.6, 2.4, 1.4, 0.9])


def test_polls_out_of_order_are_sorted_and_unseen_markers_are_none() -> None:
    sent = [0.0, 1.0, 2.0]
    polls = [Poll(2.5, 2), Poll(1.2, 1)]
    assert latencies(sent, polls) == pytest.approx([1.2, 1.5, None])


def test_a_count_beyond_the_markers_sent_is_capped() -> None:
    assert latencies([0.0], [Poll(0.3, 4)]) == pytest.approx([0.3])


def test_a_falling_count_is_an_error() -> None:
    with pytest.raises(ValueError, match="fell from 3 to 2"):
        latencies([0.0, 1.0, 2.0], [Poll(1.0, 3), Poll(2.0, 2)])


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert nearest_rank(values, (0.5, 0.95, 0.99, 1.0)) == {
        "p50": 50.0,
        "p95": 95.0,
        "p99": 99.0,
        "p100": 100.0,
    }
    assert nearest_rank([], (0.5,)) == {"p50": None}
    with pytest.raises(ValueError, match="outside"):
        nearest_rank(values, (1.5,))
