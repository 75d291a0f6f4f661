"""``streamkit demo``: the local stack end to end, as far as the kit goes today.

Brings the stack up, publishes a seeded batch of shop events to the bus,
reads every one back, upserts per-minute counts into the hot store and
archives the events as Parquet, then reads both back. Each step checks its
own result, so a demo that prints its summary has shown that every port works
against the real services. (The streaming job replaces the in-process counting
once it lands.)
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

from adapters.errors import StreamkitError
from adapters.ports import Bus
from app import bootstrap
from app.settings import Settings

Progress = Callable[[str], None]

_TYPES = ("page_view", "add_to_cart", "purchase")


@dataclass(frozen=True)
class DemoResult:
    """What the demo published and read back through each port."""

    run_id: str
    published: int
    read_back: int
    minutes: int
    archived: int
    seconds: float


def demo_events(count: int, run_id: str, seed: int, start: datetime) -> list[dict[str, object]]:
    """A seeded, plausible click stream: mostly views, some carts, fewer purchases."""
    rng = random.Random(seed)  # noqa: S311 - seeded test data, not secrets
    events = []
    for n in range(count):
        kind = rng.choices(_TYPES, weights=(90, 7, 3))[0]
        events.append(
            {
                "event_id": f"{run_id}-{n}",
                "event_time": (start + timedelta(milliseconds=n * 250)).isoformat(),
                "event_type": kind,
                "user_id": f"u{rng.randrange(200)}",
                "product_id": f"p{rng.randrange(1000)}",
                "price": round(rng.uniform(2, 400), 2),
                "run_id": run_id,
            }
        )
    return events


def _publish(bus: Bus, events: list[dict[str, object]], progress: Progress) -> int:
    publisher = bus.publisher()
    for event in events:
        publisher.publish(orjson.dumps(event), key=str(event["user_id"]).encode())
    report = publisher.flush(60)
    publisher.close()
    if not report.ok:
        msg = f"{len(report.failed)} event(s) were not delivered: {report.failed[0][1]}"
        raise StreamkitError(msg)
    progress(f"published {report.delivered} events to {bus.topic}")
    return report.delivered


def _read_back(
    bus: Bus, run_id: str, expected: int, timeout_s: float = 60.0
) -> list[dict[str, Any]]:
    reader = bus.reader(f"streamkit-demo-{run_id}")
    mine: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(mine) < expected and time.monotonic() < deadline:
            for message in reader.read(max_messages=5000, timeout_s=0.5):
                event = orjson.loads(message.value)
                if event.get("run_id") == run_id:
                    mine[event["event_id"]] = event
        reader.commit()
    finally:
        reader.close()
    return list(mine.values())


def per_minute_counts(events: list[dict[str, Any]]) -> list[dict[str, object]]:
    """Counts of each event type per UTC minute, as hot-store documents."""
    counts: Counter[tuple[str, str]] = Counter()
    for event in events:
        counts[(str(event["event_time"])[:16], str(event["event_type"]))] += 1
    minutes = sorted({m for m, _ in counts})
    return [
        {
            "minute": datetime.fromisoformat(m).replace(tzinfo=UTC),
            **{f"{t}s": counts[(m, t)] for t in _TYPES},
        }
        for m in minutes
    ]


def run_demo(settings: Settings, count: int, seed: int, progress: Progress) -> DemoResult:
    """Publish, read back, store and archive ``count`` events; raise if any step loses one."""
    started = time.monotonic()
    run_id = uuid.uuid4().hex[:8]
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    events = demo_events(count, run_id, seed, start)
    ports = bootstrap.ports(settings)
    try:
        published = _publish(ports.bus, events, progress)
        got = _read_back(ports.bus, run_id, published)
        if len(got) != published:
            msg = f"read back {len(got)} of {published} events from {ports.bus.topic}"
            raise StreamkitError(msg)
        progress(f"read back all {len(got)} events (fresh consumer group)")

        docs = per_minute_counts(got)
        ports.hot_store.ensure_index("demo_minutes", ["minute"], unique=True)
        ports.hot_store.upsert_many("demo_minutes", docs, key=["minute"])
        stored = ports.hot_store.find_range("demo_minutes", "minute", docs[0]["minute"], None)
        progress(f"hot store: {len(stored)} minute document(s) upserted and read back")
        for doc in stored[: len(docs)]:
            counts = ", ".join(f"{t}s={doc[f'{t}s']}" for t in _TYPES)
            progress(f"  {doc['minute']:%Y-%m-%d %H:%M} UTC  {counts}")

        table = pa.Table.from_pylist(
            [{**e, "event_time": datetime.fromisoformat(str(e["event_time"]))} for e in got]
        )
        written = ports.archive.write(
            "demo_events", table, time_column="event_time", batch_id=run_id
        )
        archived = ports.archive.read(
            "demo_events", start, start + timedelta(days=1), time_column="event_time"
        )
        mine = sum(1 for r in archived.column("run_id").to_pylist() if r == run_id)
        if mine != len(got):
            msg = f"archive returned {mine} of {len(got)} events"
            raise StreamkitError(msg)
        files = len(written.files)
        progress(f"archive: {written.rows} events in {files} Parquet file(s), read back {mine}")
    finally:
        ports.close()
    return DemoResult(run_id, published, len(got), len(docs), mine, time.monotonic() - started)
