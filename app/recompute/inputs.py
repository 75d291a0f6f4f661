"""The archive read back as the bus records the job took, batch by batch.

The job archives, under its own batch id, the events it counted, the events it found late,
the duplicates it dropped and the records it refused (raw): together, every record of the
batch (docs/operations.md). Rebuilding each batch's raw columns — the
operator's input, ``value``, ``partition``, ``offset``, ``publish_time`` — and running the
operator over them batch by batch moves the watermark exactly as the stream did, so the same
events are late and the same minutes close.

Archives written before duplicates were archived (the ``duplicates`` dataset) lack them: the
counts are still reproduced (a duplicate counts nothing), but a minute a duplicate touched
was written again by the stream with a later ``watermark`` field than the recomputation gives.

The batch's clock, against which "in the future" is judged, is not archived; it is rebuilt.
The archive knows each record's verdict, so any clock from the latest accepted event time less
the allowance up to the earliest future-dated reject's less the allowance reproduces them all
(:func:`_clock`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from adapters.errors import ConfigurationError
from adapters.ports import BATCH_COLUMN, Archive
from adapters.urls import mask_url
from app.events.contract import Event
from app.events.rejects import MAX_FUTURE, Reason
from app.pipeline.documents import KPI_MINUTES
from app.pipeline.records import EVENT_FIELDS, POSITION, event_time_of
from app.pipeline.sinks import DUPLICATES, EVENTS, LATE_EVENTS, REJECTS

#: The operator's input columns, and the clock a recomputation passes it.
RAW_COLUMNS = ("value", *POSITION, "batch_time")
RAW_SCHEMA = pa.schema(
    [
        pa.field("value", pa.binary()),
        pa.field("partition", pa.int32()),
        pa.field("offset", pa.int64()),
        pa.field("publish_time", pa.timestamp("us", tz="UTC")),
        pa.field("batch_time", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class ArchivedBatch:
    """One batch of the job as the archive has it: its id and its records, rebuilt."""

    batch_id: str
    raw: pa.Table  # RAW_SCHEMA
    events: int  # accepted records (counted, late or duplicate)
    rejects: int
    newest: datetime | None = None  # the latest accepted event time
    event_ids: frozenset[str] = frozenset()
    arrivals: int = 0  # events added to it by a backfill (app/recompute/arrivals.py)


def serialize(row: dict[str, Any]) -> bytes:
    """An archived event as the bytes a producer would have sent: the contract's own JSON."""
    fields = {name: row.get(name) for name in EVENT_FIELDS}
    for name in ("event_time", "ingest_ts"):
        stamp = fields[name]
        if isinstance(stamp, datetime):
            fields[name] = utc(stamp)
    return Event.model_validate(fields).model_dump_json(exclude_none=True).encode()


def utc(stamp: datetime) -> datetime:
    """An aware UTC datetime (stores and pyarrow may hand back naive ones meaning UTC)."""
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def archived_batches(
    archive: Archive, progress: Callable[[str], None] = lambda _: None
) -> list[ArchivedBatch]:
    """Every batch the archive holds records of, in batch order, as the operator's input."""
    accepted = _by_batch(
        _read(archive, EVENTS) + _read(archive, LATE_EVENTS) + _read(archive, DUPLICATES)
    )
    refused = _by_batch(_read(archive, REJECTS))
    progress(
        f"archive: {sum(map(len, accepted.values())):,} accepted events, "
        f"{sum(map(len, refused.values())):,} refused records"
    )
    odd = sorted(b for b in accepted.keys() | refused.keys() if not b.isdigit())
    if odd:
        msg = (
            f"archive files of batch {odd[0]!r} are not the stream job's (its batch ids are "
            f"numbers): the archive at {mask_url(archive.url)} holds other writers' files, "
            "which a recomputation cannot place"
        )
        raise ConfigurationError(msg)
    _check_rejects_archived(archive, refused)
    return [
        _batch(batch_id, accepted.get(batch_id, []), refused.get(batch_id, []))
        for batch_id in sorted(accepted.keys() | refused.keys())
    ]


