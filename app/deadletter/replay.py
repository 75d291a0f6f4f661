"""Re-publishing dead letters to the events topic, optionally through a fix, each at most once.

Counting a replayed event once rests on two things:

* a **marker topic** (the dead-letter topic's name + ``_replayed``) gets one message per
  replayed ``dead_letter_id``, keyed by it, once the event's publish is acknowledged; a later
  replay skips every id found there, so the same dead letter is never sent again;
* the job's ``event_id`` dedup: an event that gets in twice (its marker lost after the
  publish) is dropped as a duplicate within the watermark.

A fixed record that the contract still refuses is not published (it would only become a new
dead letter) but reported with its reason. An event older than the job's watermark is not
published either: the job would drop it as late. Those are written out for a recomputation of
their minutes (docs/operations.md, "Backfill").
"""

from __future__ import annotations

import base64
import importlib.util
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import orjson

from adapters.errors import ConfigurationError, TransientError
from adapters.ports import Bus
from app.deadletter.letters import Entry
from app.events.contract import Event
from app.events.rejects import DeadLetter, validate
from app.topics import read_topic

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


def marker_url(deadletter_url: str) -> str:
    """The marker topic's URL: the dead-letter topic's, its name followed by ``_replayed``."""
    base, _, query = deadletter_url.partition("?")
    return f"{base.rstrip('/')}_replayed" + (f"?{query}" if query else "")


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


@dataclass(frozen=True)
class _Ready:
    dead_letter_id: str
    raw: bytes
    event: Event


def replay(
    entries: Iterable[Entry],
    *,
    events: Bus,
    markers: Bus,
    watermark: datetime | None,
    fix: Fix | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> Outcome:
    """Replay the dead letters among ``entries`` (unreadable records are never replayed)."""
    outcome = Outcome()
    done = {m.key.decode() for m in read_topic(markers, idle_s=2.0) if m.key}
    ready: list[_Ready] = []
    for entry in entries:
        letter = entry.letter
        if letter is None:
            continue
        if letter.dead_letter_id in done:
            outcome.already_replayed.append(letter.dead_letter_id)
            continue
        prepared = _prepare(letter, fix, outcome)
        if prepared is not None:
            if watermark is not None and prepared.event.event_time < watermark:
                outcome.too_late.append((letter.dead_letter_id, prepared.event))
            else:
                ready.append(prepared)
    if dry_run:
        outcome.published = [r.dead_letter_id for r in ready]
        return outcome
    progress(f"publishing {len(ready):,} events")
    _publish(ready, events, markers, outcome)
    return outcome


def _prepare(letter: DeadLetter, fix: Fix | None, outcome: Outcome) -> _Ready | None:
    """The bytes to publish and their event, or None (recorded in ``outcome``)."""
    raw = base64.b64decode(letter.raw_b64)
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
    checked = validate(raw, datetime.now(UTC))
    if not isinstance(checked, Event):
        outcome.still_invalid.append((letter.dead_letter_id, checked.reason.value))
        return None
    return _Ready(letter.dead_letter_id, raw, checked)


def _publish(ready: list[_Ready], events: Bus, markers: Bus, outcome: Outcome) -> None:
    """Publish the events, then a marker for each one acknowledged."""
    publisher = events.publisher()
    try:
        for r in ready:
            key = r.event.user_id.encode()  # the producers' key: one user, one partition
            publisher.publish(r.raw, key=key, headers={REPLAY_HEADER: r.dead_letter_id.encode()})
        report = publisher.flush(60)
    finally:
        publisher.close()
    failed: dict[bytes, str] = dict(report.failed)
    acknowledged = [r for r in ready if r.raw not in failed]
    outcome.not_acknowledged = [(r.dead_letter_id, failed[r.raw]) for r in ready if r.raw in failed]
    marker = markers.publisher()
    try:
        for r in acknowledged:
            stamp = {"dead_letter_id": r.dead_letter_id, "replayed_at": datetime.now(UTC)}
            marker.publish(orjson.dumps(stamp), key=r.dead_letter_id.encode())
        marked = marker.flush(60)
    finally:
        marker.close()
    outcome.published = [r.dead_letter_id for r in acknowledged]
    if not marked.ok:
        # The events are in; without their markers a later replay would send them again
        # (the job's dedup would drop them within the watermark). Say so rather than hide it.
        msg = (
            f"{len(marked.failed)} replay markers were not acknowledged: a later replay may "
            "send those events again; run the replay again once the bus is back"
        )
        raise TransientError(msg)
