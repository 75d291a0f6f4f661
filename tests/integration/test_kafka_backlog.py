"""The job's backlog read from outside it: Kafka's end offsets against the checkpoint's commits."""

from __future__ import annotations

import pytest

from adapters.bus.kafka import KafkaBus
from adapters.ports import Bus

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


def test_end_offsets_count_every_message_per_partition(topics: tuple[Bus, Bus]) -> None:
    events, _ = topics
    assert isinstance(events, KafkaBus)
    assert events.end_offsets() == {0: 0, 1: 0, 2: 0}
    publisher = events.publisher()
    for n in range(30):
        publisher.publish(b"{}", key=f"user-{n % 7}".encode())
    assert publisher.flush().delivered == 30
    publisher.close()
    ends = events.end_offsets()
    assert sorted(ends) == [0, 1, 2]
    assert sum(ends.values()) == 30
    # A reader that has consumed everything stands exactly at the end offsets.
    reader = events.reader("backlog-check")
    seen: dict[int, int] = {}
    while sum(seen.values()) < 30:
        for message in reader.read(100, 5.0):
            seen[message.partition] = max(seen.get(message.partition, 0), message.offset + 1)
    reader.close()
    assert seen == {p: end for p, end in ends.items() if end}
