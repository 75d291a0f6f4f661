"""Re-publishing dead letters to the events topic, optionally through a fix, each at most once.

Counting a replayed event once rests on two things:

* a **replay record** per ``dead_letter_id`` in the hot store (collection
  ``deadletter_replays``, written with ``insert_new`` once the event's publish is acknowledged);
  a later replay skips every id found there, so the same dead letter is never sent again. The
  hot store, not a topic: it keeps them as long as it is kept, whatever a bus's retention, and
  a read of it is complete (a new consumer group's first read may come back empty);
* the job's ``event_id`` dedup: an event that gets in twice (its record lost after the
  publish) is dropped as a duplicate within the watermark.

A fixed record that the contract still refuses is not published (it would only become a new
dead letter) but reported with its reason. An event older than the job's watermark is not
published either: the job would drop it as late. Those are written out for a recomputation of
their minutes (docs/operations.md, "Backfill"), and recorded too, so a later replay does not
write them out again. A replayed event gets a new ``ingest_ts`` (its latency starts at the
replay, not when it was first sent).
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import orjson

from adapters.errors import ConfigurationError, TransientError
from adapters.ports import Bus, HotStore
from app.deadletter.letters import Entry
from app.events.contract import Event
from app.events.rejects import DeadLetter, validate

#: The hot-store collection of replayed (or set aside) dead letters, keyed by ``dead_letter_id``.
REPLAYS = "deadletter_replays"

#: The header a replayed event carries: the dead letter it came from.
REPLAY_HEADER = "streamkit-replay-of"
#: What a fix is: the raw bytes and their dead letter in, the bytes to publish (None: leave
#: it dead) out.
Fix = Callable[[bytes, DeadLetter], bytes | None]


def load_fix(path: Path) -> Fix:
    """The ``fix`` function of a Python file; a clear error when there is none."""
    if not path.is_file():
        msg = f"--fix {path}: no such file; pass a Python file defining fix(raw, dead_letter)"
        raise ConfigurationError(msg)
    spec = importlib.util.spec_from_file_location(f"streamkit_fix_{path.stem}", path)
    if spec is None or spec.loader is None:
        msg = f"--fix {path}: not a Python file"
        raise ConfigurationError(msg)
    module: ModuleType = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's file: any error it raises is theirs to see
        msg = f"--fix {path} failed to load: {type(e).__name__}: {e}"
        raise ConfigurationError(msg) from e
    fix = getattr(module, "fix", None)
    if not callable(fix) or len(inspect.signature(fix).parameters) != 2:
        msg = (
            f"--fix {path} must define fix(raw: bytes, dead_letter) -> bytes | None "
            "(None leaves the record dead)"
        )
        raise ConfigurationError(msg)
    return fix  # type: ignore[no-any-return]


@dataclass
class Outcome:
    """What a replay did, by dead letter."""

    published: list[str] = field(default_factory=list)
    already_replayed: list[str] = field(default_factory=list)
    left_dead: list[str] = field(default_factory=list)  # the fix returned None
    fix_failed: list[tuple[str, str]] = field(default_factory=list)
    still_invalid: list[tuple[str, str]] = field(default_factory=list)  # (id, reason)
    too_late: list[tuple[str, Event]] = field(default_factory=list)
    not_acknowledged: list[tuple[str, str]] = field(default_factory=list)
    late_file: Path | None = None  # where the events older than the watermark were written


@dataclass(frozen=True)
class _Ready:
    dead_letter_id: str
    raw: bytes
    event: Event


def replay(
    entries: Iterable[Entry],
    *,
    events: Bus,
    replays: HotStore,
    watermark: datetime | None,
    fix: Fix | None = None,
    dry_run: bool = False,
    late_out: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Outcome:
    """Replay the dead letters among ``entries`` (unreadable records are never replayed)."""
    outcome = Outcome()
    done = {d["dead_letter_id"] for d in replays.find_range(REPLAYS, "dead_letter_id")}
    now = datetime.now(UTC)
    ready: list[_Ready] = []
    for entry in entries:
        letter = entry.letter
        if letter is None:
            continue
        if letter.dead_letter_id in done:
            outcome.already_replayed.append(letter.dead_letter_id)
            continue
        prepared = _prepare(letter, fix, now, outcome)
        if prepared is not None:
            if watermark is not None and prepared.event.event_time < watermark:
                outcome.too_late.append((letter.dead_letter_id, prepared.event))
            else:
                ready.append(prepared)
    if dry_run:
        outcome.published = [r.dead_letter_id for r in ready]
        return outcome
    progress(f"publishing {len(ready):,} events")
    _publish(ready, events, outcome)
    _record(replays, outcome.published, "published", now, "")
    if outcome.too_late:
        path = late_out or Path(f"deadletter-too-late-{now:%Y%m%dT%H%M%SZ}.jsonl")
        _write_late(path, outcome.too_late)  # first: a record must never point at no file
        late = [i for i, _ in outcome.too_late]
        _record(replays, late, "older than the watermark", now, str(path))
        outcome.late_file = path
    return outcome


def _write_late(path: Path, late: list[tuple[str, Event]]) -> None:
    lines = [
        orjson.dumps({"dead_letter_id": i, "event": e.model_dump(mode="json")}) for i, e in late
    ]
    try:
        path.write_bytes(b"\n".join(lines) + b"\n")
    except OSError as e:
        msg = f"cannot write {path}: {e.strerror}; pass --late-out a writable file"
        raise ConfigurationError(msg) from e


def _prepare(letter: DeadLetter, fix: Fix | None, now: datetime, outcome: Outcome) -> _Ready | None:
    """The bytes to publish and their event, or None (recorded in ``outcome``)."""
    try:
        raw = base64.b64decode(letter.raw_b64, validate=True)
    except binascii.Error:
        outcome.still_invalid.append((letter.dead_letter_id, "raw_b64 is not base64"))
        return None
    if fix is not None:
        try:
            fixed = fix(raw, letter)
        except Exception as e:  # the user's code: one record's failure is reported, not fatal
            outcome.fix_failed.append((letter.dead_letter_id, f"{type(e).__name__}: {e}"))
            return None
        if fixed is None:
            outcome.left_dead.append(letter.dead_letter_id)
            return None
        if not isinstance(fixed, bytes):
            why = f"fix returned {type(fixed).__name__}, not bytes or None"
            outcome.fix_failed.append((letter.dead_letter_id, why))
            return None
        raw = fixed
    checked = validate(raw, now)
    if not isinstance(checked, Event):
        outcome.still_invalid.append((letter.dead_letter_id, checked.reason.value))
        return None
    # The replay is a new ingestion: the latency histogram must not count the days the
    # record spent dead. One stamp for the whole replay keeps equal records equal.
    stamped = orjson.loads(raw) | {"ingest_ts": now.isoformat().replace("+00:00", "Z")}
    return _Ready(letter.dead_letter_id, orjson.dumps(stamped), checked)


def _publish(ready: list[_Ready], events: Bus, outcome: Outcome) -> None:
    """Publish each distinct record once; ``outcome.published`` gets the acknowledged ids."""
    by_bytes: dict[bytes, list[_Ready]] = {}
    for r in ready:  # two dead letters fixed into the same bytes are one event
        by_bytes.setdefault(r.raw, []).append(r)
    publisher = events.publisher()
    try:
        for raw, same in by_bytes.items():
            first = same[0]
            headers = {REPLAY_HEADER: first.dead_letter_id.encode()}
            publisher.publish(raw, key=first.event.user_id.encode(), headers=headers)
        report = publisher.flush(60)
    finally:
        publisher.close()
    failed = dict(report.failed)
    for raw, same in by_bytes.items():
        for r in same:
            if raw in failed:
                outcome.not_acknowledged.append((r.dead_letter_id, failed[raw]))
            else:
                outcome.published.append(r.dead_letter_id)


def _record(replays: HotStore, ids: list[str], outcome: str, at: datetime, late_file: str) -> None:
    """Record what was done with these dead letters, so a later replay skips them."""
    if not ids:
        return
    docs = [
        {"dead_letter_id": i, "outcome": outcome, "at": at, "late_file": late_file} for i in ids
    ]
    try:
        replays.insert_new(REPLAYS, docs, ["dead_letter_id"])
    except TransientError as e:
        # The events are in; without their records a later replay would send them again
        # (the job's dedup would drop them within the watermark). Say so rather than hide it.
        msg = (
            f"{len(ids)} dead letters were handled ({outcome}) but could not be recorded: "
            f"{e}; a later replay may send them again"
        )
        raise TransientError(msg) from e
