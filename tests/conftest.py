"""Shared fixtures: where the real services of this run are.

The real services are those of the local stack (``streamkit local up``),
found through the same settings the app uses. A test that needs one fails,
never skips, when it is not reachable: CI starts the services, so a missing
one is a failure to see.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from adapters.ports import Bus
from adapters.registry import open_bus

#: The real services of this run, from the same variables the app reads.
KAFKA_URL = os.environ.get("STREAMKIT_BUS_URL", "kafka://127.0.0.1:9092/events_raw")
KAFKA_BOOTSTRAP = urlsplit(KAFKA_URL).netloc
MONGO_URL = os.environ.get("STREAMKIT_HOT_STORE_URL", "mongodb://127.0.0.1:27017/streamkit")
#: The cloud emulators `streamkit local up --emulators` starts (host:port).
MOTO_ENDPOINT = f"127.0.0.1:{os.environ.get('STREAMKIT_LOCAL__MOTO_PORT', '5055')}"
GCS_ENDPOINT = f"127.0.0.1:{os.environ.get('STREAMKIT_LOCAL__GCS_PORT', '9023')}"
PUBSUB_ENDPOINT = f"127.0.0.1:{os.environ.get('STREAMKIT_LOCAL__PUBSUB_PORT', '8085')}"
KINESALITE_ENDPOINT = f"127.0.0.1:{os.environ.get('STREAMKIT_LOCAL__KINESALITE_PORT', '4567')}"


def require_tcp(url: str, what: str) -> None:
    """Fail the test, naming the fix, when nothing listens at ``url``'s host:port."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 0
    try:
        with socket.create_connection((host, port), timeout=3):
            return
    except OSError as e:
        pytest.fail(
            f"{what} is not reachable at {host}:{port} ({e}); start it with "
            "`streamkit local up` (or run the suite with `task test`, which does)",
            pytrace=False,
        )


@pytest.fixture
def topics() -> Iterator[tuple[Bus, Bus]]:
    """A fresh events topic (3 partitions) and dead-letter topic (1) on the real broker."""
    require_tcp(KAFKA_URL, "Kafka")
    run = uuid.uuid4().hex[:12]
    events = open_bus(f"kafka://{KAFKA_BOOTSTRAP}/test_events_{run}")
    dead = open_bus(f"kafka://{KAFKA_BOOTSTRAP}/test_dead_{run}")
    events.ensure(3)
    dead.ensure(1)
    try:
        yield events, dead
    finally:
        for bus in (events, dead):
            bus.delete()
            bus.close()
