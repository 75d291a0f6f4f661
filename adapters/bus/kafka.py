"""Kafka bus binding (confluent-kafka).

URL: ``kafka://host:port[,host:port...]/topic[?librdkafka.key=value...]``.
Query parameters are passed to librdkafka as they are (``security.protocol``,
``sasl.mechanism``, ...), so secure clusters need no code change. The composition
root passes the settings' ``kafka`` group as ``security`` (the same librdkafka
names); an option in the URL query wins over the same one from ``security``.
Every client of a bus (producers, consumers, the admin client) and Spark's Kafka
source get the merged options (see :mod:`adapters.bus.kafka_security`).

The producer is idempotent with ``acks=all``: librdkafka's own retries never
duplicate or reorder a message. Records carry the publish time as their
timestamp, never the event's time: the broker applies retention to record
timestamps, and a replay of last year's events must not be deleted on arrival.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from adapters.bus import kafka_security
from adapters.errors import ConfigurationError, MissingExtraError, TerminalError, TransientError
from adapters.ports import BusMessage, DeliveryReport
from adapters.urls import mask_url, query_options

try:
    import confluent_kafka as ck
    from confluent_kafka.admin import (  # type: ignore[attr-defined]
        AdminClient,
        NewTopic,
        OffsetSpec,
    )
except ModuleNotFoundError as e:  # pragma: no cover - depends on the install
    raise MissingExtraError("confluent-kafka", "local") from e  # noqa: EM101

#: librdkafka errors that will not pass by retrying.
_TERMINAL_CODES = frozenset(
    {
        ck.KafkaError.UNKNOWN_TOPIC_OR_PART,
        ck.KafkaError._UNKNOWN_TOPIC,  # noqa: SLF001 - librdkafka's local error codes
        ck.KafkaError.TOPIC_AUTHORIZATION_FAILED,
        ck.KafkaError.MSG_SIZE_TOO_LARGE,
        ck.KafkaError.INVALID_CONFIG,
    }
)
_PRODUCER_DEFAULTS = {
    "enable.idempotence": True,  # defaults to false in librdkafka
    "acks": "all",
    "linger.ms": 5,
    "compression.type": "lz4",
    "message.timeout.ms": 120_000,
}
_BUFFER_FULL_RETRIES = 50
#: Serve delivery callbacks every this many messages: per message, the call costs more than
#: producing; a full local queue is served at once anyway (BufferError below).
_POLL_EVERY = 64
#: librdkafka's own log lines (connection refused while a broker restarts, ...)
#: go through Python logging instead of straight to stderr, so the app decides.
LIBRDKAFKA_LOGGER = logging.getLogger("librdkafka")


def parse_kafka_url(url: str) -> tuple[str, str, dict[str, str]]:
    """Split a ``kafka://`` URL into bootstrap servers, topic and client config."""
    parts = urlsplit(url)
    if parts.scheme != "kafka" or not parts.netloc:
        msg = f"expected kafka://host:port/topic, got {mask_url(url)!r}"
        raise ConfigurationError(msg)
    for server in parts.netloc.split(","):
        _, colon, port = server.rpartition(":")
        if colon and "]" not in port and not (port.isdigit() and 0 < int(port) < 65536):
            msg = f"the Kafka URL has a bad port in {server!r}: expected host:port, port 1-65535"
            raise ConfigurationError(msg)
    topic = unquote(parts.path.strip("/"))
    if not topic or "/" in topic:
        msg = f"the Kafka URL {mask_url(url)!r} must name exactly one topic, e.g. kafka://127.0.0.1:9092/events_raw"
        raise ConfigurationError(msg)
    return parts.netloc, topic, query_options(url)


def _error(err: ck.KafkaError, what: str) -> TransientError | TerminalError:
    text = f"{what}: {err.str()}"
    if err.code() in _TERMINAL_CODES or err.fatal():
        return TerminalError(text)
    return TransientError(text)


def _headers(message: ck.Message) -> tuple[tuple[str, bytes], ...]:
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return tuple((k, v.encode() if isinstance(v, str) else (v or b"")) for k, v in pairs)


