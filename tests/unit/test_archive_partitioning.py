"""The shared archive helpers: partition names, ranges, batch ids, row splitting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from adapters.archive.partitioning import (
    batch_of,
    check_batch_id,
    common_prefix,
    hour_partition,
    hour_partitions,
    is_data_file,
    overlaps,
    part_file_name,
    partition_start,
    split_by_hour,
    time_filter,
)
from adapters.errors import TerminalError

T = datetime(2026, 11, 25, 18, 42, 7, tzinfo=UTC)


def test_hour_partition_is_zero_padded_utc() -> None:
    assert hour_partition(T) == "year=2026/month=11/day=25/hour=18"
    assert hour_partition(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == (
        "year=2026/month=01/day=02/hour=03"
    )
    plus_two = timezone(timedelta(hours=2))
    assert hour_partition(datetime(2026, 1, 1, 1, tzinfo=plus_two)) == (
        "year=2025/month=12/day=31/hour=23"
    )
    assert hour_partition(T.replace(tzinfo=None)) == hour_partition(T)


def test_partition_start_inverts_hour_partition() -> None:
    assert partition_start(hour_partition(T)) == T.replace(minute=0, second=0)
    with pytest.raises(ValueError, match="not an hour partition"):
        partition_start("year=2026/month=11")


def test_hour_partitions_overlapping_a_range() -> None:
    start = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)
    assert hour_partitions(start, start + timedelta(hours=2)) == [
        "year=2026/month=12/day=31/hour=22",
        "year=2026/month=12/day=31/hour=23",
        "year=2027/month=01/day=01/hour=00",
    ]
    on_the_hour = datetime(2026, 12, 31, 22, tzinfo=UTC)
    assert hour_partitions(on_the_hour, on_the_hour + timedelta(hours=1)) == [
        "year=2026/month=12/day=31/hour=22"
    ]
    assert hour_partitions(start, start) == []


def test_overlaps_is_half_open() -> None:
    part = "year=2026/month=11/day=25/hour=18"
    six, seven = datetime(2026, 11, 25, 18, tzinfo=UTC), datetime(2026, 11, 25, 19, tzinfo=UTC)
    assert overlaps(part, six, seven)
    assert overlaps(part, None, None)
    assert not overlaps(part, seven, None)
    assert not overlaps(part, None, six)
    assert overlaps(part, seven - timedelta(microseconds=1), None)


def test_common_prefix_narrows_listing() -> None:
    six = datetime(2026, 11, 25, 18, tzinfo=UTC)
    assert common_prefix(six, six + timedelta(hours=1)) == "year=2026/month=11/day=25/hour=18"
    assert common_prefix(six, six + timedelta(hours=3)) == "year=2026/month=11/day=25"
    assert common_prefix(six, six + timedelta(days=10)) == "year=2026"
    assert common_prefix(six, six + timedelta(days=60)) == ""
    assert common_prefix(None, six) == ""


@pytest.mark.parametrize("good", ["b1", "2026-11-25T18.0", "a_b-c.d", "x" * 200])
def test_good_batch_ids(good: str) -> None:
    assert check_batch_id(good) == good


@pytest.mark.parametrize("bad", ["", "a/b", "a b", "a\n", "x" * 201])
def test_bad_batch_ids(bad: str) -> None:
    with pytest.raises(TerminalError):
        check_batch_id(bad)


def test_file_names_carry_the_batch_id() -> None:
    assert part_file_name("a-1") == "part-a-1-0.parquet"
    assert batch_of("part-a-1-0.parquet") == "a-1"
    assert batch_of("part-a-3.parquet") == "a"
    assert batch_of(".tmp-123.parquet") is None
    assert is_data_file("part-a-0.parquet")
    assert not is_data_file(".tmp-1.parquet")
    assert not is_data_file("_SUCCESS")


def test_split_by_hour_groups_rows_and_keeps_their_order() -> None:
    times = [T, T + timedelta(hours=1), T + timedelta(minutes=1), T - timedelta(hours=30)]
    table = pa.table({"t": pa.array(times, pa.timestamp("us", tz="UTC")), "n": [0, 1, 2, 3]})

    parts = split_by_hour(table, "t")

    assert [(p, rows["n"].to_pylist()) for p, rows in parts] == [
        ("year=2026/month=11/day=24/hour=12", [3]),
        ("year=2026/month=11/day=25/hour=18", [0, 2]),
        ("year=2026/month=11/day=25/hour=19", [1]),
    ]


def test_split_by_hour_floors_times_before_1970() -> None:
    early = datetime(1969, 12, 31, 23, 30, tzinfo=UTC)
    table = pa.table({"t": pa.array([early], pa.timestamp("ns"))})
    assert split_by_hour(table, "t")[0][0] == "year=1969/month=12/day=31/hour=23"


def test_split_by_hour_rejects_nulls() -> None:
    table = pa.table({"t": pa.array([T, None], pa.timestamp("us", tz="UTC"))})
    with pytest.raises(TerminalError, match="1 row"):
        split_by_hour(table, "t")


def test_time_filter_uses_the_columns_type() -> None:
    naive = pa.table({"t": pa.array([T.replace(tzinfo=None)], pa.timestamp("ns"))})
    where = time_filter(naive.schema, "t", T - timedelta(seconds=1), T + timedelta(seconds=1))
    assert naive.filter(where).num_rows == 1
    assert time_filter(naive.schema, None, T, None) is None
    assert time_filter(naive.schema, "t", None, None) is None


def test_time_filter_keeps_sub_second_bounds_on_coarse_columns() -> None:
    whole = T.replace(microsecond=0)
    table = pa.table({"t": pa.array([whole, whole + timedelta(seconds=1)], pa.timestamp("s"))})
    half = whole + timedelta(milliseconds=500)
    assert table.filter(time_filter(table.schema, "t", half, None))["t"].to_pylist() == [
        (whole + timedelta(seconds=1)).replace(tzinfo=None)
    ]
    assert table.filter(time_filter(table.schema, "t", None, half)).num_rows == 1
