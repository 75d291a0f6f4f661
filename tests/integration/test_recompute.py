"""The archive, recomputed by the job's own operator, reproduces what the stream wrote.

The stream here is the job's transform and its real sinks, batch by batch over a file
source (one file, one micro-batch), into the in-process hot store and archive: generated
traffic with duplicates, late events, malformed and future-dated records, plus one batch of
duplicates only. Then ``reconcile`` must find nothing, must flag a corrupted minute and a
corrupted session, and ``backfill`` must put back exactly what the stream wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.archive.memory import MemoryArchive
from adapters.archive.memory import reset as reset_archive
from adapters.bus.memory import MemoryBus
from adapters.hot.memory import MemoryHotStore
from app.events.contract import Event
from app.events.rejects import validate
from app.generate import Options, generate
from app.pipeline.documents import KPI_MINUTES, SESSION_MINUTES, SESSIONS
from app.pipeline.operator import operate
from app.pipeline.sinks import DUPLICATES, Sinks
from app.producers.formats import Format, read
from app.recompute.arrivals import place
from app.recompute.backfill import backfill
from app.recompute.inputs import archived_batches
from app.recompute.reconcile import reconcile
from app.recompute.rerun import recompute
from app.settings import Settings
from app.spark.session import build_session

pytestmark = [pytest.mark.spark, pytest.mark.integration]

BATCH = 1_000
EVERYTHING = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
#: Written by the sinks or the backfill, not computed from events.
STAMPS = {"_id", "written_at", "backfilled_at", "batch_id", "latency_batch", "sessions_batch"}


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = build_session(
        "streamkit-recompute-test",
        settings=Settings(),
        extra_conf={"spark.sql.shuffle.partitions": "1"},
    )
    yield session
    session.stop()


def traffic(tmp_path: Path) -> list[list[bytes]]:
    """Generated batches, and after the third one a batch of its newest valid events again."""
    out = tmp_path / "events.csv"
    generate(Options.over(out, 8_000, 90))
    records = [orjson.dumps(r.event) for r in read(out, Format.NATIVE) if r.event is not None]
    batches = [records[i : i + BATCH] for i in range(0, len(records), BATCH)]
    valid = [(e.event_time, r) for r in batches[2] if isinstance(e := validate(r), Event)]
    newest = max(t for t, _ in valid)
    again = [r for t, r in valid if t >= newest - timedelta(minutes=2)]
    return [*batches[:3], again, *batches[3:]]


def stream(spark: Any, batches: list[list[bytes]], tmp_path: Path, sinks: Sinks) -> None:
    """The job's transform and sinks over ``batches``, one micro-batch each, as from a bus."""
    source = tmp_path / "in"
    source.mkdir()
    schema = "value binary, partition int, offset long, publish_time timestamp"
    frame = spark.readStream.schema(schema).option("maxFilesPerTrigger", 1).parquet(str(source))
    query = (
        operate(frame)
        .writeStream.outputMode("update")
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .foreachBatch(lambda batch, batch_id: sinks.write(batch.toArrow(), batch_id))
        .start()
    )
    offset = 0
    try:
        for n, batch in enumerate(batches):
            published = datetime.now(UTC)
            rows = {
                "value": batch,
                "partition": pa.array([0] * len(batch), pa.int32()),
                "offset": list(range(offset, offset + len(batch))),
                "publish_time": [published] * len(batch),
            }
            offset += len(batch)
            pq.write_table(pa.table(rows), source / f"{n:05d}.parquet")
            query.processAllAvailable()
    finally:
        query.stop()


def documents(hot: MemoryHotStore, collection: str, key: str) -> dict[Any, dict[str, Any]]:
    return {
        d[key]: {k: v for k, v in d.items() if k not in STAMPS}
        for d in hot.find_range(collection, key)
    }


