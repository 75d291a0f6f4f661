"""Where a batch's time goes inside the stream operator: laps, appended as one JSON line.

The operator runs in a Python worker that Spark starts; it cannot hand timings to the driver's
progress listener, so it appends them to the file named by ``STREAMKIT_OPERATOR_PROFILE`` in its
environment (which the job sets from ``STREAMKIT_PIPELINE__OPERATOR_PROFILE`` before Spark
starts its workers: local mode only, where workers share the driver's disk). Unset, a
:class:`Stopwatch` records nothing and costs a clock read per lap.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

#: The variable the operator's worker reads.
ENV = "STREAMKIT_OPERATOR_PROFILE"


class Stopwatch:
    """Named laps of one batch, in milliseconds, written by :meth:`write` when profiling."""

    def __init__(self) -> None:
        self.path = os.environ.get(ENV) or None
        self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        """The time since the previous lap (or the start) is ``name``'s."""
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + round((now - self._last) * 1000, 1)
        self._last = now

    def write(self, **facts: Any) -> None:
        """Append the laps and ``facts`` (sizes) as one JSON line, when profiling."""
        if self.path is None:
            return
        try:
            with open(self.path, "a") as out:
                out.write(json.dumps({"at": time.time(), **facts, **self.laps}) + "\n")
        except OSError:
            pass  # a diagnostic: never worth failing a batch for
