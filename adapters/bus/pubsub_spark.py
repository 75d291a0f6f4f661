"""The stream job's Pub/Sub source: a pyspark Python streaming data source.

A ``SimpleDataSourceStreamReader``: Spark calls ``read`` on the driver (in
one long-lived Python process) to plan each micro-batch, so the pulled
messages' ack ids stay where ``commit`` runs. The life of a message:

1. ``read(start)`` pulls up to ``maxRecordsPerBatch`` messages from the job's
   subscription (``subscription=``, default ``<topic>--pipeline``), writes them
   to the journal (:mod:`adapters.bus.pubsub_journal`) as batch ``seq``, and
   returns them with the end offset ``{"run": <query run id>, "seq": seq}``
   (JSON, as Spark's checkpoint needs). Nothing is acknowledged here.
2. While the batch runs, a thread extends the deadline of every message not
   yet acknowledged (10 s deadline, extended every 3 s), so nothing is
   redelivered under the job's feet, and after a crash it is within seconds.
3. ``commit(end)``, called by Spark once the batch is in its commit log,
   acknowledges the ack ids of every batch up to ``end``.

A crash between 1 and 3 leaves the messages unacknowledged: Spark re-runs the
planned batch, reading it back from the journal (``readBetweenOffsets``, on an
executor) so the sinks see exactly the same rows, and Pub/Sub redelivers the
messages, which ``read`` recognises by message id (the journal's) and only
acknowledges. The job's ``event_id`` dedup stays as a second net for what the
journal has already forgotten (``journal_keep`` batches after their commit).

URL parameters for the source (next to the bus's ``endpoint`` and ``subscription``):
``journal`` (directory or ``gs://``/``s3://``/``file://`` URL every Spark process
can reach; default a directory in the system's temp dir, fine for ``local[*]``),
``journal_keep`` (committed batches kept, default 10), ``dead_letter_topic`` and
``max_delivery_attempts`` (a dead-letter policy on the job's subscription).

With message ordering, Pub/Sub may hold back a key's next message until the
previous one is acknowledged, and pstest always does. When a read finds
nothing while batches are still unacknowledged, it plans an empty batch, so
that Spark commits (and the source acknowledges) the previous one and the
held-back keys can flow. Runs on Spark 4.0+ (the simple stream reader API).
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark.sql.datasource import SimpleDataSourceStreamReader
from pyspark.sql.types import StructType

try:  # Spark 4.2+; on 4.0/4.1 an availableNow run reads one batch
    from pyspark.sql.streaming.datasource import SupportsTriggerAvailableNow
except ImportError:  # pragma: no cover - depends on the Spark version

    class SupportsTriggerAvailableNow:  # type: ignore[no-redef]
        """Stand-in base on Spark versions without the mixin."""


from adapters.bus.pubsub_journal import Journal
from adapters.bus.pubsub_wire import (
    JOB_ACK_DEADLINE_S,
    JOB_ORDERED,
    PubSubTarget,
    create_subscription,
    dead_letter_policy,
    decode_attribute,
    offset_of,
    parse_pubsub_url,
    partition_of,
    pull,
    set_deadline,
    subscriber_client,
)
from adapters.bus.spark_source import BusDataSource
from adapters.errors import ConfigurationError, StreamkitError, TransientError

Row = tuple[bytes, int, int, datetime]
Offset = dict[str, Any]  # {"run": query run id, "seq": batches planned so far}

#: How long one read may pull before its batch is handed to Spark.
_PULL_BUDGET_S = 5.0
_EXTEND_EVERY_S = JOB_ACK_DEADLINE_S / 3
_READ_ATTEMPTS = 5
log = logging.getLogger(__name__)


def journal_root(target: PubSubTarget) -> str:
    """Where the journal lives: the URL's ``journal``, else a directory in the temp dir."""
    configured = target.options.get("journal")
    if configured:
        return configured
    base = Path(tempfile.gettempdir()) / "streamkit-pubsub-journal"
    return str(base / target.project / target.subscription)


