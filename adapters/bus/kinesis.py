"""Amazon Kinesis Data Streams bus binding (boto3).

URL: ``kinesis://<stream>[?region=eu-west-1][&endpoint=http://127.0.0.1:5055]
[&mode=on-demand][&checkpoint_table=streamkit-bus-checkpoints][&dynamodb_endpoint=...]``.

- Credentials come only from AWS's default chain (see :mod:`adapters.aws`);
  ``endpoint`` reaches moto's server offline or a VPC endpoint.
- ``ensure(n)`` creates a provisioned stream of ``n`` shards, or an on-demand
  one with ``mode=on-demand`` (Kinesis then picks the shards).
- Publishing batches up to 500 records / 5 MiB per ``PutRecords`` call, with
  the partition key = the message key (the user id), and retries exactly the
  entries a partial failure names. Kinesis records have no headers: a message
  with headers is stored in an envelope (:mod:`adapters.bus.envelope`).
- Reading (tools, tests; the stream job reads through
  :mod:`adapters.bus.kinesis_spark`) follows shards by sequence number,
  parents before children. Kinesis has no consumer groups: a group's
  committed positions are items in a DynamoDB table, like the Kinesis Client
  Library's lease table, created on first use.

A message's ``partition`` is its shard's number and its ``offset`` the
record's sequence number (a big integer, increasing within a shard).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from adapters.aws import client, error_code, is_aws_error, refuse_credentials, translate
from adapters.bus import envelope
from adapters.bus.kinesis_shards import Shard, fetch, list_shards, readable, shard_iterator
from adapters.errors import ConfigurationError, TerminalError, TransientError
from adapters.ports import BusMessage, DeliveryReport
from adapters.urls import mask_url, query_options

#: PutRecords limits: 500 entries and 5 MiB per call; 1 MiB per record (data + key).
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
#: Per-entry error codes worth sending again (everything else fails the message).
_RETRYABLE_ENTRY_CODES = frozenset({"ProvisionedThroughputExceededException", "InternalFailure"})
DEFAULT_CHECKPOINT_TABLE = "streamkit-bus-checkpoints"
_KNOWN_OPTIONS = frozenset(
    {
        "region",
        "endpoint",
        "mode",
        "checkpoint_table",
        "dynamodb_endpoint",
        "linger_ms",
        "max_attempts",
    }
)


@dataclass(frozen=True, slots=True)
class KinesisTarget:
    """A parsed ``kinesis://`` URL."""

    stream: str
    region: str | None
    endpoint: str | None
    on_demand: bool
    checkpoint_table: str
    #: Where the checkpoint table is (defaults to ``endpoint``: one emulator or VPC for both).
    dynamodb_endpoint: str | None
    linger_s: float
    max_attempts: int


def parse_kinesis_url(url: str) -> KinesisTarget:
    """Split a ``kinesis://`` URL into its stream and options; refuse credentials and typos."""
    parts = urlsplit(url)
    if parts.scheme != "kinesis" or not parts.netloc:
        msg = f"expected kinesis://<stream>?region=..., got {mask_url(url)!r}"
        raise ConfigurationError(msg)
    if "@" in parts.netloc:
        msg = (
            "a kinesis:// URL takes no user or password: credentials come from AWS's default chain"
        )
        raise ConfigurationError(msg)
    stream = unquote(parts.netloc + parts.path).strip("/")
    if not stream or "/" in stream:
        msg = f"the Kinesis URL {mask_url(url)!r} must name one stream, e.g. kinesis://events_raw?region=..."
        raise ConfigurationError(msg)
    options = query_options(url)
    refuse_credentials(options, url)
    unknown = sorted(set(options) - _KNOWN_OPTIONS)
    if unknown:
        msg = f"unknown kinesis:// URL option(s) {unknown}; known: {sorted(_KNOWN_OPTIONS)}"
        raise ConfigurationError(msg)
    mode = options.get("mode", "provisioned")
    if mode not in ("provisioned", "on-demand"):
        msg = f"kinesis:// mode must be 'provisioned' or 'on-demand', not {mode!r}"
        raise ConfigurationError(msg)
    try:
        linger_s = float(options.get("linger_ms", "50")) / 1000
        max_attempts = int(options.get("max_attempts", "8"))
    except ValueError as e:
        msg = f"linger_ms and max_attempts in {mask_url(url)!r} must be numbers"
        raise ConfigurationError(msg) from e
    return KinesisTarget(
        stream=stream,
        region=options.get("region"),
        endpoint=options.get("endpoint"),
        on_demand=mode == "on-demand",
        checkpoint_table=options.get("checkpoint_table", DEFAULT_CHECKPOINT_TABLE),
        dynamodb_endpoint=options.get("dynamodb_endpoint", options.get("endpoint")),
        linger_s=linger_s,
        max_attempts=max(1, max_attempts),
    )


