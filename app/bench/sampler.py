"""Once a second during the benchmark: the topic's end, the job's committed position, usage.

One thread, so every figure of a sample is from the same moment. The end offsets say how much
traffic has been published (the input rate is their slope); the committed offsets, read from the
job's checkpoint (:mod:`app.bench.backlog`), how much the job has finished (the processed rate);
their difference is the backlog (lag). CPU and memory come per service from
:class:`app.bench.usage.TreeSampler`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from adapters.ports import OffsetsBus
from app.bench.backlog import committed_offsets
from app.bench.usage import TreeSampler, Usage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    """The state at ``at`` (epoch seconds)."""

    at: float
    published: int  # records on the topic (the sum of its end offsets)
    committed: int  # records the job has committed
    usage: dict[str, Usage] = field(default_factory=dict)

    @property
    def lag(self) -> int:
        """Records published and not yet committed by the job."""
        return max(0, self.published - self.committed)


class Sampler:
    """Samples every ``every_s`` in a thread until stopped."""

    def __init__(
        self,
        bus: OffsetsBus,
        checkpoint: Path,
        services: TreeSampler,
        every_s: float = 1.0,
    ) -> None:
        self.samples: list[Sample] = []
        self.errors = 0
        self._bus, self._checkpoint, self.services = bus, checkpoint, services
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current sample."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.samples.append(self.take())
            except Exception as e:  # noqa: BLE001 - a missed second must not end the measuring
                # A gap in the plots, counted in the report; the next second is sampled again.
                self.errors += 1
                log.warning("benchmark sample failed: %s", e)
            next_at += self._every_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def take(self) -> Sample:
        """One sample now."""
        at = time.time()
        published = sum(self._bus.end_offsets().values())
        committed = sum(committed_offsets(self._checkpoint, self._bus.topic).values())
        return Sample(at, published, committed, self.services.sample())