class PubSubDataSource(BusDataSource):
    """``spark.readStream.format("streamkit_pubsub").option("url", "pubsub://...")``."""

    FORMAT = "streamkit_pubsub"
    URL_EXAMPLE = "pubsub://<project>/<topic>..."

    def simpleStreamReader(self, schema: StructType) -> PubSubStreamReader:  # noqa: N802
        """A reader planning batches on the driver."""
        return PubSubStreamReader(*self.reader_arguments())


class PubSubStreamReader(SimpleDataSourceStreamReader, SupportsTriggerAvailableNow):
    """See the module docstring. Pickled to executors without its driver state.

    For ``availableNow`` runs (``streamkit pipeline --once``) the target is a
    moment: messages published after :meth:`prepareForTriggerAvailableNow` are
    given back (deadline 0) for a later run, and the run ends at the first
    read that finds nothing else, once no earlier process can still hold
    messages of this subscription (their leases, noted in the journal, ran out).
    """

    def __init__(self, url: str, max_records_per_batch: int) -> None:
        self.url = url
        self.target = parse_pubsub_url(url)
        self.max_records = max(1, max_records_per_batch)
        keep = self.target.options.get("journal_keep", "10")
        if not keep.isdigit() or int(keep) < 1:
            msg = f"pubsub:// URL: journal_keep must be a whole number >= 1, got {keep!r}"
            raise ConfigurationError(msg)
        self.keep = int(keep)
        self.root = journal_root(self.target)
        self._run: str | None = None
        self._until_ms: int | None = None
        self._driver: _Driver | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Clients, threads and ack ids belong to the driver process only.
        return {**self.__dict__, "_driver": None}

    def initialOffset(self) -> Offset:  # noqa: N802 - pyspark's name
        """The start of a new query run, which gets its own journal directory.

        Spark also asks for it when it re-runs a query's first batch after a
        crash; that batch is read back by its end offset's run, so an unused
        run id here is harmless. Nothing is written until a batch is read.
        """
        if self._run is None:
            self._run = uuid.uuid4().hex
        return {"run": self._run, "seq": 0}

    def prepareForTriggerAvailableNow(self) -> None:  # noqa: N802 - pyspark's name
        """Fix the moment after which published messages are left for a later run."""
        self._until_ms = int(time.time() * 1000)

    def read(self, start: Offset) -> tuple[Iterator[Row], Offset]:
        """Pull the next batch (journaled, not acknowledged) and the offset after it."""
        if self._driver is None or self._driver.journal.run != start["run"]:
            if self._driver is not None:
                self._driver.close()
            self._driver = _Driver(self, start)
        for attempt in range(_READ_ATTEMPTS):
            try:
                return self._driver.read(start, self._until_ms)
            except TransientError as e:
                if attempt == _READ_ATTEMPTS - 1:
                    raise
                log.warning("Pub/Sub read failed (%s); retry %d", e, attempt + 1)
                time.sleep(2**attempt)
        msg = "unreachable: the last attempt returns or raises"
        raise AssertionError(msg)

    def readBetweenOffsets(self, start: Offset, end: Offset) -> Iterator[Row]:  # noqa: N802
        """A planned batch again, exactly: from the journal."""
        journal = Journal(self.root, end["run"])
        for seq in range(int(start["seq"]) + 1, int(end["seq"]) + 1):
            yield from rows_of(journal.read(seq))

    def commit(self, end: Offset) -> None:
        """Acknowledge every batch up to ``end``: Spark has committed them."""
        if self._driver is not None and self._driver.journal.run == end["run"]:
            self._driver.commit(int(end["seq"]))


def rows_of(table: pa.Table) -> Iterator[Row]:
    """A journal entry as the source's rows."""
    columns = [table[name].to_pylist() for name in ("value", "partition", "offset", "publish_time")]
    yield from zip(*columns, strict=True)


