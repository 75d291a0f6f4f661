"""The stream job's backlog on Kafka, read from outside the job: what the benchmark calls lag.

The job's own progress reports how far behind the latest offsets it was when it planned a batch;
between batches the backlog keeps growing unseen. The benchmark wants the backlog at any moment:
the topic's end offsets (``KafkaBus.end_offsets``) minus the offsets the job has committed, which
Spark keeps in its checkpoint. ``offsets/<n>`` holds the end offsets planned for batch ``n`` (a
version line, the batch metadata, then one JSON line per source, ``{"topic": {"0": 42, ...}}``),
and ``commits/<n>`` appears once batch ``n`` has been written: so the committed position is the
``offsets`` entry of the highest batch in ``commits``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path


def planned_offsets(entry: Path, topic: str) -> dict[int, int]:
    """Each partition's end offset (exclusive) planned for the batch of offset-log ``entry``."""
    lines = entry.read_text().splitlines()
    if len(lines) < 3:
        msg = f"{entry} is not a Spark offset log entry (a version, metadata, offsets)"
        raise ValueError(msg)
    sources = json.loads(lines[2])
    if topic not in sources:
        msg = f"{entry} has no offsets for topic {topic!r} (it reads {sorted(sources)})"
        raise ValueError(msg)
    return {int(p): int(o) for p, o in sources[topic].items()}


def committed_offsets(checkpoint: Path, topic: str) -> dict[int, int]:
    """Each partition's offset the job has processed up to (exclusive); empty before any commit."""
    commits = checkpoint / "commits"
    done = [int(p.name) for p in commits.iterdir() if p.name.isdigit()] if commits.is_dir() else []
    for batch in sorted(done, reverse=True):
        entry = checkpoint / "offsets" / str(batch)
        if entry.is_file():
            return planned_offsets(entry, topic)
        # Else Spark purged it already: an older commit still has its offsets.
    return {}


def behind(end: Mapping[int, int], committed: Mapping[int, int]) -> int:
    """Records written to the topic and not yet processed by a committed batch."""
    return sum(max(0, offset - committed.get(partition, 0)) for partition, offset in end.items())
