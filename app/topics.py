"""Reading a whole topic back: for triage, read-backs and checks, never for the job."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from adapters.ports import Bus, BusMessage


def read_topic(
    bus: Bus, progress: Callable[[str], None] | None = None, idle_s: float = 5.0
) -> list[BusMessage]:
    """Every message of a topic, from the beginning, through a reader group of its own.

    The group never commits, so it leaves nothing behind to resume from. Reading ends when
    nothing has come for ``idle_s``. On a bus whose new groups see no history (Pub/Sub:
    a subscription begins when it is made) only what comes meanwhile is read; callers that
    need the history check :func:`keeps_history` first.
    """
    reader = bus.reader(f"streamkit-readback-{uuid.uuid4().hex[:8]}", from_beginning=True)
    messages: list[BusMessage] = []
    try:
        while batch := reader.read(5_000, timeout_s=idle_s):
            messages.extend(batch)
            if progress is not None:
                progress(f"read {len(messages):,} records")
    finally:
        reader.close()
    return messages


def keeps_history(bus: Bus) -> bool:
    """Whether a new reader group sees what was published before it existed."""
    return bool(getattr(bus, "history_for_new_groups", True))