def partition_key(key: bytes | None) -> str:
    """The Kinesis partition key of a message key (a random one spreads keyless messages)."""
    if key is None:
        return uuid.uuid4().hex
    try:
        text = key.decode()
    except UnicodeDecodeError:
        text = key.hex()
    # Kinesis allows 1 to 256 Unicode characters.
    return text[:256] if text else "-"


class KinesisPublisher:
    """Batches messages into ``PutRecords`` calls. Not thread-safe: one per thread.

    ``publish`` sends a batch when it is full or older than ``linger_ms``;
    ``poll`` sends a lingering batch too. A failed entry is sent again, alone
    with the other failed ones, up to ``max_attempts`` times with jittered
    back-off. Per-key order holds unless an entry is retried: it then lands
    after later records of its key that succeeded the first time (as with the
    Kinesis Producer Library). The stream job does not depend on arrival order
    (it orders by event time behind a watermark).
    """

    def __init__(self, bus: KinesisBus) -> None:
        self._bus = bus
        self._entries: list[dict[str, Any]] = []
        self._bytes = 0
        self._first_at = 0.0
        self._delivered = 0
        self._failed: list[tuple[bytes, str]] = []
        self._values: list[bytes] = []  # the caller's values, to report failures with

    def publish(
        self, value: bytes, key: bytes | None = None, headers: Mapping[str, bytes] | None = None
    ) -> None:
        """Queue one message; sends the batch when it is full or has lingered."""
        data = envelope.wrap(value, headers)
        pkey = partition_key(key)
        size = len(data) + len(pkey.encode())
        if size > MAX_RECORD_BYTES:
            self._failed.append((value, f"record of {size} bytes is over Kinesis's 1 MiB limit"))
            return
        if self._entries and (
            len(self._entries) >= MAX_BATCH_RECORDS or self._bytes + size > MAX_BATCH_BYTES
        ):
            self._send()
        if not self._entries:
            self._first_at = time.monotonic()
        self._entries.append({"Data": data, "PartitionKey": pkey})
        self._values.append(value)
        self._bytes += size
        if len(self._entries) >= MAX_BATCH_RECORDS or self._lingered():
            self._send()

    def _lingered(self) -> bool:
        return (
            bool(self._entries) and time.monotonic() - self._first_at >= self._bus.target.linger_s
        )

    def _send(self) -> None:
        entries, values = self._entries, self._values
        self._entries, self._values, self._bytes = [], [], 0
        pending = list(range(len(entries)))
        last_error = ""
        for attempt in range(self._bus.target.max_attempts):
            if attempt:
                time.sleep(min(2.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.0))  # noqa: S311
            try:
                answer = self._bus.kinesis.put_records(
                    StreamName=self._bus.stream, Records=[entries[i] for i in pending]
                )
            except Exception as e:
                if not is_aws_error(e):
                    raise
                error = translate(e, f"PutRecords to {self._bus.stream!r} failed")
                last_error = str(error)
                if isinstance(error, TerminalError):
                    break
                continue
            retry: list[int] = []
            for index, result in zip(pending, answer["Records"], strict=True):
                code = result.get("ErrorCode")
                if code is None:
                    self._delivered += 1
                elif code in _RETRYABLE_ENTRY_CODES:
                    retry.append(index)
                    last_error = f"{code}: {result.get('ErrorMessage', '')}"
                else:
                    self._failed.append((values[index], f"{code}: {result.get('ErrorMessage')}"))
            pending = retry
            if not pending:
                return
        self._failed.extend((values[i], last_error or "not sent") for i in pending)

    def _take_report(self) -> DeliveryReport:
        report = DeliveryReport(self._delivered, tuple(self._failed))
        self._delivered, self._failed = 0, []
        return report

    def poll(self) -> DeliveryReport:
        """Send a lingering batch; report what was acknowledged or failed since last time."""
        if self._lingered():
            self._send()
        return self._take_report()

    def flush(self, timeout_s: float = 30.0) -> DeliveryReport:
        """Send everything queued (retrying partial failures); report every failed message."""
        if self._entries:
            self._send()
        return self._take_report()

    def close(self) -> None:
        """Send what is queued."""
        if self._entries:
            self._send()


