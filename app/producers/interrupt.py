"""Ctrl-C that stops a producer between records, never inside the Kafka client.

A ``KeyboardInterrupt`` raised while librdkafka's C code runs (``poll``,
``produce``) surfaces as a ``SystemError`` and loses the summary. So during a
producer loop the first Ctrl-C only sets a flag, which the loop checks
between records before flushing and summarising; a second Ctrl-C raises
``KeyboardInterrupt`` as usual, for when a flush itself hangs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def graceful_interrupt() -> Iterator[threading.Event]:
    """An event set by the first SIGINT while the block runs (main thread only)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be installed from the main thread
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
