"""``streamkit generate``: seeded, realistic shop traffic with known faults, as a file.

:func:`generate` runs the three parts chunk by chunk, so memory stays flat
however many events are asked for: the clean traffic model
(:mod:`.traffic`), the fault injector (:mod:`.faults`) and the text writer
(:mod:`.writer`). The file is written in *publish order*, the order a replay
sends it, and a manifest next to it states what a consumer will find.
docs/generate.md describes the model, every knob and the manifest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from adapters.errors import ConfigurationError
from app.events.contract import EventType
from app.generate.faults import (
    JITTER_MAX_MS,
    REASONS,
    WATERMARK_MS,
    Fractions,
    Injector,
    Rows,
    Tally,
    malformed_reasons,
)
from app.generate.traffic import MINUTE_MS, Catalogue, Events, Traffic, default_users, min_users
from app.generate.writer import Format, Renderer, Sink

Progress = Callable[[str], None]
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHUNK_EVENTS = 500_000


@dataclass(frozen=True)
class Options:
    """Everything that decides the file's bytes: same options, same file."""

    out: Path
    events: int
    minutes: int
    users: int
    seed: int = 42
    fmt: Format = Format.CSV
    start: datetime = DEFAULT_START
    products: int = 5_000
    fractions: Fractions = field(default_factory=Fractions)

    @classmethod
    def over(cls, out: Path, events: int, minutes: int, **rest: Any) -> Options:
        """Options for ``events`` rows over ``minutes``, with the default number of shoppers."""
        users = rest.pop("users", None) or default_users(events, minutes * MINUTE_MS)
        return cls(out=out, events=events, minutes=minutes, users=users, **rest)

    def __post_init__(self) -> None:
        if min(self.events, self.minutes, self.users, self.products) < 1:
            msg = "events, minutes, users and products must each be at least 1"
            raise ConfigurationError(msg)
        if self.start.tzinfo is None:
            msg = f"--start {self.start.isoformat()} needs a UTC offset, e.g. 2026-01-01T00:00:00Z"
            raise ConfigurationError(msg)
        needed = min_users(self.events, self.minutes * MINUTE_MS)
        if self.users < needed:
            msg = (
                f"--users {self.users} is too few for {self.events:,} events in {self.minutes} "
                f"minutes (a shopper's sessions are 30+ minutes apart): use at least {needed:,}, "
                "or more --minutes"
            )
            raise ConfigurationError(msg)

    def knobs(self) -> dict[str, Any]:
        """The options as plain JSON values, for the manifest."""
        return {
            "events": self.events,
            "minutes": self.minutes,
            "start": _iso(self.start),
            "users": self.users,
            "products": self.products,
            "format": self.fmt.value,
            **asdict(self.fractions),
        }


def manifest_path(out: Path) -> Path:
    """Where the manifest of ``out`` goes: next to it, ``<name>.manifest.json``."""
    return out.with_name(out.name + ".manifest.json")


def generate(options: Options, progress: Progress = lambda _: None) -> dict[str, Any]:
    """Write the file and its manifest; returns the manifest.

    The file appears under its name only when complete (it is written to
    ``<name>.partial`` first), so a killed run never leaves a plausible
    half file behind.
    """
    traffic_seed, fault_seed = np.random.SeedSequence(options.seed).spawn(2)
    traffic_rng = np.random.default_rng(traffic_seed)
    catalogue = Catalogue.build(options.products, traffic_rng)
    reasons = malformed_reasons(options.fmt.value)
    injector = Injector(
        options.events, options.fractions, reasons, np.random.default_rng(fault_seed)
    )
    window = (_ms(options.start), options.minutes * MINUTE_MS)
    traffic = Traffic(traffic_rng, window, injector.clean, options.users, catalogue)
    renderer = Renderer(options.fmt, options.seed, catalogue, options.users)
    tally = Tally(catalogue.price_cents)
    partial = options.out.with_name(options.out.name + ".partial")
    options.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with Sink(partial, gzip=options.out.suffix == ".gz") as sink:
            sink.write(renderer.header())
            for rows in published(traffic.chunks(CHUNK_EVENTS), injector):
                tally.add(rows)
                sink.write_lines(renderer.lines(rows))
                progress(f"{tally.rows:>12,} / {options.events:,} rows")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, options.out)
    manifest = _manifest(options, tally, sink.text_bytes)
    manifest_path(options.out).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def published(chunks: Iterator[Events], injector: Injector) -> Iterator[Rows]:
    """The rows of time-ordered clean ``chunks``, faults applied, in publish-key order."""
    pending: Rows | None = None
    for chunk in chunks:
        fresh = injector.apply(chunk)
        pending = fresh if pending is None else pending.concat(fresh)
        pending = pending.take(np.argsort(pending.pkey, kind="stable"))
        # A publish key is never before its event time, and later chunks hold no event
        # before this one's last: every key before that is final.
        ready = int(np.searchsorted(pending.pkey, chunk.time[-1], side="left"))
        if ready:
            yield pending.take(slice(0, ready))
            pending = pending.take(slice(ready, None))
    if pending is not None and len(pending):
        yield pending


def _manifest(options: Options, tally: Tally, text_bytes: int) -> dict[str, Any]:
    cents = tally.revenue_cents
    return {
        "file": options.out.name,
        "format": options.fmt.value,
        "gzip": options.out.suffix == ".gz",
        "seed": options.seed,
        "knobs": options.knobs(),
        "rows": tally.rows,
        "text_bytes": text_bytes,
        "distinct_valid_event_ids": tally.valid_unique,
        "kinds": {
            "valid_unique": tally.valid_unique,
            "duplicates": tally.duplicates,
            "out_of_order": tally.out_of_order,
            "late_within_watermark": tally.late_within,
            "late_beyond_watermark": tally.late_beyond,
            "malformed": {r.value: tally.malformed[r] for r in REASONS},
        },
        "late_beyond_watermark_by_minute": {
            _iso_ms(minute): n for minute, n in sorted(tally.late_beyond_minutes.items())
        },
        "event_time": {"min": _iso_ms(tally.time_min), "max": _iso_ms(tally.time_max)},
        "funnel": {t.value: n for t, n in zip(EventType, tally.funnel, strict=True)},
        "revenue": f"{cents // 100}.{cents % 100:02d}",
        "rules": {
            "watermark_seconds": WATERMARK_MS // 1000,
            "jitter_max_seconds": JITTER_MAX_MS // 1000,
        },
    }


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)  # exact, unlike float seconds


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_ms(ms: int) -> str | None:
    return None if abs(ms) >= 2**61 else _iso(_EPOCH + timedelta(milliseconds=ms))
