"""One behavioural suite for every archive binding: memory and Parquet (file URL, plain path)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from adapters.archive import memory
from adapters.archive.memory import MemoryArchive
from adapters.archive.parquet import ParquetArchive, _translated
from adapters.errors import TerminalError, TransientError
from adapters.ports import BATCH_COLUMN, Archive, ArchiveWrite
from adapters.registry import open_archive
from tests.support.buckets import bucket_archive
from tests.support.urls import with_query

pytestmark = pytest.mark.timeout(60)

DAY25_22 = "year=2026/month=11/day=25/hour=22"
DAY25_23 = "year=2026/month=11/day=25/hour=23"
DAY26_00 = "year=2026/month=11/day=26/hour=00"
TIMES = [
    datetime(2026, 11, 25, 22, 10, tzinfo=UTC),
    datetime(2026, 11, 25, 22, 50, tzinfo=UTC),
    datetime(2026, 11, 25, 23, 5, tzinfo=UTC),
    datetime(2026, 11, 25, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 11, 26, 0, 0, tzinfo=UTC),
    datetime(2026, 11, 26, 0, 30, tzinfo=UTC),
]
SCHEMA = pa.schema(
    [
        ("event_id", pa.int64()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("product", pa.string()),
        ("price", pa.float64()),
        ("amount", pa.decimal128(10, 2)),
    ]
)


def events(times: list[datetime] = TIMES, first_id: int = 0) -> pa.Table:
    n = len(times)
    return pa.table(
        {
            "event_id": range(first_id, first_id + n),
            "ts": times,
            "product": [f"sku-{i % 3}" for i in range(n)],
            "price": [9.99 + i for i in range(n)],
            "amount": [Decimal(f"{i}.25") for i in range(n)],
        },
        schema=SCHEMA,
    )


def by_id(table: pa.Table) -> pa.Table:
    return table.sort_by("event_id")


@pytest.fixture(
    params=[
        "memory",
        "parquet-file-url",
        "parquet-plain-path",
        pytest.param("s3", marks=pytest.mark.emulators),
        pytest.param("gcs", marks=pytest.mark.emulators),
    ]
)
def archive_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    if request.param in ("s3", "gcs"):
        with bucket_archive(request.param, monkeypatch) as url:
            yield url
    elif request.param == "memory":
        name = f"contract-{uuid.uuid4().hex}"
        yield f"memory://{name}"
        memory.reset(name)
    elif request.param == "parquet-file-url":
        yield (tmp_path / "archive").as_uri()
    else:
        monkeypatch.chdir(tmp_path)
        yield "archive"  # relative on purpose: the binding must make it absolute


@pytest.fixture
def archive(archive_url: str) -> Archive:
    return open_archive(archive_url)


# ------------------------------------------------------------------ writing


def test_write_splits_rows_by_utc_hour_across_a_day_boundary(archive: Archive) -> None:
    result = archive.write("events", events(), time_column="ts", batch_id="b1")

    assert result.rows == 6
    assert len(result.files) == 3
    for part, path in zip([DAY25_22, DAY25_23, DAY26_00], result.files, strict=True):
        assert path.endswith(f"events/{part}/part-b1-0.parquet")
    assert archive.partitions("events") == [DAY25_22, DAY25_23, DAY26_00]
    hours = [datetime(2026, 11, 25, 22, tzinfo=UTC) + timedelta(hours=h) for h in range(3)]
    counts = [archive.read("events", h, h + timedelta(hours=1)).num_rows for h in hours]
    assert counts == [2, 2, 2]


def test_rows_round_trip_with_their_values_and_types(archive: Archive) -> None:
    table = events()
    archive.write("events", table, time_column="ts", batch_id="b1")

    back = archive.read("events")

    assert back.schema.equals(SCHEMA)
    assert by_id(back).equals(table)
    assert "year" not in back.column_names
    assert "hour" not in back.column_names


def test_read_prunes_by_hour_and_filters_exactly_with_time_column(archive: Archive) -> None:
    archive.write("events", events(), time_column="ts", batch_id="b1")
    start = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)
    end = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)

    pruned = archive.read("events", start, end)
    exact = archive.read("events", start, end, time_column="ts")

    assert by_id(pruned)["event_id"].to_pylist() == [0, 1, 2, 3]
    assert by_id(exact)["event_id"].to_pylist() == [1, 2]


def test_read_with_open_bounds_and_naive_bounds_as_utc(archive: Archive) -> None:
    archive.write("events", events(), time_column="ts", batch_id="b1")
    midnight = datetime(2026, 11, 26, 0, 0)  # noqa: DTZ001 - naive on purpose: means UTC

    before = archive.read("events", end=midnight, time_column="ts")
    after = archive.read("events", start=midnight, time_column="ts")

    assert sorted(before["event_id"].to_pylist()) == [0, 1, 2, 3]
    assert sorted(after["event_id"].to_pylist()) == [4, 5]


def test_read_where_nothing_matches_is_empty(archive: Archive) -> None:
    archive.write("events", events(), time_column="ts", batch_id="b1")
    start = datetime(2026, 11, 25, 22, 15, tzinfo=UTC)

    assert archive.read("events", datetime(2030, 1, 1, tzinfo=UTC)).num_rows == 0
    assert archive.read("events", start, start, time_column="ts").num_rows == 0
    no_rows = archive.read("events", start, start + timedelta(minutes=5), time_column="ts")
    assert no_rows.num_rows == 0
    assert no_rows.schema.equals(SCHEMA)


def test_rewriting_a_batch_replaces_it_everywhere(archive: Archive) -> None:
    archive.write("events", events(), time_column="ts", batch_id="b1")
    archive.write("events", events(), time_column="ts", batch_id="b1")
    assert archive.read("events").num_rows == 6

    fewer = events([datetime(2026, 11, 25, 23, 15, tzinfo=UTC)], first_id=100)
    result = archive.write("events", fewer, time_column="ts", batch_id="b1")

    assert result.rows == 1
    assert archive.partitions("events") == [DAY25_23]
    assert archive.read("events")["event_id"].to_pylist() == [100]


def test_different_batches_accumulate_even_when_one_id_prefixes_another(archive: Archive) -> None:
    archive.write("events", events(), time_column="ts", batch_id="a")
    archive.write("events", events(first_id=10), time_column="ts", batch_id="a-1")
    assert archive.read("events").num_rows == 12

    # Rewriting "a" must not touch "a-1", whose file name starts with "part-a-".
    archive.write("events", events(TIMES[:1], first_id=50), time_column="ts", batch_id="a")

    ids = sorted(archive.read("events")["event_id"].to_pylist())
    assert ids == [10, 11, 12, 13, 14, 15, 50]


def test_read_with_batch_names_each_rows_batch(archive: Archive) -> None:
    archive.write("events", events(), time_column="ts", batch_id="0000000007")
    archive.write("events", events(first_id=10), time_column="ts", batch_id="a-1")
    newer = events(TIMES[:2], first_id=20).append_column("coupon", pa.array(["X", "Y"]))
    archive.write("events", newer, time_column="ts", batch_id="0000000010")

    back = archive.read("events", with_batch=True)
    batches = dict(zip(back["event_id"].to_pylist(), back[BATCH_COLUMN].to_pylist(), strict=True))
    assert batches == {
        **dict.fromkeys(range(6), "0000000007"),
        **dict.fromkeys(range(10, 16), "a-1"),
        20: "0000000010",
        21: "0000000010",
    }
    # Filters still apply, and the plain read has no such column.
    start = datetime(2026, 11, 25, 23, tzinfo=UTC)
    late = archive.read("events", start, time_column="ts", with_batch=True)
    assert late.num_rows == sum(t >= start for t in TIMES) * 2 + sum(t >= start for t in TIMES[:2])
    assert BATCH_COLUMN not in archive.read("events").column_names


def test_datasets_are_separate(archive: Archive) -> None:
    archive.write("events", events(), time_column="ts", batch_id="b1")
    archive.write("orders", events(TIMES[:1]), time_column="ts", batch_id="b1")

    assert archive.read("events").num_rows == 6
    assert archive.partitions("orders") == [DAY25_22]


def test_empty_table_writes_nothing(archive: Archive) -> None:
    result = archive.write("events", events([]), time_column="ts", batch_id="b1")

    assert result == ArchiveWrite(files=(), rows=0)
    assert archive.partitions("events") == []
    assert archive.read("events").num_rows == 0


def test_time_column_in_other_zones_and_units_partitions_by_utc(archive: Archive) -> None:
    instant = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    zoned = pa.table({"t": pa.array([instant], pa.timestamp("ns", tz="Asia/Kolkata"))})
    naive = pa.table({"t": pa.array([instant.replace(tzinfo=None)], pa.timestamp("ms"))})

    archive.write("zoned", zoned, time_column="t", batch_id="z")
    archive.write("naive", naive, time_column="t", batch_id="n")

    assert archive.partitions("zoned") == [DAY25_23]
    assert archive.partitions("naive") == [DAY25_23]
    assert archive.read("zoned").equals(zoned)
    assert archive.read("naive", instant, time_column="t").equals(naive)


def test_schema_evolution_reads_old_rows_with_nulls(archive: Archive) -> None:
    archive.write("events", events(), time_column="ts", batch_id="b1")
    newer = events(first_id=10)
    newer = newer.append_column("coupon", pa.array(["X"] * 6, pa.string()))
    archive.write("events", newer, time_column="ts", batch_id="b2")

    back = by_id(archive.read("events"))

    assert back.column_names == [*SCHEMA.names, "coupon"]
    assert back["coupon"].to_pylist() == [None] * 6 + ["X"] * 6


def test_delete_dataset(archive: Archive) -> None:
    archive.write("events", events(), time_column="ts", batch_id="b1")
    archive.write("orders", events(), time_column="ts", batch_id="b1")

    archive.delete_dataset("events")
    archive.delete_dataset("events")  # no error when it is gone
    archive.delete_dataset("never-written")

    assert archive.partitions("events") == []
    assert archive.read("events").num_rows == 0
    assert archive.read("orders").num_rows == 6


# ------------------------------------------------------------- rejected input


def test_missing_dataset_reads_empty(archive: Archive) -> None:
    assert archive.read("nothing-here").num_rows == 0
    assert archive.read("nothing-here", time_column="ts").num_rows == 0
    assert archive.partitions("nothing-here") == []


def test_null_time_is_terminal_and_writes_nothing(archive: Archive) -> None:
    table = events([TIMES[0], TIMES[1]])
    table = table.set_column(1, "ts", pa.array([TIMES[0], None], SCHEMA.field("ts").type))

    with pytest.raises(TerminalError, match="null"):
        archive.write("events", table, time_column="ts", batch_id="b1")
    assert archive.partitions("events") == []


@pytest.mark.parametrize("column", ["missing", "product"])
def test_time_column_must_be_a_timestamp(archive: Archive, column: str) -> None:
    with pytest.raises(TerminalError, match="time column"):
        archive.write("events", events(), time_column=column, batch_id="b1")


@pytest.mark.parametrize("column", ["year", "hour"])
def test_partition_key_columns_are_refused(archive: Archive, column: str) -> None:
    table = events().append_column(column, pa.array([1] * len(TIMES)))
    with pytest.raises(TerminalError, match="reserved"):
        archive.write("events", table, time_column="ts", batch_id="b1")
    assert archive.partitions("events") == []


def test_read_filter_on_a_non_timestamp_column_is_terminal(archive: Archive) -> None:
    archive.write("events", events(), time_column="ts", batch_id="b1")
    with pytest.raises(TerminalError, match="time column"):
        archive.read("events", TIMES[0], time_column="product")


@pytest.mark.parametrize("batch_id", ["", "a/b", "a b", "../up", "é", "x" * 201])
def test_bad_batch_id_is_terminal(archive: Archive, batch_id: str) -> None:
    with pytest.raises(TerminalError, match="batch id"):
        archive.write("events", events(), time_column="ts", batch_id=batch_id)


@pytest.mark.parametrize("dataset", ["", "a/b", "..", ".hidden", "_meta"])
def test_bad_dataset_name_is_terminal(archive: Archive, dataset: str) -> None:
    with pytest.raises(TerminalError, match="dataset name"):
        archive.write(dataset, events(), time_column="ts", batch_id="b1")


# ---------------------------------------------------------- registry, faults


def test_injected_faults_fail_the_second_call(archive_url: str) -> None:
    faulty = open_archive(with_query(archive_url, "fault.fail_every=2"))

    faulty.write("events", events(), time_column="ts", batch_id="b1")
    with pytest.raises(TransientError):
        faulty.read("events")
    assert faulty.read("events").num_rows == 6


def test_registry_picks_the_binding_by_url(tmp_path: Path) -> None:
    assert isinstance(open_archive(tmp_path.as_uri()), ParquetArchive)
    assert isinstance(open_archive(str(tmp_path)), ParquetArchive)
    assert isinstance(open_archive("memory://registry"), MemoryArchive)
    assert isinstance(open_archive("memory://registry"), Archive)


def test_memory_archives_with_one_name_share_data() -> None:
    name = f"shared-{uuid.uuid4().hex}"
    try:
        MemoryArchive(f"memory://{name}").write("e", events(), time_column="ts", batch_id="b")
        assert MemoryArchive(f"memory://{name}").read("e").num_rows == 6
        assert MemoryArchive("memory://other").read("e").num_rows == 0
        memory.reset(name)
        assert MemoryArchive(f"memory://{name}").partitions("e") == []
    finally:
        memory.reset(name)


# -------------------------------------------------------- Parquet specifics


def test_parquet_leaves_no_temporary_files(tmp_path: Path) -> None:
    archive = ParquetArchive((tmp_path / "a").as_uri())
    archive.write("events", events(), time_column="ts", batch_id="b1")
    archive.write("events", events(TIMES[:2]), time_column="ts", batch_id="b1")

    names = sorted(p.name for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert names == ["part-b1-0.parquet"]


def test_parquet_ignores_hidden_and_foreign_files(tmp_path: Path) -> None:
    archive = ParquetArchive(str(tmp_path))
    archive.write("events", events(), time_column="ts", batch_id="b1")
    partition = tmp_path / "events" / DAY25_22
    (partition / ".tmp-crashed.parquet").write_bytes(b"half a file")
    (partition / "_SUCCESS").write_bytes(b"")
    (tmp_path / "events" / "notes.txt").write_text("not data")

    assert archive.read("events").num_rows == 6
    assert archive.partitions("events") == [DAY25_22, DAY25_23, DAY26_00]


def test_parquet_corrupt_file_is_terminal(tmp_path: Path) -> None:
    archive = ParquetArchive(str(tmp_path))
    archive.write("events", events(), time_column="ts", batch_id="b1")
    (tmp_path / "events" / DAY25_22 / "part-b2-0.parquet").write_bytes(b"not parquet")

    with pytest.raises(TerminalError):
        archive.read("events")


def test_parquet_io_failure_is_transient(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the archive's directory should be")
    archive = ParquetArchive(str(tmp_path / "blocked"))

    with pytest.raises(TransientError) as caught:
        archive.write("events", events(), time_column="ts", batch_id="b1")
    assert isinstance(caught.value.__cause__, OSError)


def test_translation_of_arrow_errors() -> None:
    with pytest.raises(TerminalError), _translated("reading"):
        raise pa.ArrowInvalid("bad schema")  # noqa: EM101
    with pytest.raises(TransientError), _translated("reading"):
        raise OSError("connection reset")  # noqa: EM101


def test_parquet_works_with_object_store_paths(tmp_path: Path) -> None:
    # Bucket-style paths (no leading "/", directories only implied by keys) are
    # what s3:// and gs:// resolve to; pyarrow's mock filesystem has those rules.
    from pyarrow.fs import _MockFileSystem

    archive = ParquetArchive(str(tmp_path))
    archive._fs, archive._root = _MockFileSystem(), "bucket/prefix"
    result = archive.write("events", events(), time_column="ts", batch_id="b1")
    archive.write("events", events(TIMES[:1]), time_column="ts", batch_id="b1")

    assert result.files[0] == f"bucket/prefix/events/{DAY25_22}/part-b1-0.parquet"
    assert archive.partitions("events") == [DAY25_22]
    assert archive.read("events")["event_id"].to_pylist() == [0]
    archive.delete_dataset("events")
    assert archive.read("events").num_rows == 0