@dataclass
class _Pulled:
    """What one read pulled, sorted out."""

    until_ms: int | None  # availableNow: messages published later are given back
    rows: list[Row] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # message ids of the rows
    acks: list[str] = field(default_factory=list)  # to acknowledge when the batch commits
    later: list[str] = field(default_factory=list)  # ack ids to give back now
    redelivered: int = 0  # copies of journaled messages among ``acks``
    _fresh: set[str] = field(default_factory=set)  # ``ids`` as a set

    @property
    def empty(self) -> bool:
        """Nothing pulled at all yet."""
        return not (self.acks or self.later)

    def take(self, received: Any, seen: Mapping[str, int], row: Callable[[Any], Row]) -> None:
        """Sort one received message: a redelivered copy, one for later, or a row."""
        message = received.message
        if message.message_id in seen or message.message_id in self._fresh:
            self.acks.append(received.ack_id)  # its original is journaled: acknowledge only
            self.redelivered += 1
        elif self.until_ms is not None and message.publish_time.timestamp() * 1000 > self.until_ms:
            self.later.append(received.ack_id)
        else:
            self._fresh.add(message.message_id)
            self.ids.append(message.message_id)
            self.acks.append(received.ack_id)
            self.rows.append(row(received))

    def table(self) -> pa.Table:
        """The rows as a journal entry."""
        columns = [list(c) for c in zip(*self.rows, strict=True)] if self.rows else [[]] * 4
        names = ("value", "partition", "offset", "publish_time")
        return pa.table({"message_id": self.ids, **dict(zip(names, columns, strict=True))})


