"""Helpers every archive binding shares: hour partitions, file names, row splitting.

Keeping them in one module is what makes the memory and Parquet archives
agree on partition names, batch-id rules and range semantics. Nothing here
does I/O; pyarrow is imported inside the functions that need it, so the
module loads without the ``local`` extra.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import takewhile
from typing import TYPE_CHECKING, Any

from adapters.errors import MissingExtraError, TerminalError

if TYPE_CHECKING:
    import pyarrow as pa

HOUR = timedelta(hours=1)

# Batch ids end up in file names on every filesystem, so only portable
# characters; the length cap keeps ``part-<id>-<n>.parquet`` under 255 bytes.
_BATCH_ID = re.compile(r"[A-Za-z0-9_.-]{1,200}")
# A dataset is one directory level: no "/" (nested datasets would see each
# other's files) and no leading "." or "_" (readers skip such names).
_DATASET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
_PARTITION = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})")
# ``<n>`` is the last "-digits", so batch ids that contain "-" still parse.
_PART_FILE = re.compile(r"part-(?P<batch>[A-Za-z0-9_.-]+)-(?P<n>\d+)\.parquet")


def require_pyarrow() -> None:
    """Raise ``MissingExtraError`` naming the extra when pyarrow is not installed."""
    try:
        import pyarrow  # noqa: F401
    except ModuleNotFoundError as e:
        raise MissingExtraError(package="pyarrow", extra="local") from e


def check_batch_id(batch_id: str) -> str:
    """Return ``batch_id`` when it is 1-200 of ``[A-Za-z0-9_.-]``; else ``TerminalError``."""
    if not isinstance(batch_id, str) or not _BATCH_ID.fullmatch(batch_id):
        msg = f"batch id {batch_id!r} must be 1-200 characters of [A-Za-z0-9_.-]"
        raise TerminalError(msg)
    return batch_id


def check_dataset(dataset: str) -> str:
    """Return ``dataset`` when it is a single safe directory name; else ``TerminalError``."""
    if not isinstance(dataset, str) or not _DATASET.fullmatch(dataset):
        msg = (
            f"dataset name {dataset!r} must be 1-200 characters of [A-Za-z0-9_.-] "
            "starting with a letter or digit"
        )
        raise TerminalError(msg)
    return dataset


def as_utc(ts: datetime) -> datetime:
    """``ts`` in UTC; a naive datetime is taken to be UTC already."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def hour_partition(ts: datetime) -> str:
    """The partition holding ``ts``, e.g. ``year=2026/month=11/day=25/hour=18``."""
    t = as_utc(ts)
    return f"year={t.year:04d}/month={t.month:02d}/day={t.day:02d}/hour={t.hour:02d}"


def is_partition(path: str) -> bool:
    """True when ``path`` is exactly an hour partition path."""
    return _PARTITION.fullmatch(path) is not None


def partition_start(partition: str) -> datetime:
    """The first instant (UTC) of an hour partition; ``ValueError`` for another path."""
    match = _PARTITION.fullmatch(partition)
    if match is None:
        msg = f"not an hour partition path: {partition!r}"
        raise ValueError(msg)
    year, month, day, hour = (int(g) for g in match.groups())
    return datetime(year, month, day, hour, tzinfo=UTC)


def overlaps(partition: str, start: datetime | None, end: datetime | None) -> bool:
    """True when the hour ``partition`` covers any instant of ``[start, end)``."""
    first = partition_start(partition)
    after_start = start is None or first + HOUR > as_utc(start)
    return after_start and (end is None or first < as_utc(end))


def hour_partitions(start: datetime, end: datetime) -> list[str]:
    """Every hour partition overlapping ``[start, end)``, oldest first."""
    first, stop = as_utc(start), as_utc(end)
    hour, out = first.replace(minute=0, second=0, microsecond=0), []
    while hour < stop and first < stop:
        out.append(hour_partition(hour))
        hour += HOUR
    return out


def common_prefix(start: datetime | None, end: datetime | None) -> str:
    """The deepest partition directory holding every hour of ``[start, end)``.

    Listing only below it is how a bounded read avoids listing the whole
    dataset (one request per level on object stores). ``""`` when a bound is
    missing, the range is empty or it spans years.
    """
    if start is None or end is None or as_utc(end) <= as_utc(start):
        return ""
    # The last hour touched is the one holding the last microsecond before ``end``.
    first = hour_partition(start).split("/")
    last = hour_partition(as_utc(end) - timedelta(microseconds=1)).split("/")
    same = takewhile(lambda pair: pair[0] == pair[1], zip(first, last, strict=True))
    return "/".join(segment for segment, _ in same)