def _batch(
    batch_id: str,
    accepted: list[dict[str, Any]],
    refused: list[dict[str, Any]],
) -> ArchivedBatch:
    rows: list[dict[str, Any]] = [
        {
            "value": serialize(r),
            "partition": r["partition"],
            "offset": r["offset"],
            "publish_time": utc(r["publish_time"]),
        }
        for r in accepted
    ]
    rows += [
        {
            "value": r["raw"] or b"",
            "partition": r["partition"],
            "offset": r["offset"],
            "publish_time": utc(r["publish_time"]),
        }
        for r in refused
    ]
    rows.sort(key=lambda r: (r["partition"], r["offset"]))
    newest = max((utc(r["event_time"]) for r in accepted), default=None)
    clock = _clock(rows, newest, refused)
    for r in rows:
        r["batch_time"] = clock
    return ArchivedBatch(
        batch_id,
        pa.Table.from_pylist(rows, schema=RAW_SCHEMA),
        len(accepted),
        len(refused),
        newest,
        frozenset(r["event_id"] for r in accepted),
    )


def _clock(
    rows: list[dict[str, Any]], newest: datetime | None, refused: list[dict[str, Any]]
) -> datetime:
    """A clock under which every record of the batch gets the verdict it got in the stream.

    At least the newest accepted time less the allowance (else it would be "in the future"),
    and below the earliest future-dated reject's time less the allowance (else it would now
    pass). The batch's last publish time is taken when it fits: a producer's clock may run
    ahead of the job's, so it is not a bound.
    """
    lowest = newest - MAX_FUTURE if newest is not None else None
    futures = [
        t
        for r in refused
        if r["reason"] == Reason.FUTURE_EVENT_TIME.value
        and (t := event_time_of(r["raw"] or b"")) is not None
    ]
    below = min(futures) - MAX_FUTURE if futures else None
    clock: datetime = max(r["publish_time"] for r in rows)
    if lowest is not None:
        clock = max(clock, lowest)
    if below is not None and clock >= below:
        clock = lowest if lowest is not None else below - timedelta(milliseconds=1)
    return clock


def add_arrivals(batch: ArchivedBatch, values: list[bytes], first_offset: int) -> ArchivedBatch:
    """``batch`` with events a backfill adds, at its clock.

    They were never on the bus, so they have no position there: partition -1, offsets from
    ``first_offset`` (each added event gets its own, across batches).
    """
    clock = batch.raw["batch_time"][0].as_py()
    added = pa.Table.from_pylist(
        [
            {
                "value": value,
                "partition": -1,
                "offset": first_offset + n,
                "publish_time": clock,
                "batch_time": clock,
            }
            for n, value in enumerate(values)
        ],
        schema=RAW_SCHEMA,
    )
    return replace(batch, raw=pa.concat_tables([batch.raw, added]), arrivals=len(values))


def _check_rejects_archived(archive: Archive, refused: dict[str, list[dict[str, Any]]]) -> None:
    """Refuse an archive from before rejects were archived: its dead letters would count 0."""
    final = archive.read(KPI_MINUTES)
    if refused or not final.num_rows or "deadlettered" not in final.column_names:
        return
    if pc.sum(final["deadlettered"]).as_py():
        msg = (
            "the archive's final minutes count dead letters but it holds no rejected records: "
            "it was written before the job archived them (the `rejects` dataset), and a "
            "recomputation would count none; reconcile or backfill only ranges written since"
        )
        raise ConfigurationError(msg)


def _read(archive: Archive, dataset: str) -> list[dict[str, Any]]:
    """The dataset's rows as dicts (decimals stay exact)."""
    rows: list[dict[str, Any]] = archive.read(dataset, with_batch=True).to_pylist()
    return rows


def _by_batch(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(str(row[BATCH_COLUMN]), []).append(row)
    return out
