"""Reading a finished run back: the topic in the order the job's batches took it, and outputs.

The job's offset log (``<checkpoint>/offsets/<n>``) records the end offsets planned for
each batch; a batch re-run after a crash re-uses its entry. So the records of the topic,
ordered by the batch that held them, are exactly what the job saw, batch by batch, kills
and restarts included: the oracle's lateness then follows the batches with no guessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import orjson
import pandas as pd

from adapters.ports import Archive, Bus, BusMessage, HotStore
from app.bench.backlog import planned_offsets
from app.chaos.verify import Outputs
from app.pipeline.documents import KPI_MINUTES, SESSIONS
from app.topics import read_topic

#: The archive's datasets the verdict reads.
DATASETS = ("events", "late_events", "sessions", "kpi_minutes")


#: Spark keeps only the newest 100 entries of the offset log by default; a run read back needs
#: them all, so the jobs it verifies are started with this setting raised (:data:`KEEP_BATCHES`).
RETAIN = "spark.sql.streaming.minBatchesToRetain"
KEEP_BATCHES = {RETAIN: "1000000"}


def batch_ends(checkpoint: Path, topic: str) -> list[dict[int, int]]:
    """Per planned batch, each partition's end offset (exclusive), from Spark's offset log.

    Raises ``ValueError`` when the log does not hold every batch from 0: Spark purged the
    oldest (``spark.sql.streaming.minBatchesToRetain``), and their records would otherwise
    be taken for the first batch left, with the wrong lateness.
    """
    log = checkpoint / "offsets"
    entries = sorted((p for p in log.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    ids = [int(p.name) for p in entries]
    if ids != list(range(len(ids))):
        first = ids[0] if ids else None
        msg = (
            f"the offset log of {checkpoint} starts at batch {first} or has gaps: Spark purged "
            f"older entries, so the run cannot be read back batch by batch; run the job with "
            f"{RETAIN} raised (STREAMKIT_SPARK__CONF)"
        )
        raise ValueError(msg)
    return [planned_offsets(entry, topic) for entry in entries]


def in_batch_order(
    messages: Sequence[BusMessage], ends: Sequence[dict[int, int]]
) -> tuple[list[bytes], list[int]]:
    """Record values ordered by batch (then partition, offset), and the size of each batch.

    Raises ``ValueError`` for a message no batch planned (the job has not drained).
    """

    def batch(m: BusMessage) -> int:
        for n, end in enumerate(ends):
            if m.offset < end.get(m.partition, 0):
                return n
        msg = f"partition {m.partition} offset {m.offset} is in no planned batch: not drained"
        raise ValueError(msg)

    keyed = sorted((batch(m), m.partition, m.offset, m.value) for m in messages)
    sizes = pd.Series([k[0] for k in keyed], dtype="int64").value_counts()
    return [k[3] for k in keyed], [int(sizes.get(n, 0)) for n in range(len(ends))]


def outputs(hot: HotStore, archive: Archive, dead_letters: Bus, bus_url: str) -> Outputs:
    """Everything a run wrote, read back for :func:`app.chaos.verify.verify`."""
    return Outputs(
        minutes=pd.DataFrame(hot.find_range(KPI_MINUTES, "minute")),
        sessions=pd.DataFrame(hot.find_range(SESSIONS, "session_id")),
        archived={name: archive.read(name).to_pandas() for name in DATASETS},
        dead_letters=[orjson.loads(m.value) for m in read_topic(dead_letters)],
        bus_url=bus_url,
    )
