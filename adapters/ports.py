"""The ports the pipeline is written against: bus, hot store, archive.

Each port is a small ``Protocol``; bindings (``adapters.bus.kafka``,
``adapters.hot.mongo``, ...) satisfy it structurally. Docstrings state the
guarantees every binding must keep; ``tests/contract`` checks them against
every binding a run has.

Every method may raise :class:`adapters.errors.TransientError` (retry) or
:class:`adapters.errors.TerminalError` (do not retry); no SDK exception
crosses a port.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa


# --------------------------------------------------------------------------- bus


@dataclass(frozen=True, slots=True)
class BusMessage:
    """One message as read back from a bus.

    ``publish_time_ms`` is when the bus accepted the message (Kafka's record
    timestamp, never the event's own time). ``partition``/``offset`` locate
    it in the bus, so dead letters can point at their source.
    """

    value: bytes
    key: bytes | None = None
    partition: int = 0
    offset: int = 0
    publish_time_ms: int = 0
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a ``flush`` achieved: counts of acknowledged and failed messages."""

    delivered: int
    failed: tuple[tuple[bytes, str], ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when every message published since the last flush was acknowledged."""
        return not self.failed


@runtime_checkable
class BusPublisher(Protocol):
    """Publishes messages to one topic/stream.

    Guarantees: at-least-once; per-key ordering (messages with one key go to
    one partition in publish order); on Kafka the producer is idempotent, so
    its own retries never duplicate a message. ``publish`` may buffer:
    delivery is known only after ``flush``, which reports every message that
    failed instead of dropping it.
    """

    def publish(
        self, value: bytes, key: bytes | None = None, headers: Mapping[str, bytes] | None = None
    ) -> None:
        """Queue one message. Raises ``TransientError`` when the local buffer stays full."""
        ...

    def poll(self) -> DeliveryReport:
        """Without waiting: what was acknowledged or failed since the last poll or flush.

        Long-running producers call it to show progress and to learn of
        failures early; the counts it returns are not reported again.
        """
        ...

    def flush(self, timeout_s: float = 30.0) -> DeliveryReport:
        """Wait for every queued message to be acknowledged or to fail.

        Returns what was acknowledged or failed since the last poll or flush.
        Raises ``TransientError`` when the timeout passes with messages still in
        flight (they are still queued and may yet be delivered).
        """
        ...

    def close(self) -> None:
        """Flush what is queued and release the connection."""
        ...


@runtime_checkable
class BusReader(Protocol):
    """Reads one topic/stream from the beginning (or the group's committed position).

    Used by tools and tests (read-back, dead-letter triage); the streaming job
    reads through Spark instead. Guarantees at-least-once delivery within a
    group: a message is delivered again after a restart until ``commit`` is called.
    """

    def read(self, max_messages: int = 500, timeout_s: float = 1.0) -> list[BusMessage]:
        """Return up to ``max_messages``, waiting at most ``timeout_s`` for the first."""
        ...

    def commit(self) -> None:
        """Record that everything returned so far has been processed."""
        ...

    def close(self) -> None:
        """Leave the group and release the connection."""
        ...


@runtime_checkable
class Bus(Protocol):
    """One topic (Kafka), stream (Kinesis) or topic+subscription (Pub/Sub)."""

    url: str
    topic: str

    def ensure(self, partitions: int = 1) -> int:
        """Create the topic with ``partitions`` if missing; idempotent.

        An existing topic is left as it is (re-partitioning would move keys
        between partitions and break per-key order); returns the partition
        count the topic has, so the caller can warn when it differs.
        """
        ...

    def partitions(self) -> int:
        """Number of partitions (shards) of the topic. Raises ``TerminalError`` if it is missing."""
        ...

    def publisher(self) -> BusPublisher:
        """A new publisher for this topic."""
        ...

    def reader(self, group: str, from_beginning: bool = True) -> BusReader:
        """A new reader in consumer group ``group``."""
        ...

    def ping(self, timeout_s: float = 5.0) -> float:
        """Round-trip to the bus's metadata service; returns seconds taken."""
        ...

    def delete(self) -> None:
        """Delete the topic and its messages; no error when it does not exist."""
        ...

    def close(self) -> None:
        """Release shared clients."""
        ...


@runtime_checkable
class OffsetsBus(Bus, Protocol):
    """A bus that can say where each partition ends (Kafka): how far behind a reader is."""

    def end_offsets(self, timeout_s: float = 10.0) -> dict[int, int]:
        """Each partition's end offset: the next offset to be written."""
        ...


@runtime_checkable
class PublishTimesBus(OffsetsBus, Protocol):
    """A bus that can say when the record at an offset was published (Kafka)."""

    def publish_times(self, offsets: Mapping[int, int], timeout_s: float = 5.0) -> dict[int, int]:
        """Per partition, the publish time (epoch ms) of the record at the given offset.

        A partition whose offset is at its end (no such record yet) is left out; an offset
        already deleted by retention gives the oldest record still kept.
        """
        ...


# ----------------------------------------------------------------------- hot store

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """How many documents an ``upsert_many`` inserted and how many it matched."""

    inserted: int
    matched: int


@runtime_checkable
class HotStore(Protocol):
    """A document store for recent, query-ready data (minute KPIs, sessions, health).

    Guarantees: ``upsert_many`` and ``insert_new`` are idempotent per key (the
    same documents written twice leave the same state, never a second copy); ``add_once``
    applies at most once per stamp; reads see every acknowledged write.
    Implementations use only operations that MongoDB, DocumentDB, Atlas and
    FerretDB all support.
    """

    url: str

    def ping(self, timeout_s: float = 5.0) -> float:
        """Round-trip to the server; returns seconds taken."""
        ...

    def ensure_index(self, collection: str, fields: Sequence[str], *, unique: bool = False) -> None:
        """Create an ascending compound index on ``fields`` if missing; idempotent."""
        ...

    def ensure_ttl(self, collection: str, field: str, seconds: int) -> bool:
        """Index ``field`` so the server expires documents ``seconds`` after the date in it.

        Returns True when the server enforces it (MongoDB, Atlas, DocumentDB
        instance clusters), False when it only indexes the field (FerretDB,
        DocumentDB elastic clusters, memory): callers then delete old
        documents themselves with :meth:`delete_before`. Idempotent; a changed
        ``seconds`` replaces the old setting.
        """
        ...

    def upsert_many(
        self, collection: str, documents: Iterable[Mapping[str, Any]], key: Sequence[str]
    ) -> UpsertResult:
        """Insert or update each document, matching on the ``key`` fields.

        Fields present in a document replace the stored ones; fields absent are
        left alone. One bulk request per call where the store allows it.
        """
        ...

    def insert_new(
        self, collection: str, documents: Iterable[Mapping[str, Any]], key: Sequence[str]
    ) -> int:
        """Insert the documents whose ``key`` is not stored yet; returns how many.

        For records that never change once written (closed sessions): a batch run
        again writes the same ones, which are kept as stored. Stores the key like
        :meth:`upsert_many`, so both may write one collection.
        """
        ...

    def add_once(
        self,
        collection: str,
        key: Mapping[str, Any],
        increments: Mapping[str, int],
        *,
        stamp_field: str,
        stamp: int,
    ) -> bool:
        """Add ``increments`` to the integer fields of the one document matching ``key``, once.

        Paths may be dotted (``latency.b07``); missing fields and parents are
        created, starting from 0. Applies only when the document's
        ``stamp_field`` is missing or less than ``stamp``, and sets it to
        ``stamp`` in the same single-document update, so a retried or replayed
        call with the same stamp changes nothing. Used to merge per-batch
        latency histograms idempotently (stamp = streaming batch id).

        Returns True when it applied; False when the stamp was already reached
        or no document matches (there is no upsert).

        Raises:
            TerminalError: an empty key, a non-integer increment, paths that
                overlap each other or the stamp, or a stored field in the way
                that is not a number (or, for a parent, not a document).
        """
        ...

    def find_range(
        self,
        collection: str,
        field: str,
        start: Any = None,
        end: Any = None,
        *,
        limit: int | None = None,
        descending: bool = False,
    ) -> list[Document]:
        """Documents with ``start <= doc[field] < end`` (bounds optional), sorted on ``field``."""
        ...

    def latest(self, collection: str, field: str) -> Document | None:
        """The document with the greatest ``field``, or None when the collection is empty."""
        ...

    def delete_before(self, collection: str, field: str, cutoff: Any) -> int:
        """Delete documents with ``doc[field] < cutoff``; returns how many.

        The retention sweep of stores without TTL indexes (see :meth:`ensure_ttl`).
        """
        ...

    def delete_keys(self, collection: str, field: str, values: Sequence[Any]) -> int:
        """Delete documents whose ``doc[field]`` is one of ``values``; returns how many.

        For a backfill removing records a recomputation no longer has (sessions an added
        event merged). Idempotent.
        """
        ...

    def drop(self, collection: str) -> None:
        """Remove a collection and its indexes; no error when it does not exist."""
        ...

    def close(self) -> None:
        """Release the client."""
        ...


# ------------------------------------------------------------------------- archive


#: The column ``Archive.read(..., with_batch=True)`` adds: the batch id a row was written under.
BATCH_COLUMN = "archive_batch"


@dataclass(frozen=True, slots=True)
class ArchiveWrite:
    """What one ``Archive.write`` produced: files written and rows in them."""

    files: tuple[str, ...]
    rows: int


@runtime_checkable
class Archive(Protocol):
    """Cold storage of Parquet datasets partitioned ``year=/month=/day=/hour=``.

    Partitions come from a UTC timestamp column of the rows. Guarantees: a
    write is idempotent per ``batch_id`` (writing the same batch again replaces
    its files, never duplicates rows), and a reader never sees a half-written
    file.
    """

    url: str

    def write(
        self, dataset: str, table: pa.Table, *, time_column: str, batch_id: str
    ) -> ArchiveWrite:
        """Write ``table`` under ``dataset``, one file per hour partition it touches."""
        ...

    def read(
        self,
        dataset: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        time_column: str | None = None,
        with_batch: bool = False,
    ) -> pa.Table:
        """Rows of the hour partitions overlapping ``[start, end)``, without partition columns.

        With ``time_column`` the rows are also filtered exactly on
        ``start <= time_column < end``. With ``with_batch`` each row also carries
        the batch id it was written under, in column :data:`BATCH_COLUMN` (a
        recomputation replays the archive batch by batch). An empty table when
        nothing matches or the dataset does not exist.
        """
        ...

    def partitions(self, dataset: str) -> list[str]:
        """Partition paths present, e.g. ``year=2026/month=11/day=25/hour=18``, sorted."""
        ...

    def delete_dataset(self, dataset: str) -> None:
        """Remove a dataset entirely; no error when it does not exist."""
        ...
