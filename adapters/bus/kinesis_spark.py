"""The stream job's Kinesis source: a pyspark Python streaming data source.

Offsets live in the Spark checkpoint, never in the stream: for each shard the
last sequence number read (``after``), how many records of the shard the job
has read (``n``), and whether the shard is closed and read to its end
(``drained``). Planning a batch reads it (``SimpleDataSourceStreamReader``:
on the driver, bounded by ``maxRecordsPerBatch``); recovering a planned batch
after a crash re-reads exactly the same records between the two offsets,
because a shard's records never change. With the job's batch-id idempotent
sinks that makes Kinesis exactly-once, like Kafka.

A record's ``partition`` is its shard's number and its ``offset`` the count
``n`` at that record (1, 2, ...: stable across replays, since it is
computed from the checkpointed start). Kinesis sequence numbers are up to
128-bit and do not fit the job's ``long`` column; a dead letter's source
position ``<shard>/<n>`` stays unique and repeatable all the same.

Shards split or merged while the job runs are followed: children are read
only after their parents are drained (see :mod:`adapters.bus.kinesis_shards`).
Runs on Spark 4.0+ (the simple stream reader API).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pyspark.sql.datasource import SimpleDataSourceStreamReader
from pyspark.sql.types import StructType

try:  # Spark 4.2+; availableNow on 4.0/4.1 is not tested
    from pyspark.sql.streaming.datasource import SupportsTriggerAvailableNow
except ImportError:  # pragma: no cover - depends on the Spark version

    class SupportsTriggerAvailableNow:  # type: ignore[no-redef]
        """Stand-in base on Spark versions without the mixin."""


from adapters.aws import client
from adapters.bus import envelope
from adapters.bus.kinesis import parse_kinesis_url
from adapters.bus.kinesis_shards import (
    Shard,
    fetch,
    list_shards,
    read_until,
    readable,
    shard_iterator,
)
from adapters.bus.spark_source import BusDataSource
from adapters.errors import TerminalError

Row = tuple[bytes, int, int, datetime]
ShardOffset = dict[str, Any]  # {"after": sequence number or "", "n": int, "drained": bool}


class KinesisDataSource(BusDataSource):
    """``spark.readStream.format("streamkit_kinesis").option("url", "kinesis://...")``."""

    FORMAT = "streamkit_kinesis"
    URL_EXAMPLE = "kinesis://<stream>?region=..."

    def simpleStreamReader(self, schema: StructType) -> KinesisStreamReader:  # noqa: N802
        """A reader planning and reading batches on the driver."""
        return KinesisStreamReader(*self.reader_arguments())


class KinesisStreamReader(SimpleDataSourceStreamReader, SupportsTriggerAvailableNow):
    """Reads new records per batch; re-reads a planned batch exactly on recovery.

    For ``availableNow`` runs (``streamkit pipeline --once``) the target is a
    moment, not a position: Kinesis cannot say which sequence number is last
    without reading, so the run takes every record that arrived before
    :meth:`prepareForTriggerAvailableNow` was called, in as many batches of
    ``maxRecordsPerBatch`` as that needs, and stops.
    """

    def __init__(self, url: str, max_records_per_batch: int) -> None:
        self.url = url
        self.target = parse_kinesis_url(url)
        self.max_records = max(1, max_records_per_batch)
        self._client: Any = None
        #: availableNow: records that arrived after this moment are left for later.
        self._until: datetime | None = None

    def __getstate__(self) -> dict[str, Any]:
        # boto3 clients do not pickle; a copy makes its own on first use.
        return {**self.__dict__, "_client": None}

    @property
    def kinesis(self) -> Any:
        """The Kinesis client, made on first use in whichever process runs the reader."""
        if self._client is None:
            self._client = client("kinesis", self.target.region, self.target.endpoint)
        return self._client

    def prepareForTriggerAvailableNow(self) -> None:  # noqa: N802 - pyspark's name
        """Fix the moment after which arriving records are not read by this run."""
        self._until = datetime.now(UTC)

    def initialOffset(self) -> dict[str, Any]:  # noqa: N802 - pyspark's name
        """Every shard from its oldest record (shards appearing later are added as found)."""
        return {
            shard.shard_id: {"after": "", "n": 0, "drained": False}
            for shard in list_shards(self.kinesis, self.target.stream)
        }

    def read(self, start: dict[str, Any]) -> tuple[Iterator[Row], dict[str, Any]]:
        """New records after ``start`` (up to ``maxRecordsPerBatch``) and the offset after them."""
        shards = list_shards(self.kinesis, self.target.stream)
        end: dict[str, ShardOffset] = {k: dict(v) for k, v in start.items()}
        for shard in shards:
            end.setdefault(shard.shard_id, {"after": "", "n": 0, "drained": False})
        drained = {k for k, v in end.items() if v["drained"]}
        rows: list[Row] = []
        now_readable = readable(shards, drained)
        for position, shard in enumerate(now_readable):
            budget = self.max_records - len(rows)
            if budget <= 0:
                break
            # Share what is left of the batch among the shards still to read.
            share = math.ceil(budget / (len(now_readable) - position))
            state = end[shard.shard_id]
            if shard.read_to_end(state["after"] or None):
                state["drained"] = True
                continue
            iterator = shard_iterator(
                self.kinesis, self.target.stream, shard.shard_id, state["after"] or None
            )
            got = fetch(self.kinesis, iterator, share)
            records = self._before_target(got.records)
            for record in records:
                state["n"] += 1
                rows.append(_row(record, shard.number, state["n"]))
            if records:
                state["after"] = records[-1]["SequenceNumber"]
            complete = len(records) == len(got.records)
            state["drained"] = complete and (got.drained or shard.read_to_end(state["after"]))
        return iter(rows), end

    def _before_target(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``records`` up to the first that arrived after an availableNow run's moment."""
        if self._until is None:
            return records
        for index, record in enumerate(records):
            if _arrival(record) > self._until:
                return records[:index]
        return records

    def readBetweenOffsets(  # noqa: N802 - pyspark's name
        self, start: dict[str, Any], end: dict[str, Any]
    ) -> Iterator[Row]:
        """Exactly the records of a batch planned earlier (recovery after a restart)."""
        for shard_id, stop in sorted(end.items()):
            begin = start.get(shard_id, {"after": "", "n": 0})
            count = int(stop["n"]) - int(begin["n"])
            if count <= 0:
                continue
            records = read_until(
                self.kinesis, self.target.stream, shard_id, begin["after"] or None, stop["after"]
            )
            if len(records) != count:
                msg = (
                    f"re-reading {shard_id} gave {len(records)} records where the batch had"
                    f" {count}: the shard lost records (retention); restart from a new checkpoint"
                )
                raise TerminalError(msg)
            number = Shard(shard_id).number  # the id holds it: no shard listing needed
            for index, record in enumerate(records, start=int(begin["n"]) + 1):
                yield _row(record, number, index)

    def commit(self, end: dict[str, Any]) -> None:
        """Nothing to do: positions live in the checkpoint, and Kinesis keeps records by age."""


def _row(record: dict[str, Any], partition: int, ordinal: int) -> Row:
    data: bytes = record["Data"]
    try:
        value, _headers = envelope.unwrap(data)
    except TerminalError:
        value = data  # garbled: the job dead-letters it as it is
    return value, partition, ordinal, _arrival(record)


def _arrival(record: dict[str, Any]) -> datetime:
    """When Kinesis took the record (UTC)."""
    arrived: datetime = record["ApproximateArrivalTimestamp"]
    return arrived if arrived.tzinfo is not None else arrived.replace(tzinfo=UTC)
