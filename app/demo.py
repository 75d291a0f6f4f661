"""``streamkit demo``: the local stack end to end, as far as the kit goes today.

1. Generates ``data/events.csv.gz`` when it is missing (the seeded traffic of
   ``streamkit generate``: valid events plus counted duplicates, late and
   malformed rows).
2. Replays its first rows to the events topic through the real replay path
   (unframeable rows to the dead-letter topic), keeping their event times.
3. Reads every replayed event back from the bus, validates it against the
   contract and drops duplicate ``event_id``s.
4. Upserts per-minute counts into the hot store and archives the valid
   events as hour-partitioned Parquet, then reads both back.

Each step checks its own result. Steps 3-4 are done in-process for now; the
Spark streaming job takes them over when it lands.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from adapters.errors import StreamkitError
from adapters.ports import Bus
from app import bootstrap
from app.events.contract import Event, EventType
from app.events.rejects import Rejection, validate
from app.producers.formats import Format, read
from app.producers.replay import Replayer
from app.producers.sender import EventSender
from app.settings import PROJECT_ROOT, Settings

Progress = Callable[[str], None]

#: The demo's input, generated when missing.
DEMO_INPUT = PROJECT_ROOT / "data" / "events.csv.gz"


@dataclass(frozen=True)
class DemoResult:
    """What the demo sent and what came back through each port."""

    run_id: str
    replayed: int
    dead_lettered: int
    read_back: int
    valid: int
    duplicates: int
    rejected: Counter[str]
    minutes: int
    archived: int
    seconds: float


def ensure_input(path: Path, progress: Progress) -> Path:
    """Generate the default traffic file when it is missing."""
    if path.exists():
        return path
    from app.generate import Options, generate

    progress(f"generating {path} (first run; `streamkit generate --help` for the knobs)")
    day = 24 * 60
    generate(
        Options.over(path, 1_000_000, day), progress=lambda line: progress(f"generate: {line}")
    )
    return path


def _replay(path: Path, settings: Settings, limit: int, progress: Progress) -> EventSender:
    sender = EventSender(
        bootstrap.bus(settings), bootstrap.deadletter(settings), source=f"file:{path.name}"
    )
    # Original event times: replaying at full speed with times shifted to now
    # would put most events in the future, where the contract rejects them.
    Replayer(sender, timing="keep").run(read(path, Format.AUTO), limit=limit)
    sender.close()
    s = sender.stats
    if s.failed or s.delivered != s.published + s.dead_lettered:
        msg = f"replay: {s.failed} deliveries failed ({'; '.join(s.failures[:1])})"
        raise StreamkitError(msg)
    progress(
        f"replayed {s.published:,} records to the events topic, {s.dead_lettered} dead-lettered"
    )
    return sender


def _read_back(bus: Bus, since: datetime, expected: int, timeout_s: float = 120.0) -> list[bytes]:
    """Every message published since ``since`` (by its ingest_ts), read with a fresh group."""
    reader = bus.reader(f"streamkit-demo-{uuid.uuid4().hex[:8]}")
    stamp = since.isoformat().replace("+00:00", "Z")
    mine: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(mine) < expected and time.monotonic() < deadline:
            for message in reader.read(max_messages=10_000, timeout_s=0.5):
                if _ingest_ts(message.value) >= stamp:
                    mine.append(message.value)
    finally:
        reader.close()
    return mine


def _ingest_ts(value: bytes) -> str:
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError:
        return ""
    return str(record.get("ingest_ts", "")) if isinstance(record, dict) else ""


def _validate(raw: list[bytes]) -> tuple[list[Event], int, Counter[str]]:
    """Valid events with duplicates dropped, the duplicate count, rejections by reason."""
    seen: set[str] = set()
    valid: list[Event] = []
    duplicates = 0
    rejected: Counter[str] = Counter()
    for value in raw:
        result = validate(value)
        if isinstance(result, Rejection):
            rejected[result.reason.value] += 1
        elif result.event_id in seen:
            duplicates += 1
        else:
            seen.add(result.event_id)
            valid.append(result)
    return valid, duplicates, rejected


def per_minute_counts(events: list[Event]) -> list[dict[str, Any]]:
    """Counts of each event type per UTC minute, as hot-store documents."""
    counts: Counter[tuple[datetime, EventType]] = Counter()
    for event in events:
        counts[(event.event_time.replace(second=0, microsecond=0), event.event_type)] += 1
    minutes = sorted({m for m, _ in counts})
    return [{"minute": m, **{f"{t.value}s": counts[(m, t)] for t in EventType}} for m in minutes]


def _archive_table(events: list[Event]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            e.model_dump(mode="python", exclude={"price"}) | {"price": float(e.price or 0)}
            for e in events
        ]
    )


def run_demo(
    settings: Settings, count: int, progress: Progress, source: Path = DEMO_INPUT
) -> DemoResult:
    """Replay ``count`` records of ``source`` and push them through every port."""
    started = time.monotonic()
    run_id = uuid.uuid4().hex[:8]
    path = ensure_input(source, progress)
    since = datetime.now(UTC)
    sender = _replay(path, settings, count, progress)
    ports = bootstrap.ports(settings)
    try:
        raw = _read_back(ports.bus, since, sender.stats.published)
        if len(raw) != sender.stats.published:
            msg = f"read back {len(raw)} of {sender.stats.published} replayed records"
            raise StreamkitError(msg)
        valid, duplicates, rejected = _validate(raw)
        progress(
            f"read back all {len(raw):,}: {len(valid):,} valid, {duplicates} duplicates dropped, "
            f"{sum(rejected.values())} rejected {dict(rejected)}"
        )
        docs = per_minute_counts(valid)
        ports.hot_store.ensure_index("demo_minutes", ["minute"], unique=True)
        ports.hot_store.upsert_many("demo_minutes", docs, key=["minute"])
        stored = ports.hot_store.find_range(
            "demo_minutes", "minute", docs[0]["minute"], docs[-1]["minute"] + timedelta(minutes=1)
        )
        if len(stored) != len(docs):
            msg = f"hot store returned {len(stored)} of {len(docs)} minute documents"
            raise StreamkitError(msg)
        progress(
            f"hot store: {len(stored)} minute documents upserted and read back; the last three:"
        )
        for doc in stored[-3:]:
            counts = ", ".join(f"{t.value}={doc[f'{t.value}s']}" for t in EventType)
            progress(f"  {doc['minute']:%Y-%m-%d %H:%M} UTC  {counts}")

        written = ports.archive.write(
            "demo_events", _archive_table(valid), time_column="event_time", batch_id=run_id
        )
        first, last = min(e.event_time for e in valid), max(e.event_time for e in valid)
        back = ports.archive.read(
            "demo_events", first, last + timedelta(seconds=1), time_column="event_time"
        )
        ids = {e.event_id for e in valid}
        archived = sum(1 for i in back.column("event_id").to_pylist() if i in ids)
        if archived < len(valid):
            msg = f"archive returned {archived} of {len(valid)} events"
            raise StreamkitError(msg)
        progress(
            f"archive: {written.rows:,} events in {len(written.files)} Parquet file(s), read back"
        )
    finally:
        ports.close()
    return DemoResult(
        run_id,
        sender.stats.published,
        sender.stats.dead_lettered,
        len(raw),
        len(valid),
        duplicates,
        rejected,
        len(docs),
        archived,
        time.monotonic() - started,
    )
