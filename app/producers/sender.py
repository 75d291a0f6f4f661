"""What every producer (replay, live, generate's replays) shares: publish or dead-letter.

An input record ends in exactly one of two places. A record that can be
framed (a JSON object, or bytes that are at least one record) goes to the
events topic, stamped with ``ingest_ts`` when it is an object; the stream job
validates it there. A record that cannot even be framed (a truncated CSV
row) goes to the dead-letter topic with a reason and its raw bytes. The
counts say where every record went, so nothing is lost silently.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from adapters.ports import Bus, BusPublisher, DeliveryReport
from app.events.contract import SCHEMA_VERSION
from app.events.rejects import Rejection, dead_letter

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SendStats:
    """Running counts of one producer."""

    published: int = 0  # handed to the events publisher
    dead_lettered: int = 0  # handed to the dead-letter publisher
    delivered: int = 0  # acknowledged by the bus (both topics)
    failed: int = 0  # reported failed by the bus (both topics)
    failures: list[str] = field(default_factory=list)  # first few error messages
    started: float = field(default_factory=time.monotonic)

    def absorb(self, report: DeliveryReport) -> None:
        """Add a delivery report."""
        self.delivered += report.delivered
        self.failed += len(report.failed)
        self.failures.extend(err for _, err in report.failed[: max(0, 5 - len(self.failures))])

    @property
    def in_flight(self) -> int:
        """Handed over but not yet acknowledged or failed."""
        return self.published + self.dead_lettered - self.delivered - self.failed

    def rate(self) -> float:
        """Records handed over per second since the start."""
        elapsed = time.monotonic() - self.started
        return (self.published + self.dead_lettered) / elapsed if elapsed > 0 else 0.0


class EventSender:
    """Publishes events keyed by user and dead-letters unframeable records."""

    def __init__(self, events: Bus, deadletter: Bus, source: str, clock: Clock = _now) -> None:
        self.source = source
        self.stats = SendStats()
        self._events: BusPublisher = events.publisher()
        self._deadletter: BusPublisher = deadletter.publisher()
        self._clock = clock

    def send(self, record: Mapping[str, Any]) -> None:
        """Publish one event object, stamped with ``ingest_ts``, keyed by ``user_id``.

        It is stamped with the contract's ``schema_version`` too, unless it carries its own
        (a record re-published from a file keeps the version it was written with).
        """
        stamped = {"schema_version": SCHEMA_VERSION, **record, "ingest_ts": self._clock()}
        user = record.get("user_id")
        key = str(user).encode() if user not in (None, "") else None
        self._events.publish(orjson.dumps(stamped, option=orjson.OPT_UTC_Z), key=key)
        self.stats.published += 1

    def send_raw(self, raw: bytes) -> None:
        """Publish bytes that are one record but not a JSON object; the job will reject them."""
        self._events.publish(raw)
        self.stats.published += 1

    def reject(self, raw: bytes, rejection: Rejection, position: str) -> None:
        """Dead-letter a record that cannot be framed, with its reason and raw bytes."""
        record = dead_letter(raw, rejection, self.source, position, at=self._clock())
        self._deadletter.publish(record.to_json(), key=record.dead_letter_id.encode())
        self.stats.dead_lettered += 1

    def poll(self) -> None:
        """Collect delivery reports that arrived, without waiting."""
        self.stats.absorb(self._events.poll())
        self.stats.absorb(self._deadletter.poll())

    def flush(self, timeout_s: float = 60.0) -> SendStats:
        """Wait for every acknowledgement; return the final counts."""
        self.stats.absorb(self._events.flush(timeout_s))
        self.stats.absorb(self._deadletter.flush(timeout_s))
        return self.stats

    def close(self) -> None:
        """Flush and release both publishers."""
        self._events.close()
        self._deadletter.close()