def test_reconcile_and_backfill_reproduce_the_stream(spark: Any, tmp_path: Path) -> None:
    reset_archive("recompute")
    hot = MemoryHotStore("memory://recompute")
    archive = MemoryArchive("memory://recompute")
    dead_letters = MemoryBus("memory://recompute/dead")
    dead_letters.ensure()
    sinks = Sinks(hot, archive, dead_letters, source="test:events")
    sinks.prepare()
    batches = traffic(tmp_path)
    stream(spark, batches, tmp_path, sinks)
    streamed = {
        name: documents(hot, name, key)
        for name, key in (
            (KPI_MINUTES, "minute"),
            (SESSIONS, "session_id"),
            (SESSION_MINUTES, "minute"),
        )
    }
    late = sum(d["late_dropped"] for d in streamed[KPI_MINUTES].values())
    dead = sum(d["deadlettered"] for d in streamed[KPI_MINUTES].values())
    assert late > 0 and dead > 0  # the traffic exercises both

    found = archived_batches(archive)
    # The batch of duplicates only is archived whole, as duplicates: it rewrote its minutes.
    assert {b.batch_id: b.events for b in found}["0000000003"] == len(batches[3])
    assert archive.read(DUPLICATES).num_rows >= len(batches[3])
    recomputed = recompute(spark, found, tmp_path / "recompute")
    first = reconcile(hot, recomputed, *EVERYTHING)
    assert first.identical, first.minutes[:5] + first.sessions[:5]
    assert first.compared_minutes == len(streamed[KPI_MINUTES])
    assert first.compared_sessions == len(streamed[SESSIONS])

    # Corrupt one minute's count and one session's revenue: reconcile names both.
    minute = sorted(streamed[KPI_MINUTES])[len(streamed[KPI_MINUTES]) // 2]
    hot.upsert_many(KPI_MINUTES, [{"minute": minute, "purchases": 10_000}], ["minute"])
    session = sorted(streamed[SESSIONS])[0]
    hot.upsert_many(SESSIONS, [{"session_id": session, "revenue_cents": -1}], ["session_id"])
    flagged = reconcile(hot, recomputed, *EVERYTHING)
    assert [(d.where, d.field, d.left) for d in flagged.minutes] == [
        (minute.strftime("%Y-%m-%dT%H:%MZ"), "purchases", 10_000)
    ]
    assert [(d.where, d.field) for d in flagged.sessions] == [(session, "revenue_cents")]

    # Backfill the range holding both: the stored documents are the streamed ones again.
    start = minute - timedelta(minutes=30)
    done = backfill(
        hot,
        archive,
        recomputed,
        min(start, _start_of(streamed, session)),
        minute + timedelta(minutes=1),
    )
    assert done.minutes > 0 and done.sessions > 0 and not done.stored_only
    for name in streamed:
        key = "minute" if name != SESSIONS else "session_id"
        assert documents(hot, name, key) == streamed[name], name
    assert reconcile(hot, recomputed, *EVERYTHING).identical
    # The archive's final minutes are the stream's too, no row twice.
    final = archive.read(KPI_MINUTES).to_pylist()
    assert len(final) == len({r["minute"] for r in final})

    # Events too late for the stream, added by a backfill: counted in their minute, archived.
    # One is a page view 3 minutes before a stored session of its user: the session starts
    # earlier now, under another id, and the old one must go.
    late = [_late_event(n, minute + timedelta(seconds=10 + n)) for n in range(4)]
    sessions_by_start = sorted(streamed[SESSIONS].values(), key=lambda d: d["start"])
    moved = sessions_by_start[len(sessions_by_start) // 2]
    earlier = moved["start"] - timedelta(minutes=3)
    late.append(_late_event(9, earlier, user=moved["user_id"], event_type="page_view"))
    placed = place(found, late)
    assert placed.added == 5 and not placed.already_archived and not placed.too_new
    with_late = recompute(spark, placed.batches, tmp_path / "with-late")
    done = backfill(hot, archive, with_late, *EVERYTHING)
    assert done.sessions_removed >= 1
    after = documents(hot, KPI_MINUTES, "minute")[minute]
    before = streamed[KPI_MINUTES][minute]
    assert after["purchases"] == before["purchases"] + 4
    assert after["revenue_cents"] == before["revenue_cents"] + 4 * 1999
    assert after["late_dropped"] == before["late_dropped"]
    stored = documents(hot, SESSIONS, "session_id")
    assert moved["session_id"] not in stored
    assert any(d["user_id"] == moved["user_id"] and d["start"] == earlier for d in stored.values())
    again = archived_batches(archive)  # the added events are archived now
    assert sorted(place(again, late).already_archived) == sorted(e.event_id for e in late)
    assert reconcile(hot, recompute(spark, again, tmp_path / "again"), *EVERYTHING).identical


def _late_event(
    n: int, at: datetime, *, user: str | None = None, event_type: str = "purchase"
) -> Event:
    return Event.model_validate(
        {
            "event_id": f"late-{n}",
            "event_time": at,
            "event_type": event_type,
            "user_id": user or f"late-user-{n}",
            "product_id": "p1",
            "price": "19.99" if event_type == "purchase" else None,
        }
    )


def _start_of(streamed: dict[str, dict[Any, dict[str, Any]]], session: str) -> datetime:
    start: datetime = streamed[SESSIONS][session]["start"]
    return start.replace(second=0, microsecond=0)
