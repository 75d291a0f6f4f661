"""The operator state's bookkeeping: ids found by binary search, users merged per minute."""

from __future__ import annotations

import numpy as np

from app.pipeline.state import Clock


def test_remembered_ids_are_found_and_others_not() -> None:
    rng = np.random.default_rng(7)
    clock = Clock(None)
    first = rng.integers(0, 2**63, 5_000, dtype=np.int64).astype(np.uint64)
    clock.remember(first, np.arange(5_000, dtype=np.int64))
    second = rng.integers(0, 2**63, 3_000, dtype=np.int64).astype(np.uint64)
    assert not clock.seen(second).any()
    clock.remember(second, np.arange(3_000, dtype=np.int64))
    assert clock.seen(np.concatenate([first, second])).all()
    assert bool(np.all(np.diff(clock.ids.astype(np.float64)) >= 0))
    # Each id keeps its own event time through the inserts.
    times = dict(zip(clock.ids.tolist(), clock.id_times.tolist(), strict=True))
    assert [times[h] for h in second[:3].tolist()] == [0, 1, 2]


def test_an_old_checkpoint_with_unsorted_ids_is_sorted_on_load() -> None:
    old = Clock(None)
    old.ids = np.array([30, 10, 20], np.uint64)
    old.id_times = np.array([3, 1, 2], np.int64)
    loaded = Clock(old.packed())
    assert loaded.ids.tolist() == [10, 20, 30]
    assert loaded.id_times.tolist() == [1, 2, 3]
    assert loaded.seen(np.array([20, 25], np.uint64)).tolist() == [True, False]


def test_users_are_distinct_per_minute_and_other_minutes_untouched() -> None:
    clock = Clock(None)
    clock.add_users(np.array([0, 0, 60_000]), np.array([5, 5, 5]))
    clock.add_users(np.array([0, 120_000, 0]), np.array([7, 5, 5]))
    pairs = sorted(map(tuple, clock.users.tolist()))
    assert pairs == [(0, 5), (0, 7), (60_000, 5), (120_000, 5)]
    clock.add_users(np.array([], np.int64), np.array([], np.int64))
    assert len(clock.users) == 4
