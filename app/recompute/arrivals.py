"""Events that reached the pipeline too late for the stream, added to the batch they belong in.

``streamkit deadletter replay`` sets aside the fixed events older than the job's watermark
(``--late-out``, JSON lines): replayed into the stream they would only be counted late again.
``streamkit backfill --events FILE`` adds them to the recomputation instead, each in the first
archived batch whose events reached its time. The watermark of that batch is at least ten
minutes behind it, so the operator counts it on time, in its own minute and session, as if it
had come when it should; with the same ``event_id`` dedup, so an event already in the archive
is dropped as a duplicate. The backfill then writes that batch's archived events back with the
added ones (app/recompute/backfill.py), so a later recomputation has them too.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow.compute as pc

from adapters.errors import ConfigurationError
from app.events.contract import Event
from app.events.rejects import validate
from app.recompute.inputs import ArchivedBatch, add_arrivals


@dataclass
class Placed:
    """What became of the added events."""

    batches: list[ArchivedBatch]
    added: int = 0
    already_archived: list[str] = field(default_factory=list)  # event ids
    too_new: list[str] = field(default_factory=list)  # newer than every archived event
    refused: list[str] = field(default_factory=list)  # "line N: why"


def read_events(path: Path) -> tuple[list[Event], list[str]]:
    """The events of a JSON lines file: plain events, or ``replay --late-out`` records.

    Returns the events and, for lines the contract refuses, ``line N: why``.
    """
    try:
        lines = path.read_bytes().splitlines()
    except OSError as e:
        msg = f"cannot read --events {path}: {e.strerror}"
        raise ConfigurationError(msg) from e
    events: list[Event] = []
    refused: list[str] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            refused.append(f"line {n}: not JSON ({e})")
            continue
        if isinstance(record, dict) and isinstance(record.get("event"), dict):
            record = record["event"]  # a `deadletter replay --late-out` record
        verdict = validate(orjson.dumps(record))
        if isinstance(verdict, Event):
            events.append(verdict)
        else:
            refused.append(f"line {n}: {verdict.reason.value}: {verdict.message}")
    return events, refused


def place(batches: list[ArchivedBatch], events: list[Event]) -> Placed:
    """``batches`` with each event added to the first one whose events reached its time."""
    out = Placed(list(batches))
    known = frozenset().union(*(b.event_ids for b in batches))
    # The latest event time reached by each batch, in batch order: a running maximum.
    times: list[float] = []
    for batch in batches:
        newest = batch.newest.timestamp() if batch.newest is not None else float("-inf")
        times.append(max(times[-1], newest) if times else newest)
    chosen: dict[int, list[Event]] = {}
    for event in sorted(events, key=lambda e: (e.event_time, e.event_id)):
        if event.event_id in known:
            out.already_archived.append(event.event_id)
            continue
        at = bisect.bisect_left(times, event.event_time.timestamp())
        if at == len(batches):
            out.too_new.append(event.event_id)
            continue
        chosen.setdefault(at, []).append(event)
    # Added events of an earlier backfill are archived on partition -1 too: continue after them.
    offset = 1 + max((_added_offset(b) for b in batches), default=-1)
    for at, added in sorted(chosen.items()):
        values = [e.model_dump_json(exclude_none=True).encode() for e in added]
        out.batches[at] = add_arrivals(out.batches[at], values, offset)
        offset += len(values)
        out.added += len(values)
    return out


def _added_offset(batch: ArchivedBatch) -> int:
    """The largest offset of events a backfill added to ``batch`` before (-1: none)."""
    added = batch.raw.filter(pc.equal(batch.raw["partition"], -1))
    return int(pc.max(added["offset"]).as_py()) if added.num_rows else -1