class KafkaPublisher:
    """An idempotent producer for one topic. Not thread-safe: one per thread."""

    def __init__(self, config: Mapping[str, Any], topic: str) -> None:
        self._topic = topic
        self._producer = ck.Producer({**_PRODUCER_DEFAULTS, **config})
        self._delivered = 0
        self._failed: list[tuple[bytes, str]] = []
        self._queued = 0

    def _on_delivery(self, err: ck.KafkaError | None, msg: ck.Message) -> None:
        if err is None:
            self._delivered += 1
        else:
            self._failed.append((msg.value() or b"", err.str()))

    def publish(
        self, value: bytes, key: bytes | None = None, headers: Mapping[str, bytes] | None = None
    ) -> None:
        """Queue one message; waits for buffer space rather than dropping it."""
        for _ in range(_BUFFER_FULL_RETRIES):
            try:
                self._producer.produce(
                    self._topic,
                    value=value,
                    key=key,
                    headers=list(headers.items()) if headers else None,
                    on_delivery=self._on_delivery,
                )
                self._queued += 1
                if self._queued % _POLL_EVERY == 0:
                    self._producer.poll(0)  # serve delivery reports now and then, not per message
                return
            except BufferError:
                # The local queue is full: serve delivery reports to make room.
                self._producer.poll(0.1)
            except ck.KafkaException as e:
                raise _error(e.args[0], "publish failed") from e
        msg = "the producer's local queue stayed full; is the broker reachable?"
        raise TransientError(msg)

    def _take_report(self) -> DeliveryReport:
        report = DeliveryReport(self._delivered, tuple(self._failed))
        self._delivered, self._failed = 0, []
        return report

    def poll(self) -> DeliveryReport:
        """Serve delivery reports that arrived; return them without waiting."""
        self._producer.poll(0)
        return self._take_report()

    def flush(self, timeout_s: float = 30.0) -> DeliveryReport:
        """Wait for acknowledgements; report every failed message."""
        remaining = self._producer.flush(timeout_s)
        if remaining:
            msg = f"{remaining} message(s) still unacknowledged after {timeout_s:.0f} s"
            raise TransientError(msg)
        return self._take_report()

    def close(self) -> None:
        """Flush (up to 30 s) and drop the producer."""
        self._producer.flush(30)


class KafkaReader:
    """A consumer in one group, committing only when told to."""

    def __init__(self, config: Mapping[str, Any], topic: str, group: str, from_beginning: bool):
        self._consumer = ck.Consumer(
            {
                **config,
                "group.id": group,
                "auto.offset.reset": "earliest" if from_beginning else "latest",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
            }
        )
        self._consumer.subscribe([topic])

    def read(self, max_messages: int = 500, timeout_s: float = 1.0) -> list[BusMessage]:
        """Up to ``max_messages`` messages, waiting at most ``timeout_s``."""
        try:
            raw = self._consumer.consume(num_messages=max_messages, timeout=timeout_s)
        except ck.KafkaException as e:
            raise _error(e.args[0], "read failed") from e
        out = []
        for m in raw:
            if (err := m.error()) is not None:
                raise _error(err, "read failed")
            out.append(
                BusMessage(
                    value=m.value() or b"",
                    key=m.key(),
                    partition=m.partition() or 0,
                    offset=m.offset() or 0,
                    publish_time_ms=m.timestamp()[1],
                    headers=_headers(m),
                )
            )
        return out

    def commit(self) -> None:
        """Commit the positions of everything read so far (synchronously)."""
        try:
            self._consumer.commit(asynchronous=False)
        except ck.KafkaException as e:
            if e.args[0].code() != ck.KafkaError._NO_OFFSET:  # noqa: SLF001 - nothing read yet
                raise _error(e.args[0], "commit failed") from e

    def close(self) -> None:
        """Leave the group."""
        self._consumer.close()


