"""The replay loop: input records → pacing → the bus, with live counts.

Pacing is one of: none (``--rate max``), a token bucket (``--rate N``), a
profile of rates in turn (``--profile``), or the original gaps between event
times divided by ``--speedup``. With ``--timing now`` every event time is
shifted by one offset, chosen so the first event happens now and the gaps are
kept; with ``--timing send`` every event happens when it is sent, whatever the
pace, which is what a load test at changing rates needs (event time that
keeps up with the clock, never ahead of it).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from app.events.contract import parse_utc
from app.producers.formats import InputRecord
from app.producers.interrupt import graceful_interrupt
from app.producers.pacing import RateProfile, Schedule, TokenBucket
from app.producers.sender import EventSender, SendStats

Timing = Literal["keep", "now", "send"]
Report = Callable[["ReplayProgress"], None]


@dataclass
class ReplayProgress:
    """What the progress display and the summary show."""

    read: int = 0
    stats: SendStats = field(default_factory=SendStats)
    interrupted: bool = False
    window: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=4096))

    @property
    def sent(self) -> int:
        """Records handed to the bus, either topic."""
        return self.stats.published + self.stats.dead_lettered

    def mark(self) -> None:
        """Remember (time, sent) to compute the rate over the last minute."""
        self.window.append((time.monotonic(), self.sent))

    def recent_rate(self, seconds: float = 60.0) -> tuple[float, float]:
        """(events/s, seconds measured) over the last ``seconds`` of marks."""
        if len(self.window) < 2:
            return 0.0, 0.0
        end_t, end_n = self.window[-1]
        start_t, start_n = next(
            ((t, n) for t, n in self.window if end_t - t <= seconds), self.window[0]
        )
        span = end_t - start_t
        return ((end_n - start_n) / span if span > 0 else 0.0), span


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Replayer:
    """Sends records through an :class:`EventSender`, paced, reporting as it goes."""

    def __init__(
        self,
        sender: EventSender,
        *,
        rate: float | None = None,
        speedup: float | None = None,
        timing: Timing = "keep",
        report: Report | None = None,
        report_every_s: float = 0.5,
        profile: RateProfile | None = None,
    ) -> None:
        if sum(x is not None for x in (rate, speedup, profile)) > 1:
            msg = "choose one of --rate, --profile and --speedup"
            raise ValueError(msg)
        self.sender = sender
        self.bucket = TokenBucket(rate) if rate else None
        self.profile = profile
        self.schedule = Schedule(speedup) if speedup else None
        self.timing = timing
        self.report = report
        self.report_every_s = report_every_s
        self.progress = ReplayProgress(stats=sender.stats)
        self._shift: timedelta | None = None

    def _event_time(self, event: dict[str, Any]) -> datetime | None:
        if self.timing == "send":
            sent = datetime.now(UTC)
            event["event_time"] = _iso(sent)
            return sent
        if self.timing == "keep" and self.schedule is None:
            return None  # nothing reads the time: parsing it would only cost
        ts = parse_utc(event.get("event_time"))
        if ts is None or self.timing == "keep":
            return ts
        if self._shift is None:
            self._shift = datetime.now(UTC) - ts
        shifted = ts + self._shift
        event["event_time"] = _iso(shifted)
        return shifted

    def _send(self, record: InputRecord) -> None:
        if record.rejection is not None:
            self.sender.reject(record.raw, record.rejection, record.position)
        elif record.event is not None:
            event = dict(record.event)
            ts = self._event_time(event)
            if self.schedule is not None and ts is not None:
                self.schedule.wait_for(ts)
            self.sender.send(event)
        else:
            self.sender.send_raw(record.raw)

    def run(self, records: Iterable[InputRecord], limit: int | None = None) -> ReplayProgress:
        """Send every record (or ``limit``); Ctrl-C stops early. Always flushes."""
        next_report = time.monotonic()
        with graceful_interrupt() as stop:
            try:
                for record in records:
                    if stop.is_set():
                        self.progress.interrupted = True
                        break
                    if limit is not None and self.progress.read >= limit:
                        break
                    if self.bucket is not None:
                        self.bucket.take()
                    if self.profile is not None and not self.profile.take():
                        break  # the profile's last step is over
                    self._send(record)
                    self.progress.read += 1
                    if time.monotonic() >= next_report:
                        self.sender.poll()
                        self.progress.mark()
                        if self.report:
                            self.report(self.progress)
                        next_report = time.monotonic() + self.report_every_s
            except KeyboardInterrupt:  # a second Ctrl-C
                self.progress.interrupted = True
        self.progress.mark()
        self.sender.flush()
        if self.report:
            self.report(self.progress)
        return self.progress