class KinesisReader:
    """Reads every shard, parents before children; positions are committed to DynamoDB."""

    def __init__(self, bus: KinesisBus, group: str, from_beginning: bool) -> None:
        self._bus = bus
        self._group = group
        self._table = _CheckpointTable(bus)
        committed = self._table.load(group)
        self._positions: dict[str, str] = {
            k: v for k, v in committed.items() if v != _DRAINED
        }  # shard -> last sequence number handed out
        self._drained = {k for k, v in committed.items() if v == _DRAINED}
        self._committed = dict(committed)
        self._iterators: dict[str, str | None] = {}
        if not from_beginning and not committed:
            # Start at the end: remember each open shard's current tail as read.
            for shard in readable(list_shards(bus.kinesis, bus.stream), self._drained):
                self._iterators[shard.shard_id] = self._latest_iterator(shard)
        self._shards: list[Shard] = []
        self._listed_at = 0.0

    def _latest_iterator(self, shard: Shard) -> str:
        try:
            answer = self._bus.kinesis.get_shard_iterator(
                StreamName=self._bus.stream, ShardId=shard.shard_id, ShardIteratorType="LATEST"
            )
        except Exception as e:
            if is_aws_error(e):
                raise translate(e, f"could not position on {shard.shard_id}") from e
            raise
        return str(answer["ShardIterator"])

    def _readable(self) -> list[Shard]:
        # Re-list now and then: a reshard adds children while we read.
        if time.monotonic() - self._listed_at > 5.0 or not self._shards:
            self._shards = list_shards(self._bus.kinesis, self._bus.stream)
            self._listed_at = time.monotonic()
        return readable(self._shards, self._drained)

    def read(self, max_messages: int = 500, timeout_s: float = 1.0) -> list[BusMessage]:
        """Up to ``max_messages`` messages, waiting at most ``timeout_s`` for the first."""
        deadline = time.monotonic() + timeout_s
        out: list[BusMessage] = []
        while True:
            for shard in self._readable():
                if len(out) >= max_messages:
                    break
                out.extend(self._read_shard(shard, max_messages - len(out)))
            if out or time.monotonic() >= deadline:
                return out
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def _read_shard(self, shard: Shard, limit: int) -> list[BusMessage]:
        shard_id = shard.shard_id
        if shard.read_to_end(self._positions.get(shard_id)):
            self._drained.add(shard_id)
            self._listed_at = 0.0
            return []
        iterator = self._iterators.get(shard_id)
        if iterator is None:
            iterator = shard_iterator(
                self._bus.kinesis, self._bus.stream, shard_id, self._positions.get(shard_id)
            )
        try:
            got = fetch(self._bus.kinesis, iterator, limit, max_calls=1)
        except TransientError:
            self._iterators[shard_id] = None  # an expired iterator: position again next time
            raise
        self._iterators[shard_id] = got.next_iterator
        messages = [_message(record, shard.number) for record in got.records]
        if got.records:
            self._positions[shard_id] = got.records[-1]["SequenceNumber"]
        if got.drained or shard.read_to_end(self._positions.get(shard_id)):
            self._drained.add(shard_id)
            self._listed_at = 0.0  # its children may be readable now
        return messages

    def commit(self) -> None:
        """Store the position of every shard read since the last commit."""
        current: dict[str, str] = dict(self._positions)
        current.update(dict.fromkeys(self._drained, _DRAINED))
        changed = {k: v for k, v in current.items() if self._committed.get(k) != v}
        if changed:
            self._table.save(self._group, changed)
            self._committed.update(changed)

    def close(self) -> None:
        """Forget the iterators (nothing is held open on the service side)."""
        self._iterators.clear()


def _message(record: Mapping[str, Any], partition: int) -> BusMessage:
    try:
        value, headers = envelope.unwrap(record["Data"])
    except TerminalError:
        value, headers = record["Data"], ()  # hand the bytes over as they are
    arrived = record.get("ApproximateArrivalTimestamp")
    return BusMessage(
        value=value,
        key=str(record.get("PartitionKey", "")).encode(),
        partition=partition,
        offset=int(record["SequenceNumber"]),
        publish_time_ms=int(arrived.timestamp() * 1000) if arrived is not None else 0,
        headers=headers,
    )