class KafkaBus:
    """One Kafka topic. See the module docstring for the URL form."""

    def __init__(self, url: str, security: Mapping[str, str] | None = None) -> None:
        self.url = url
        self.bootstrap, self.topic, query = parse_kafka_url(url)
        # The URL names one cluster, so what it says wins over the settings group.
        self._options: dict[str, str] = {**(security or {}), **query}
        self._config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "logger": LIBRDKAFKA_LOGGER,
            **kafka_security.client_config(self._options),
        }
        self._admin: AdminClient | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KafkaBus({self.bootstrap!r}, topic={self.topic!r})"

    @property
    def admin(self) -> AdminClient:
        """The shared admin client, created on first use."""
        with self._lock:
            if self._admin is None:
                try:
                    self._admin = AdminClient(self._config)
                except ck.KafkaException as e:  # an option librdkafka lacks
                    msg = (
                        "a librdkafka option in the Kafka URL or STREAMKIT_KAFKA__* is bad: "
                        f"{e.args[0].str()}"
                    )
                    raise ConfigurationError(msg) from e
                if kafka_security.uses_msk_iam(self._options):
                    # The admin client asks oauth_cb for its first token only when polled.
                    self._admin.poll(1.0)
            return self._admin

    def _metadata(self, timeout_s: float) -> Any:
        try:
            return self.admin.list_topics(topic=self.topic, timeout=timeout_s)
        except ck.KafkaException as e:
            raise _error(e.args[0], f"Kafka at {self.bootstrap} did not answer") from e

    def ensure(self, partitions: int = 1) -> int:
        """Create the topic if missing (broker-default replication); return its partitions."""
        # replication_factor=-1 lets the broker's default.replication.factor decide,
        # so the same call suits a one-node laptop broker and a real cluster.
        future = self.admin.create_topics(
            [NewTopic(self.topic, num_partitions=partitions, replication_factor=-1)],
            operation_timeout=30,
        )[self.topic]
        try:
            future.result(timeout=60)
        except ck.KafkaException as e:
            if e.args[0].code() != ck.KafkaError.TOPIC_ALREADY_EXISTS:
                raise _error(e.args[0], f"could not create topic {self.topic!r}") from e
        return self._wait_for_partitions()

    def _wait_for_partitions(self, timeout_s: float = 30.0) -> int:
        # Metadata propagates asynchronously after CreateTopics returns.
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.partitions()
            except TerminalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def partitions(self) -> int:
        """Partition count of the topic; ``TerminalError`` when it does not exist."""
        meta = self._metadata(10).topics.get(self.topic)
        if meta is None or meta.error is not None or not meta.partitions:
            msg = f"topic {self.topic!r} does not exist on {self.bootstrap}"
            raise TerminalError(msg)
        return len(meta.partitions)

    def publisher(self) -> KafkaPublisher:
        """A new idempotent producer for this topic."""
        return KafkaPublisher(self._config, self.topic)

    def reader(self, group: str, from_beginning: bool = True) -> KafkaReader:
        """A new consumer in ``group``."""
        return KafkaReader(self._config, self.topic, group, from_beginning)

    def end_offsets(self, timeout_s: float = 10.0) -> dict[int, int]:
        """Each partition's end offset: the next offset to be written, where a caught-up reader is.

        The benchmark measures the job's backlog against these.
        """
        wanted = {
            ck.TopicPartition(self.topic, p): OffsetSpec.latest()  # type: ignore[no-untyped-call]
            for p in range(self.partitions())
        }
        try:
            futures = self.admin.list_offsets(wanted, request_timeout=timeout_s)
            return {tp.partition: int(f.result().offset) for tp, f in futures.items()}
        except ck.KafkaException as e:
            raise _error(e.args[0], f"reading the end offsets of {self.topic!r}") from e

    def publish_times(self, offsets: Mapping[int, int], timeout_s: float = 5.0) -> dict[int, int]:
        """Per partition, the publish time (epoch ms) of the record at the given offset.

        How old the oldest record a reader has not processed is: the alerts' consumer lag in
        seconds. A throwaway consumer is assigned the offsets (no group is joined, nothing is
        committed) and reads one record per partition; partitions at their end are left out.
        """
        if not offsets:
            return {}
        consumer = ck.Consumer(
            {
                **self._config,
                "group.id": f"streamkit-peek-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                # An offset retention already deleted: the oldest record still kept.
                "auto.offset.reset": "earliest",
            }
        )
        times: dict[int, int] = {}
        waiting = set(offsets)
        deadline = time.monotonic() + timeout_s
        try:
            consumer.assign([ck.TopicPartition(self.topic, p, o) for p, o in offsets.items()])
            while waiting and (left := deadline - time.monotonic()) > 0:
                message = consumer.poll(min(0.5, left))
                if message is None:
                    continue
                partition = message.partition() or 0
                if (err := message.error()) is not None:
                    if err.code() != ck.KafkaError._PARTITION_EOF:  # noqa: SLF001 - librdkafka's name
                        raise _error(err, f"reading publish times of {self.topic!r}")
                elif partition in waiting:
                    times[partition] = int(message.timestamp()[1])
                waiting.discard(partition)
        except ck.KafkaException as e:
            raise _error(e.args[0], f"reading publish times of {self.topic!r}") from e
        finally:
            consumer.close()
        return times

    def ping(self, timeout_s: float = 5.0) -> float:
        """Seconds taken by a metadata request to the cluster."""
        start = time.perf_counter()
        try:
            self.admin.list_topics(timeout=timeout_s)
        except ck.KafkaException as e:
            raise _error(e.args[0], f"Kafka at {self.bootstrap} did not answer") from e
        return time.perf_counter() - start

    def delete(self) -> None:
        """Delete the topic (tests and ``local down --purge`` use it); no error when missing."""
        future = self.admin.delete_topics([self.topic], operation_timeout=30)[self.topic]
        try:
            future.result(timeout=60)
        except ck.KafkaException as e:
            if e.args[0].code() != ck.KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise _error(e.args[0], f"could not delete topic {self.topic!r}") from e

    def spark_options(self) -> dict[str, str]:
        """Options for ``spark.readStream.format("kafka")`` reading this topic.

        The same security as this bus's own clients, in the JVM client's terms; a
        password goes into ``kafka.sasl.jaas.config``, which Spark redacts in its logs.
        Never log these options.
        """
        opts = {"kafka.bootstrap.servers": self.bootstrap, "subscribe": self.topic}
        opts.update(kafka_security.spark_options(self._options))
        return opts

    def close(self) -> None:
        """Drop the shared admin client."""
        self._admin = None
