"""reconcile's comparison: the compared fields, and documents ahead of the archive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.hot.memory import MemoryHotStore, reset
from app.pipeline.documents import KPI_MINUTES
from app.pipeline.output import MINUTE_COLUMNS
from app.recompute.reconcile import reconcile
from app.recompute.rerun import Recomputed

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
RANGE = (T0, T0 + timedelta(hours=1))


def minute(at: datetime, batch: int, **counts: Any) -> dict[str, Any]:
    doc = dict.fromkeys(MINUTE_COLUMNS, 0) | {"minute": at, "final": True, "watermark": at}
    return doc | counts | {"batch_id": batch}


@pytest.fixture
def hot() -> MemoryHotStore:
    reset("reconcile")
    return MemoryHotStore("memory://reconcile")


def recomputed(*docs: dict[str, Any], last: int) -> Recomputed:
    return Recomputed(minutes={d["minute"]: d for d in docs}, last_batch=f"{last:010d}")


def test_equal_minutes_reconcile_whatever_their_stamps(hot: MemoryHotStore) -> None:
    stored = minute(T0, 3, page_views=5) | {"written_at": T0, "latency": {"b01": 2}}
    hot.upsert_many(KPI_MINUTES, [stored | {"watermark": T0 - timedelta(minutes=1)}], ["minute"])
    found = reconcile(hot, recomputed(minute(T0, 3, page_views=5), last=3), *RANGE)
    assert found.identical and found.compared_minutes == 1


def test_a_difference_names_the_minute_and_field(hot: MemoryHotStore) -> None:
    hot.upsert_many(KPI_MINUTES, [minute(T0, 2, purchases=9)], ["minute"])
    found = reconcile(hot, recomputed(minute(T0, 2, purchases=1), last=3), *RANGE)
    assert [(d.where, d.field, d.left, d.right) for d in found.minutes] == [
        ("2026-11-25T10:00Z", "purchases", 9, 1)
    ]


def test_the_newest_batch_counts_as_ahead_until_the_job_reported_it(
    hot: MemoryHotStore,
) -> None:
    hot.upsert_many(KPI_MINUTES, [minute(T0, 3, purchases=9)], ["minute"])
    fresh = recomputed(minute(T0, 3, purchases=1), last=3)
    # The job reported batch 2 only: batch 3's archive files may be part-written.
    running = reconcile(hot, fresh, *RANGE, job_batch=2)
    assert running.identical and running.ahead == ["2026-11-25T10:00Z"]
    # Reported (or no job): compared, and the difference is one.
    for job_batch in (3, None):
        assert not reconcile(hot, fresh, *RANGE, job_batch=job_batch).identical
    # A minute written by a batch the archive does not have yet is ahead either way.
    hot.upsert_many(KPI_MINUTES, [minute(T0, 4, purchases=9)], ["minute"])
    assert reconcile(hot, fresh, *RANGE, job_batch=4).ahead == ["2026-11-25T10:00Z"]


def test_a_minute_on_one_side_only_is_a_difference(hot: MemoryHotStore) -> None:
    hot.upsert_many(KPI_MINUTES, [minute(T0, 1)], ["minute"])
    later = minute(T0 + timedelta(minutes=1), 1)
    found = reconcile(hot, recomputed(minute(T0, 1), later, last=1), *RANGE)
    assert [(d.where, d.field) for d in found.minutes] == [("2026-11-25T10:01Z", "(whole row)")]