class _Driver:
    """The driver-side state of one query run: client, journal, unacknowledged batches."""

    def __init__(self, reader: PubSubStreamReader, start: Offset) -> None:
        from adapters.bus.pubsub import PubSubBus  # the binding, for its partition count

        self.target, self.max_records, self.keep = reader.target, reader.max_records, reader.keep
        self.journal = Journal(reader.root, start["run"])
        # Earlier runs belong to checkpoints that were replaced (`pipeline --reset`).
        self.journal.remove_other_runs()
        self.client = subscriber_client(self.target)
        self.path = self.target.path("subscriptions", self.target.subscription)
        bus = PubSubBus(reader.url)
        try:
            self.partitions = bus.partitions()
        finally:
            bus.close()
        create_subscription(  # normally made by Bus.ensure(); earlier messages are not in it
            self.client,
            self.target,
            self.target.subscription,
            JOB_ACK_DEADLINE_S,
            ordered=JOB_ORDERED,
            dead_letter_policy=dead_letter_policy(self.target),
        )
        self.lock = threading.Lock()
        self.pending: dict[int, list[str]] = {}  # batch seq -> ack ids, until committed
        self.reading: list[str] = []  # ack ids pulled by the read in progress
        self.seen = self._recall(int(start["seq"]))
        self.others_until = self.journal.leases_until()
        self.noted = self.others_until
        self.stopped = threading.Event()
        threading.Thread(target=self._extend, name="pubsub-leases", daemon=True).start()

    def _recall(self, last: int) -> dict[str, int]:
        """Message ids of journaled batches up to ``last``; later entries were never planned."""
        seen: dict[str, int] = {}
        for seq in self.journal.seqs():
            if seq > last:  # journaled, then the process died before Spark logged it
                self.journal.delete(seq)
                continue
            ids = self.journal.read(seq)["message_id"].to_pylist()
            seen.update(dict.fromkeys(ids, seq))
        return seen

    def read(self, start: Offset, until_ms: int | None) -> tuple[Iterator[Row], Offset]:
        seq = int(start["seq"])
        self._hold()
        pulled = self._pull(until_ms)
        with self.lock:
            self.reading = []
            unacked = any(out for s, out in self.pending.items() if s <= seq)
        if not pulled.rows and not pulled.acks and not unacked:
            if not any(self.pending.values()):
                self._release()
            return iter(()), start
        # Rows, redelivered copies to acknowledge, or only the need to let Spark
        # commit the previous batch (see the module docstring): a batch either way.
        self.journal.write(seq + 1, pulled.table(), redelivered=pulled.redelivered)
        with self.lock:
            self.pending[seq + 1] = pulled.acks
            self.seen.update(dict.fromkeys(pulled.ids, seq + 1))
        return iter(pulled.rows), {"run": start["run"], "seq": seq + 1}

    def _pull(self, until_ms: int | None) -> _Pulled:
        """Pull until the batch is full, a pull comes back empty, or the budget is spent.

        An availableNow run (``until_ms``) that has found nothing keeps waiting
        while an earlier process's leases may still hold messages back.
        """
        pulled = _Pulled(until_ms)
        budget_end = time.monotonic() + _PULL_BUDGET_S
        while len(pulled.rows) < self.max_records:
            waiting = pulled.empty and until_ms is not None and time.time() < self.others_until
            if time.monotonic() > budget_end and not waiting:
                break
            wanted = min(1000, self.max_records - len(pulled.rows))
            received = pull(self.client, self.path, wanted, 0.5)
            if not received:
                if not waiting:
                    break
                time.sleep(0.5)
                continue
            with self.lock:
                self.reading.extend(r.ack_id for r in received)
            for r in received:
                pulled.take(r, self.seen, self._row)
        if pulled.later:
            set_deadline(self.client, self.path, pulled.later, 0)
        return pulled

    def _hold(self) -> None:
        """Note in the journal that messages we lease now may be out until their deadline.

        The mark carries one extension period of slack and is rewritten only
        when it moves by more than that: an object store takes about one write
        per second per object.
        """
        until = time.time() + JOB_ACK_DEADLINE_S + 2 * _EXTEND_EVERY_S
        if until > self.noted + _EXTEND_EVERY_S:
            self.journal.note_leases(until)
            self.noted = until

    def _release(self) -> None:
        """Note that nothing of ours is out (once, not at every idle read)."""
        now = time.time()
        if self.noted > now:
            self.journal.note_leases(now)
            self.noted = now

    def _row(self, received: Any) -> Row:
        message = received.message
        key = decode_attribute(message.ordering_key) if message.ordering_key else None
        return (
            bytes(message.data),
            partition_of(key, message.message_id, self.partitions),
            offset_of(message.message_id),
            message.publish_time.astimezone(UTC),
        )

    def commit(self, last: int) -> None:
        with self.lock:
            done = sorted(s for s in self.pending if s <= last)
            acks = [a for s in done for a in self.pending[s]]
        try:
            set_deadline(self.client, self.path, acks, None)
        except StreamkitError as e:  # redelivered later and recognised by id, not lost
            log.warning("acknowledging %d Pub/Sub messages failed: %s", len(acks), e)
            return
        with self.lock:
            for s in done:
                del self.pending[s]
            cutoff = last - self.keep
            self.seen = {i: s for i, s in self.seen.items() if s > cutoff}
        for seq in self.journal.seqs():
            if seq <= cutoff:
                self.journal.delete(seq)

    def close(self) -> None:
        """Stop extending leases and release the client (what is out comes back by itself)."""
        self.stopped.set()
        self.client.close()

    def _extend(self) -> None:
        while not self.stopped.wait(_EXTEND_EVERY_S):
            with self.lock:
                out = [a for acks in self.pending.values() for a in acks] + self.reading
            if not out:
                continue
            try:
                set_deadline(self.client, self.path, out, JOB_ACK_DEADLINE_S)
                self._hold()
            except StreamkitError as e:  # the next round tries again; at worst a redelivery
                log.warning("extending Pub/Sub ack deadlines failed: %s", e)
