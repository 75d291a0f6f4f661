"""Named crash points, for proving exactly-once under ``kill -9``.

``STREAMKIT_CRASH_AT=<point>@<batch>`` makes the job kill its own process
group with SIGKILL when batch ``<batch>`` reaches ``<point>`` inside the sink
writes: no cleanup runs, exactly as if the machine had died there. The
exactly-once tests restart the job afterwards (without the variable) and
compare its output with an uninterrupted run. Never set it in production.
"""

from __future__ import annotations

import os
import signal
import sys
from enum import StrEnum

from adapters.errors import ConfigurationError


class Point(StrEnum):
    """Places inside one batch's sink writes, in the order they are reached."""

    BEFORE_SINKS = "before_sinks"
    AFTER_DEADLETTERS = "after_deadletters"
    AFTER_HOT_STORE = "after_hot_store"
    DURING_ARCHIVE = "during_archive"
    AFTER_ARCHIVE = "after_archive"


class CrashPlan:
    """Where to crash, parsed from ``<point>@<batch>``; an empty plan never crashes."""

    def __init__(self, spec: str = "") -> None:
        """Parse ``spec``; raises ``ConfigurationError`` naming the accepted form."""
        self.point: Point | None = None
        self.batch = -1
        if not spec:
            return
        name, _, batch = spec.partition("@")
        try:
            self.point, self.batch = Point(name), int(batch)
        except ValueError as e:
            points = ", ".join(p.value for p in Point)
            msg = f"STREAMKIT_CRASH_AT={spec!r}: expected <point>@<batch id>, point one of {points}"
            raise ConfigurationError(msg) from e

    def reached(self, point: Point, batch_id: int) -> None:
        """Die here, with the whole process group, when this is the planned point."""
        if point is self.point and batch_id == self.batch:
            print(f"crash point {point.value}@{batch_id}: kill -9", file=sys.stderr, flush=True)  # noqa: T201
            os.killpg(os.getpgrp(), signal.SIGKILL)
