"""The live loop: SSE events → RecentChange mapping → token bucket → :class:`EventSender`.

Every SSE event ends in exactly one count: published (by event type),
skipped (a valid change we do not map, by reason), redelivered (an exact
repeat of an event id sent moments ago), or dead-lettered (not JSON, not an
object, not mappable). The stream job's ``event_id`` dedup is the real
exactly-once guarantee; the small window here only saves the bus a repeat
when a server resends after a reconnect.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import orjson

from app.events.rejects import Reason, Rejection
from app.live.mapping import Mapped, Skip, map_change
from app.live.sse import SseEvent
from app.producers.interrupt import graceful_interrupt
from app.producers.pacing import TokenBucket
from app.producers.sender import EventSender, SendStats

Report = Callable[["LiveProgress"], None]


class RecentIds:
    """A bounded, least-recently-seen set of event ids."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, event_id: str) -> bool:
        """True when ``event_id`` was added lately; adds it either way."""
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return True
        self._ids[event_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return False


@dataclass
class LiveProgress:
    """Where every received SSE event went, for the progress line and the summary."""

    stats: SendStats = field(default_factory=SendStats)
    received: int = 0
    published: Counter[str] = field(default_factory=Counter)  # by event type
    skipped: Counter[str] = field(default_factory=Counter)  # by reason
    redelivered: int = 0
    stopped_by: str = "end of stream"
    window: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=4096))

    @property
    def sent(self) -> int:
        """Events handed to the events topic."""
        return sum(self.published.values())

    def mark(self) -> None:
        """Remember (time, sent) for :meth:`recent_rate`."""
        self.window.append((time.monotonic(), self.sent))

    def recent_rate(self, seconds: float = 10.0) -> float:
        """Events sent per second over the last ``seconds`` of marks."""
        if len(self.window) < 2:
            return 0.0
        end_t, end_n = self.window[-1]
        start_t, start_n = next(((t, n) for t, n in self.window if end_t - t <= seconds))
        return (end_n - start_n) / (end_t - start_t) if end_t > start_t else 0.0


class LiveProducer:
    """Maps and publishes SSE events, paced by ``rate`` (None: as fast as they come)."""

    def __init__(
        self,
        sender: EventSender,
        *,
        rate: float | None = 50.0,
        include_bots: bool = True,
        report: Report | None = None,
        report_every_s: float = 1.0,
        recent_ids: int = 10_000,
    ) -> None:
        self.sender = sender
        self.bucket = TokenBucket(rate) if rate else None
        self.include_bots = include_bots
        self.report = report
        self.report_every_s = report_every_s
        self.progress = LiveProgress(stats=sender.stats)
        self._recent = RecentIds(recent_ids)

    def handle(self, event: SseEvent) -> None:
        """Publish, skip or dead-letter one SSE event."""
        self.progress.received += 1
        if event.event != "message":
            self.progress.skipped[f"sse:{event.event}"] += 1
            return
        raw = event.data.encode()
        # The stream id locates the record for people triaging dead letters.
        position = event.id or f"#{self.progress.received}"
        try:
            change = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            self.sender.reject(raw, Rejection(reason=Reason.NOT_JSON, message=str(e)), position)
            return
        if not isinstance(change, dict):
            msg = f"a JSON {type(change).__name__}, not a RecentChange object"
            self.sender.reject(raw, Rejection(reason=Reason.NOT_AN_OBJECT, message=msg), position)
            return
        self._route(map_change(change, include_bots=self.include_bots), raw, position)

    def _route(self, mapped: Mapped, raw: bytes, position: str) -> None:
        if isinstance(mapped, Rejection):
            self.sender.reject(raw, mapped, position)
        elif isinstance(mapped, Skip):
            self.progress.skipped[mapped.reason] += 1
        else:
            if self._recent.seen(mapped["event_id"]):
                self.progress.redelivered += 1
                return
            if self.bucket is not None:
                self.bucket.take()
            self.sender.send(mapped)
            self.progress.published[mapped["event_type"]] += 1

    def run(
        self,
        events: Iterable[SseEvent],
        *,
        max_events: int | None = None,
        duration_s: float | None = None,
    ) -> LiveProgress:
        """Handle events until ``max_events`` sent, ``duration_s`` passed, the end, or Ctrl-C.

        Always flushes before returning. The duration is checked as events
        arrive, so a silent stream ends at the next event or read timeout.
        """
        deadline = time.monotonic() + duration_s if duration_s else None
        iterator = iter(events)
        with graceful_interrupt() as stop:
            self._loop(iterator, stop, max_events, deadline, duration_s)
        self._tick()
        return self.progress

    def _loop(
        self,
        iterator: Iterator[SseEvent],
        stop: threading.Event,
        max_events: int | None,
        deadline: float | None,
        duration_s: float | None,
    ) -> None:
        next_report = time.monotonic()
        try:
            for event in iterator:
                if stop.is_set():
                    self.progress.stopped_by = "Ctrl-C"
                    break
                self.handle(event)
                if max_events is not None and self.progress.sent >= max_events:
                    self.progress.stopped_by = f"--max-events {max_events}"
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    self.progress.stopped_by = f"--duration {duration_s:g} s"
                    break
                if time.monotonic() >= next_report:
                    self._tick()
                    next_report = time.monotonic() + self.report_every_s
        except KeyboardInterrupt:  # a second Ctrl-C
            self.progress.stopped_by = "Ctrl-C"
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # releases the HTTP connection of a generator stopped early
            self.sender.flush()  # also when the stream failed: what was sent still counts

    def _tick(self) -> None:
        self.sender.poll()
        self.progress.mark()
        if self.report is not None:
            self.report(self.progress)