#: The position stored for a shard read to its end (its children come next).
_DRAINED = "DRAINED"


class _CheckpointTable:
    """Committed reader positions: one DynamoDB item per (stream/group, shard)."""

    def __init__(self, bus: KinesisBus) -> None:
        self._bus = bus
        self.name = bus.target.checkpoint_table

    def _key(self, group: str) -> str:
        return f"{self._bus.stream}/{group}"

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._bus.dynamodb, method)(**kwargs)
        except Exception as e:
            if is_aws_error(e):
                raise translate(e, f"{what} (DynamoDB table {self.name!r})") from e
            raise

    def ensure(self) -> None:
        """Create the table (on-demand billing) when missing, and wait until it is usable."""
        try:
            self._bus.dynamodb.describe_table(TableName=self.name)
            return
        except Exception as e:
            if error_code(e) != "ResourceNotFoundException":
                if is_aws_error(e):
                    raise translate(e, f"could not describe DynamoDB table {self.name!r}") from e
                raise
        try:
            self._bus.dynamodb.create_table(
                TableName=self.name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "stream_group", "AttributeType": "S"},
                    {"AttributeName": "shard_id", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "stream_group", "KeyType": "HASH"},
                    {"AttributeName": "shard_id", "KeyType": "RANGE"},
                ],
            )
        except Exception as e:
            if error_code(e) != "ResourceInUseException":  # created meanwhile by another reader
                if is_aws_error(e):
                    raise translate(e, f"could not create DynamoDB table {self.name!r}") from e
                raise
        try:
            self._bus.dynamodb.get_waiter("table_exists").wait(
                TableName=self.name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        except Exception as e:
            if is_aws_error(e):
                raise translate(e, f"DynamoDB table {self.name!r} did not become usable") from e
            raise

    def load(self, group: str) -> dict[str, str]:
        """Shard id -> committed sequence number (or drained) of ``group``."""
        self.ensure()
        positions: dict[str, str] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "stream_group = :g",
            "ExpressionAttributeValues": {":g": {"S": self._key(group)}},
            "ConsistentRead": True,
        }
        while True:
            page = self._call("could not read reader positions", "query", **kwargs)
            for item in page.get("Items", []):
                positions[item["shard_id"]["S"]] = item["position"]["S"]
            if "LastEvaluatedKey" not in page:
                return positions
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save(self, group: str, positions: Mapping[str, str]) -> None:
        """Store ``positions`` of ``group`` (one write per shard, in batches of 25)."""
        items = [
            {
                "PutRequest": {
                    "Item": {
                        "stream_group": {"S": self._key(group)},
                        "shard_id": {"S": shard_id},
                        "position": {"S": position},
                        "committed_at_ms": {"N": str(int(time.time() * 1000))},
                    }
                }
            }
            for shard_id, position in positions.items()
        ]
        for start in range(0, len(items), 25):
            request = {self.name: items[start : start + 25]}
            for _ in range(10):
                answer = self._call(
                    "could not commit reader positions", "batch_write_item", RequestItems=request
                )
                request = answer.get("UnprocessedItems") or {}
                if not request:
                    break
                time.sleep(0.2)
            if request:
                msg = f"DynamoDB left reader positions unprocessed in {self.name!r}; retry commit"
                raise TransientError(msg)

    def forget_stream(self) -> None:
        """Delete every group's positions for this stream (when the stream is deleted)."""
        try:
            self._bus.dynamodb.describe_table(TableName=self.name)
        except Exception as e:
            if error_code(e) == "ResourceNotFoundException":
                return
            if is_aws_error(e):
                raise translate(e, f"could not describe DynamoDB table {self.name!r}") from e
            raise
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "FilterExpression": "begins_with(stream_group, :s)",
            "ExpressionAttributeValues": {":s": {"S": f"{self._bus.stream}/"}},
        }
        while True:
            page = self._call("could not list reader positions", "scan", **kwargs)
            for item in page.get("Items", []):
                key = {k: item[k] for k in ("stream_group", "shard_id")}
                self._call(
                    "could not delete a reader position",
                    "delete_item",
                    TableName=self.name,
                    Key=key,
                )
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class KinesisBus:
    """One Kinesis data stream. See the module docstring for the URL form."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.target = parse_kinesis_url(url)
        self.topic = self.stream = self.target.stream
        self._kinesis: Any = None
        self._dynamodb: Any = None

    def __repr__(self) -> str:
        where = self.target.endpoint or self.target.region or "default region"
        return f"KinesisBus({self.stream!r} at {where})"

    @property
    def kinesis(self) -> Any:
        """The shared Kinesis client, created on first use."""
        if self._kinesis is None:
            self._kinesis = client("kinesis", self.target.region, self.target.endpoint)
        return self._kinesis

    @property
    def dynamodb(self) -> Any:
        """The DynamoDB client of the readers' checkpoint table."""
        if self._dynamodb is None:
            self._dynamodb = client("dynamodb", self.target.region, self.target.dynamodb_endpoint)
        return self._dynamodb

    def _describe(self) -> dict[str, Any]:
        try:
            return dict(
                self.kinesis.describe_stream_summary(StreamName=self.stream)[
                    "StreamDescriptionSummary"
                ]
            )
        except Exception as e:
            if error_code(e) == "ResourceNotFoundException":
                msg = f"Kinesis stream {self.stream!r} does not exist ({self!r})"
                raise TerminalError(msg) from e
            if is_aws_error(e):
                raise translate(e, f"could not describe Kinesis stream {self.stream!r}") from e
            raise

    def ensure(self, partitions: int = 1) -> int:
        """Create the stream if missing (``partitions`` shards, or on-demand); return its shards."""
        kwargs: dict[str, Any] = {"StreamName": self.stream}
        if self.target.on_demand:
            kwargs["StreamModeDetails"] = {"StreamMode": "ON_DEMAND"}
        else:
            kwargs["ShardCount"] = partitions
        try:
            self.kinesis.create_stream(**kwargs)
        except Exception as e:
            if error_code(e) != "ResourceInUseException":  # it exists: leave it as it is
                if is_aws_error(e):
                    raise translate(e, f"could not create Kinesis stream {self.stream!r}") from e
                raise
        return self._wait_active()

    def _wait_active(self, timeout_s: float = 120.0) -> int:
        deadline = time.monotonic() + timeout_s
        while True:
            summary = self._describe()
            if summary.get("StreamStatus") == "ACTIVE":
                return self.partitions()
            if time.monotonic() > deadline:
                msg = f"Kinesis stream {self.stream!r} not ACTIVE after {timeout_s:.0f} s"
                raise TransientError(msg)
            time.sleep(0.5)

    def partitions(self) -> int:
        """Open shards of the stream; ``TerminalError`` when it does not exist."""
        self._describe()  # a clear "does not exist" first
        # Counted from the shard list, which every implementation keeps exact
        # through reshards (moto's summary count does not follow them).
        return sum(not shard.closed for shard in list_shards(self.kinesis, self.stream))

    def publisher(self) -> KinesisPublisher:
        """A new batching publisher."""
        return KinesisPublisher(self)

    def reader(self, group: str, from_beginning: bool = True) -> KinesisReader:
        """A new reader whose positions are committed under ``group``."""
        return KinesisReader(self, group, from_beginning)

    def ping(self, timeout_s: float = 5.0) -> float:
        """Seconds taken by a ListStreams call."""
        start = time.perf_counter()
        try:
            self.kinesis.list_streams(Limit=1)
        except Exception as e:
            if is_aws_error(e):
                raise translate(e, f"Kinesis ({self!r}) did not answer") from e
            raise
        return time.perf_counter() - start

    def delete(self) -> None:
        """Delete the stream and the readers' positions for it; no error when missing."""
        try:
            self.kinesis.delete_stream(StreamName=self.stream, EnforceConsumerDeletion=True)
        except Exception as e:
            if error_code(e) != "ResourceNotFoundException":
                if is_aws_error(e):
                    raise translate(e, f"could not delete Kinesis stream {self.stream!r}") from e
                raise
        _CheckpointTable(self).forget_stream()

    def spark_stream(self, spark: Any, max_records_per_batch: int) -> Any:
        """The stream as the job's raw records, through the Kinesis Python data source."""
        from adapters.bus.kinesis_spark import KinesisDataSource  # noqa: PLC0415 - needs pyspark
        from adapters.bus.spark_source import bus_stream  # noqa: PLC0415

        return bus_stream(spark, KinesisDataSource, self.url, max_records_per_batch)

    def close(self) -> None:
        """Drop the clients."""
        self._kinesis = self._dynamodb = None