def part_file_name(batch_id: str, n: int = 0) -> str:
    """The name of file ``n`` a batch writes in one partition."""
    return f"part-{batch_id}-{n}.parquet"


def batch_of(file_name: str) -> str | None:
    """The batch id in a ``part-<batch_id>-<n>.parquet`` name; None for other names."""
    match = _PART_FILE.fullmatch(file_name)
    return match["batch"] if match else None


def with_batch_column(rows: pa.Table, batch_id: str | None) -> pa.Table:
    """``rows`` with their file's batch id in column ``archive_batch`` (``Archive.read``)."""
    import pyarrow as pa

    return rows.append_column("archive_batch", pa.array([batch_id] * rows.num_rows, pa.string()))


def is_data_file(file_name: str) -> bool:
    """True for Parquet files readers should see (not temporary or hidden ones)."""
    return file_name.endswith(".parquet") and not file_name.startswith((".", "_"))


#: The directory levels of a partition path, reserved as column names.
PARTITION_KEYS = frozenset({"year", "month", "day", "hour"})


def check_time_column(schema: pa.Schema, time_column: str) -> None:
    """Raise ``TerminalError`` unless ``time_column`` is a timestamp field of ``schema``."""
    import pyarrow as pa

    if time_column not in schema.names:
        msg = f"time column {time_column!r} is not in the table; columns: {schema.names}"
        raise TerminalError(msg)
    kind = schema.field(time_column).type
    if not pa.types.is_timestamp(kind):
        msg = f"time column {time_column!r} must be a timestamp, not {kind}"
        raise TerminalError(msg)
    # Hive-style readers (Spark, pyarrow datasets) derive these columns from the
    # directory names; a data column of the same name would clash with them.
    if clash := sorted(PARTITION_KEYS.intersection(schema.names)):
        msg = f"columns {clash} are reserved for the archive's partitions; rename them"
        raise TerminalError(msg)


def split_by_hour(table: pa.Table, time_column: str) -> list[tuple[str, pa.Table]]:
    """Split ``table`` into ``(partition, rows)`` pairs, oldest partition first.

    Rows keep their relative order inside a partition. Raises ``TerminalError``
    when the time column is missing, not a timestamp, or holds nulls: a row
    without a time has no partition, and dropping it silently would lose data.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    check_time_column(table.schema, time_column)
    column = table.column(time_column)
    if column.null_count:
        msg = f"{column.null_count} row(s) have a null {time_column!r}; every row needs a time"
        raise TerminalError(msg)
    # Arrow stores instants as UTC whatever the zone, so relabelling as UTC
    # floors in UTC (and treats naive values as UTC, as documented).
    utc = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
    # Whole hours fit in seconds; "s" also keeps as_py() a plain datetime.
    hours = pc.floor_temporal(utc, unit="hour").cast(pa.timestamp("s", tz="UTC"))
    order = pc.sort_indices(hours)  # a stable sort
    table, hours = table.take(order), hours.take(order)
    out, offset = [], 0
    for item in pc.value_counts(hours):  # in first-seen order, which is sorted here
        count = item["counts"].as_py()
        out.append((hour_partition(item["values"].as_py()), table.slice(offset, count)))
        offset += count
    return out


def time_filter(
    schema: pa.Schema, time_column: str | None, start: datetime | None, end: datetime | None
) -> Any:
    """The expression ``start <= time_column < end``; None when there is nothing to filter."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if time_column is None or (start is None and end is None):
        return None
    check_time_column(schema, time_column)
    column_type = schema.field(time_column).type
    # The column's zone (Arrow refuses to compare naive with zoned times), but
    # never a coarser unit than the bound's: a "s" bound would truncate it.
    unit = "ns" if column_type.unit == "ns" else "us"
    kind = pa.timestamp(unit, tz=column_type.tz)
    field = pc.field(time_column)
    lower = field >= pa.scalar(as_utc(start), kind) if start is not None else None
    upper = field < pa.scalar(as_utc(end), kind) if end is not None else None
    if lower is None or upper is None:
        return lower if upper is None else upper
    return lower & upper
