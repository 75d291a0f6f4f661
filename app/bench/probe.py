"""Marker events sent once a second and read back through the API: latency as a user sees it.

Markers are page views of one reserved shopper (so one partition, read in order). A marker sent
during wall-clock minute ``w`` happens, in event time, in minute ``w + LEAD``: a minute the
benchmark's traffic (whose event time is its send time) reaches only ``LEAD`` minutes later. So
while a minute takes markers, its ``events`` count is exactly the markers the job has written,
and :func:`app.bench.markers.latencies` turns the polled counts into each marker's latency.
``LEAD`` stays inside the job's 5-minute limit on future event times, and moves the watermark
(the latest event time minus 10 minutes) to 7 minutes behind the clock: no benchmark traffic is
late.

The poller reads ``GET /kpis`` for the current and previous marker minutes every 50 ms, through
the API's cache, as a dashboard would. A minute that traffic has reached, or that the job wrote
after the markers stopped being sent to it, is no longer evidence: polls are kept only up to
``LEAD`` minutes after the minute started taking markers.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from adapters.ports import Bus
from app.bench.markers import Poll, latencies
from app.producers.sender import EventSender

#: How far ahead of the clock a marker happens, in minutes.
LEAD = 3
MARKER_USER = "bench-marker"


def marker_minute(sent: datetime) -> datetime:
    """The event-time minute a marker sent at ``sent`` lands in."""
    return sent.replace(second=0, microsecond=0) + timedelta(minutes=LEAD)


@dataclass
class Markers:
    """Markers sent so far: per event-time minute, the send moments (epoch seconds), in order."""

    sent: dict[datetime, list[float]] = field(default_factory=lambda: defaultdict(list))
    polls: dict[datetime, list[Poll]] = field(default_factory=lambda: defaultdict(list))
    poll_errors: int = 0

    def latencies(self) -> list[tuple[float, float | None]]:
        """(send moment, latency in s or None when never seen) for every marker."""
        out: list[tuple[float, float | None]] = []
        for minute, moments in sorted(self.sent.items()):
            seen = latencies(moments, self.polls.get(minute, []))
            out.extend(zip(moments, seen, strict=True))
        return out


class MarkerProbe:
    """Two threads: one publishes a marker a second, one polls the API every ``poll_s``."""

    def __init__(
        self,
        events: Bus,
        deadletter: Bus,
        api_url: str,
        interval_s: float = 1.0,
        poll_s: float = 0.05,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.markers = Markers()
        self._sender = EventSender(events, deadletter, source="bench", clock=clock)
        self._api_url = api_url
        self._interval_s, self._poll_s = interval_s, poll_s
        self._clock = clock
        self._run = uuid.uuid4().hex[:8]
        self._stop_sending = threading.Event()
        self._stop_polling = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._send_loop, name="markers", daemon=True),
            threading.Thread(target=self._poll_loop, name="marker-polls", daemon=True),
        ]

    @property
    def count(self) -> int:
        """Markers published so far."""
        with self._lock:
            return sum(len(v) for v in self.markers.sent.values())

    def start(self) -> None:
        """Start sending and polling."""
        for thread in self._threads:
            thread.start()

    def stop_sending(self) -> None:
        """No more markers; the polls go on, for the last ones to become visible."""
        self._stop_sending.set()
        self._threads[0].join(timeout=10)
        self._sender.flush()
        self._sender.close()

    def stop(self) -> None:
        """Stop sending (if still) and polling."""
        if not self._stop_sending.is_set():
            self.stop_sending()
        self._stop_polling.set()
        self._threads[1].join(timeout=10)

    def _send_loop(self) -> None:
        k = 0
        next_at = time.monotonic()
        while not self._stop_sending.is_set():
            now = self._clock()
            minute = marker_minute(now)
            happened = minute + timedelta(seconds=now.second, microseconds=now.microsecond)
            self._sender.send(
                {
                    "event_id": f"bench-{self._run}-{k}",
                    "event_time": happened.isoformat(timespec="milliseconds"),
                    "event_type": "page_view",
                    "user_id": MARKER_USER,
                    "session_id": f"bench-{self._run}",
                    "product_id": "bench-marker",
                    "source": "bench",
                }
            )
            # The moment the sender stamped as ingest_ts, on the same clock as the polls.
            with self._lock:
                self.markers.sent[minute].append(now.timestamp())
            self._sender.poll()
            k += 1
            next_at += self._interval_s
            self._stop_sending.wait(max(0.0, next_at - time.monotonic()))

    def _poll_loop(self) -> None:
        with httpx.Client(base_url=self._api_url, timeout=5.0) as client:
            while not self._stop_polling.is_set():
                self._poll_once(client)
                self._stop_polling.wait(self._poll_s)

    def _poll_once(self, client: httpx.Client) -> None:
        now = self._clock()
        current = marker_minute(now)
        start, end = current - timedelta(minutes=1), current + timedelta(minutes=1)
        params = {"start": start.isoformat(), "end": end.isoformat()}
        try:
            response = client.get("/kpis", params=params)
            response.raise_for_status()
            minutes = response.json()["minutes"]
        except (httpx.HTTPError, KeyError, ValueError):
            self.markers.poll_errors += 1
            return
        at = self._clock().timestamp()
        counts = {datetime.fromisoformat(m["minute"]): int(m["events"]) for m in minutes}
        with self._lock:
            for minute in (start, current):
                # Evidence only while traffic cannot have reached the minute (see the module).
                if now < minute:
                    self.markers.polls[minute].append(Poll(at, counts.get(minute, 0)))
