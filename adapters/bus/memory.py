"""In-process bus binding: ``memory://topic[?partitions=N]``.

A real binding, not a test double: topics opened with the same name in one
process share their partitions, so a producer and a reader in one process
see each other, exactly as through Kafka. Keys map to partitions by CRC32,
so per-key order holds; consumer groups keep committed positions, so a new
reader in a group resumes after the last commit (at-least-once), like Kafka.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from adapters.errors import ConfigurationError, TerminalError
from adapters.ports import BusMessage, DeliveryReport
from adapters.urls import query_options


@dataclass
class _Topic:
    partitions: list[list[BusMessage]]
    committed: dict[str, list[int]] = field(
        default_factory=dict
    )  # group -> next offset per partition


_TOPICS: dict[str, _Topic] = {}
_LOCK = threading.RLock()


def reset(topic: str | None = None) -> None:
    """Forget one in-memory topic, or all of them."""
    with _LOCK:
        if topic is None:
            _TOPICS.clear()
        else:
            _TOPICS.pop(topic, None)


def _partition_for(key: bytes | None, count: int, counter: int) -> int:
    # Keyless messages are spread round-robin, keyed ones pinned by hash.
    return counter % count if key is None else zlib.crc32(key) % count


class MemoryPublisher:
    """Appends to the shared topic; ``flush`` reports what was appended since the last one."""

    def __init__(self, bus: MemoryBus) -> None:
        self._bus = bus
        self._pending = 0
        self._counter = 0

    def publish(
        self, value: bytes, key: bytes | None = None, headers: Mapping[str, bytes] | None = None
    ) -> None:
        """Append one message to its partition."""
        topic = self._bus.topic_state()
        with _LOCK:
            p = _partition_for(key, len(topic.partitions), self._counter)
            log = topic.partitions[p]
            log.append(
                BusMessage(
                    value=bytes(value),
                    key=key,
                    partition=p,
                    offset=len(log),
                    publish_time_ms=int(time.time() * 1000),
                    headers=tuple((headers or {}).items()),
                )
            )
        self._counter += 1
        self._pending += 1

    def poll(self) -> DeliveryReport:
        """Every append is already durable in memory; report the count."""
        return self.flush()

    def flush(self, timeout_s: float = 30.0) -> DeliveryReport:
        """Every append is already durable in memory; report the count."""
        report = DeliveryReport(self._pending)
        self._pending = 0
        return report

    def close(self) -> None:
        """Nothing to release."""


class MemoryReader:
    """A reader in a consumer group; positions become durable on ``commit``."""

    def __init__(self, bus: MemoryBus, group: str, from_beginning: bool) -> None:
        self._bus = bus
        self._group = group
        topic = bus.topic_state()
        with _LOCK:
            start = topic.committed.get(group)
            if start is None:
                start = [0 if from_beginning else len(p) for p in topic.partitions]
                topic.committed[group] = list(start)
            self._position = list(start)

    def read(self, max_messages: int = 500, timeout_s: float = 1.0) -> list[BusMessage]:
        """Up to ``max_messages``, polling until one arrives or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while True:
            batch = self._take(max_messages)
            if batch or time.monotonic() >= deadline:
                return batch
            time.sleep(0.01)

    def _take(self, max_messages: int) -> list[BusMessage]:
        topic = self._bus.topic_state()
        out: list[BusMessage] = []
        with _LOCK:
            for p, log in enumerate(topic.partitions):
                take = log[self._position[p] : self._position[p] + max_messages - len(out)]
                self._position[p] += len(take)
                out.extend(take)
        return out

    def commit(self) -> None:
        """Make the current positions the group's."""
        with _LOCK:
            self._bus.topic_state().committed[self._group] = list(self._position)

    def close(self) -> None:
        """Nothing to release; uncommitted positions are forgotten."""


class MemoryBus:
    """One in-memory topic, shared by name within the process."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.url = url
        self.topic = unquote(parts.netloc + parts.path).strip("/")
        if not self.topic:
            msg = f"the memory bus URL {url!r} must name a topic, e.g. memory://events_raw"
            raise ConfigurationError(msg)
        self._default_partitions = int(query_options(url).get("partitions", "1"))

    def __repr__(self) -> str:
        return f"MemoryBus({self.topic!r})"

    def topic_state(self) -> _Topic:
        """The shared state of this topic; ``TerminalError`` when it was never created."""
        with _LOCK:
            topic = _TOPICS.get(self.topic)
        if topic is None:
            msg = f"memory topic {self.topic!r} does not exist; call ensure() first"
            raise TerminalError(msg)
        return topic

    def ensure(self, partitions: int = 1) -> int:
        """Create the topic if missing; return its partition count."""
        with _LOCK:
            count = max(partitions, self._default_partitions)
            topic = _TOPICS.setdefault(self.topic, _Topic([[] for _ in range(count)]))
            return len(topic.partitions)

    def partitions(self) -> int:
        """Partition count; ``TerminalError`` when the topic does not exist."""
        return len(self.topic_state().partitions)

    def publisher(self) -> MemoryPublisher:
        """A new publisher."""
        return MemoryPublisher(self)

    def reader(self, group: str, from_beginning: bool = True) -> MemoryReader:
        """A new reader in ``group``."""
        return MemoryReader(self, group, from_beginning)

    def ping(self, timeout_s: float = 5.0) -> float:
        """Always reachable."""
        return 0.0

    def delete(self) -> None:
        """Forget the topic."""
        reset(self.topic)

    def close(self) -> None:
        """Nothing to release."""
