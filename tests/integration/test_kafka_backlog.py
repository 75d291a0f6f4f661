"""The job's backlog read from outside it: Kafka's end offsets against the checkpoint's commits."""

from __future__ import annotations

import time

import pytest

from adapters.bus.kafka import KafkaBus
from adapters.ports import Bus, PublishTimesBus

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


def test_publish_times_date_the_record_at_each_offset(topics: tuple[Bus, Bus]) -> None:
    events, _ = topics
    assert isinstance(events, PublishTimesBus)
    publisher = events.publisher()
    first = time.time() * 1000
    for n in range(12):
        publisher.publish(b"{}", key=f"user-{n % 5}".encode())
    assert publisher.flush().delivered == 12
    time.sleep(1.2)
    for n in range(12):
        publisher.publish(b"{}", key=f"user-{n % 5}".encode())
    assert publisher.flush().delivered == 12
    publisher.close()
    ends = events.end_offsets()
    used = [p for p, end in ends.items() if end]
    # The first records: published within the first burst.
    oldest = events.publish_times(dict.fromkeys(used, 0))
    assert set(oldest) == set(used)
    assert all(first - 1000 <= t <= first + 1000 for t in oldest.values()), (first, oldest)
    # Half way: each partition's record there belongs to the second burst, 1.2 s later.
    half = {p: ends[p] // 2 for p in used}
    later = events.publish_times(half)
    assert all(later[p] >= oldest[p] + 1000 for p in used), (oldest, later)
    # At the end there is no record yet: left out, after at most the timeout.
    assert events.publish_times(ends, timeout_s=3.0) == {}
    assert events.publish_times({}) == {}
