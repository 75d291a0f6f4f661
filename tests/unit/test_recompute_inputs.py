"""The archive read back as the operator's input, batch by batch, and events a backfill adds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from adapters.archive.memory import MemoryArchive, reset
from adapters.errors import ConfigurationError
from app.events.contract import Event
from app.events.rejects import MAX_FUTURE, validate
from app.pipeline.records import EVENT_FIELDS
from app.pipeline.sinks import DUPLICATES, EVENTS, LATE_EVENTS, REJECTS
from app.recompute.arrivals import place, read_events
from app.recompute.inputs import archived_batches, serialize

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def event(n: int, at: datetime, **extra: Any) -> dict[str, Any]:
    fields = {
        "event_id": f"e{n}",
        "event_time": at,
        "event_type": "purchase",
        "user_id": "u1",
        "product_id": "p1",
        "price": "12.50",
        "quantity": 2,
        "ingest_ts": at + timedelta(seconds=1),
        **extra,
    }
    model = Event.model_validate(fields)
    return {name: getattr(model, name) for name in EVENT_FIELDS}


def archived(rows: list[dict[str, Any]], offset: int, published: datetime) -> pa.Table:
    return pa.Table.from_pylist(
        [
            r | {"partition": 1, "offset": offset + n, "publish_time": published}
            for n, r in enumerate(rows)
        ]
    )


@pytest.fixture
def archive() -> MemoryArchive:
    reset("recompute-inputs")
    return MemoryArchive("memory://recompute-inputs")


def test_an_archived_event_serializes_to_bytes_the_contract_reads_back_alike() -> None:
    row = event(1, T0 + timedelta(microseconds=123_456), category_id="2053013555631882655")
    back = validate(serialize(row))
    assert isinstance(back, Event)
    assert {name: getattr(back, name) for name in EVENT_FIELDS} == row
    assert back.price == Decimal("12.50")


def test_batches_come_in_batch_order_with_every_kind_of_record(archive: MemoryArchive) -> None:
    published = T0 + timedelta(minutes=1)
    archive.write(
        EVENTS,
        archived([event(1, T0)], 0, published),
        time_column="event_time",
        batch_id="0000000002",
    )
    archive.write(
        LATE_EVENTS,
        archived([event(2, T0)], 5, published),
        time_column="event_time",
        batch_id="0000000002",
    )
    archive.write(
        DUPLICATES,
        archived([event(1, T0)], 9, published),
        time_column="event_time",
        batch_id="0000000010",
    )
    reject = {
        "raw": b"{not json",
        "reason": "bad_json",
        "message": "no",
        "partition": 0,
        "offset": 3,
        "publish_time": published,
    }
    archive.write(
        REJECTS, pa.Table.from_pylist([reject]), time_column="publish_time", batch_id="0000000002"
    )

    batches = archived_batches(archive)

    assert [b.batch_id for b in batches] == ["0000000002", "0000000010"]
    first = batches[0]
    assert (first.events, first.rejects) == (2, 1)
    # By position on the bus, the reject's raw bytes exactly.
    assert first.raw["offset"].to_pylist() == [3, 0, 5]
    assert first.raw["value"][0].as_py() == b"{not json"
    assert first.event_ids == {"e1", "e2"}
    assert batches[1].raw.num_rows == 1


def test_a_batch_clock_keeps_every_verdict(archive: MemoryArchive) -> None:
    # An accepted event 8 minutes ahead of its publish time: the stream's clock was at least
    # 3 minutes past it, so the rebuilt clock must be too, or the event would be refused.
    published = T0
    ahead = event(1, T0 + timedelta(minutes=8))
    archive.write(
        EVENTS, archived([ahead], 0, published), time_column="event_time", batch_id="0000000000"
    )
    (batch,) = archived_batches(archive)
    clock = batch.raw["batch_time"][0].as_py()
    assert clock == ahead["event_time"] - MAX_FUTURE
    assert isinstance(validate(batch.raw["value"][0].as_py(), clock), Event)


def test_a_producer_clock_ahead_does_not_let_a_refused_record_in(archive: MemoryArchive) -> None:
    # The stream's clock was T0; a record 6 minutes ahead of it was refused as future-dated,
    # published by a producer whose clock ran 2 minutes ahead (publish time T0 + 2 min).
    raw = json.dumps(
        {
            "event_id": "f",
            "event_time": "2026-11-25T10:06:00Z",
            "event_type": "page_view",
            "user_id": "u",
            "product_id": "p",
        }
    ).encode()
    reject = {
        "raw": raw,
        "reason": "future_event_time",
        "message": "ahead",
        "partition": 0,
        "offset": 1,
        "publish_time": T0 + timedelta(minutes=2),
    }
    archive.write(
        REJECTS, pa.Table.from_pylist([reject]), time_column="publish_time", batch_id="0000000000"
    )
    archive.write(
        EVENTS,
        archived([event(1, T0 - timedelta(minutes=1))], 0, T0),
        time_column="event_time",
        batch_id="0000000000",
    )
    (batch,) = archived_batches(archive)
    clock = batch.raw["batch_time"][0].as_py()
    values = dict(zip(batch.raw["offset"].to_pylist(), batch.raw["value"].to_pylist(), strict=True))
    assert not isinstance(validate(values[1], clock), Event)  # still refused
    assert isinstance(validate(values[0], clock), Event)  # still accepted


def test_added_events_join_the_first_batch_that_reached_their_time(
    archive: MemoryArchive,
) -> None:
    for n in range(3):  # batches reaching 10:10, 10:20, 10:30
        at = T0 + timedelta(minutes=10 * (n + 1))
        archive.write(
            EVENTS, archived([event(n, at)], n, at), time_column="event_time", batch_id=f"{n:010d}"
        )
    batches = archived_batches(archive)
    late = [
        Event.model_validate(event(10, T0 + timedelta(minutes=15))),
        Event.model_validate(event(11, T0 + timedelta(minutes=5))),
        Event.model_validate(event(0, T0 + timedelta(minutes=10))),  # archived already
        Event.model_validate(event(12, T0 + timedelta(minutes=31))),
    ]  # newer than all

    placed = place(batches, late)

    assert placed.added == 2
    assert placed.already_archived == ["e0"] and placed.too_new == ["e12"]
    sizes = [(b.batch_id, b.raw.num_rows, b.arrivals) for b in placed.batches]
    assert sizes == [("0000000000", 2, 1), ("0000000001", 2, 1), ("0000000002", 1, 0)]
    added = placed.batches[1].raw.to_pylist()[-1]
    assert added["partition"] == -1
    assert added["batch_time"] == placed.batches[1].raw["batch_time"][0].as_py()
    assert isinstance(validate(added["value"]), Event)


def test_the_events_file_takes_events_or_late_out_records_and_names_bad_lines(
    tmp_path: Path,
) -> None:
    good = {
        "event_id": "x1",
        "event_time": "2026-11-25T10:00:00Z",
        "event_type": "page_view",
        "user_id": "u",
        "product_id": "p",
    }
    path = tmp_path / "late.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(good),
                json.dumps({"dead_letter_id": "d1", "event": good | {"event_id": "x2"}}),
                "{broken",
                json.dumps(good | {"event_type": "refund"}),
                "",
            ]
        )
    )
    events, refused = read_events(path)
    assert [e.event_id for e in events] == ["x1", "x2"]
    assert [r.split(":")[0] for r in refused] == ["line 3", "line 4"]
    with pytest.raises(ConfigurationError, match="cannot read --events"):
        read_events(tmp_path / "missing.jsonl")
