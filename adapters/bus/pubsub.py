"""Google Pub/Sub bus binding (google-cloud-pubsub, the ``gcp`` extra).

URL: ``pubsub://<project>/<topic>[?endpoint=host:port][&subscription=<name>]``
(the stream job's Spark source reads more: :mod:`adapters.bus.pubsub_spark`).

* ``endpoint`` reaches an emulator (``streamkit local up --emulators`` runs
  Google's ``pstest`` fake) over plain gRPC, anonymously. Without it the client
  goes to Pub/Sub with credentials from Google's default chain only
  (``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth application-default
  login``, workload identity); a URL carrying a credential is refused.
* ``subscription`` is the stream job's subscription (default ``<topic>--pipeline``).

What Pub/Sub cannot do as Kafka does, and what this binding does instead
(docs/bindings.md has the whole argument):

* **No partitions.** ``ensure(n)`` stores ``n`` as the topic label
  ``streamkit-partitions``; a message's ``partition`` is CRC32 of its key
  modulo that count (keyless: of its message id), so one key has one
  partition, as on Kafka and in memory.
* **No offsets.** ``offset`` is the message id as a number (Pub/Sub's ids are
  decimal numbers; pstest's are ``m<counter>``; anything else gets a 63-bit
  hash): unique in the topic and the same on every redelivery, so a dead letter
  keeps pointing at its message; not dense, and no order to rely on.
* **Per-key order** comes from ordering keys (the message key) on the
  publisher and message ordering on every subscription this binding creates.
* **Groups are subscriptions** (``<topic>--<group>``), created on first use,
  which see only what is published after they exist
  (:attr:`PubSubBus.history_for_new_groups`). ``ensure`` creates the job's
  subscription with the topic, so a backlog published before the job first
  starts is kept for it.
* **Headers are attributes**, whose values are text: a value that is not
  UTF-8 text (or has control characters, or starts with ``b64:``) is stored as
  ``b64:`` + its base64 and read back as the same bytes. (Keys likewise, as
  ordering keys.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from adapters.bus.pubsub_wire import (
    ADMIN,
    CLIENT_ERRORS,
    JOB_ACK_DEADLINE_S,
    JOB_ORDERED,
    PARTITIONS_LABEL,
    PubSubTarget,
    calling,
    create_subscription,
    dead_letter_policy,
    encode_attribute,
    gexc,
    parse_pubsub_url,
    pub_exc,
    publisher_client,
    pubsub_v1,
    pull,
    set_deadline,
    subscriber_client,
    subscription_for,
    to_bus_message,
    translate,
)
from adapters.errors import StreamkitError, TerminalError, TransientError
from adapters.ports import BusMessage, DeliveryReport

#: Arguments of ``PublisherClient.publish`` that an attribute name would collide with.
_RESERVED_ATTRIBUTES = frozenset({"topic", "data", "ordering_key", "retry", "timeout"})
_READER_ACK_DEADLINE_S = 60
_FULL_WAITS = 300  # x 0.1 s: how long publish waits for room in the client's queue


class PubSubPublisher:
    """A batching publisher with message ordering (ordering key = the message key).

    Each message's result is counted when its future completes and reported by
    the next ``poll``/``flush``. After a failed publish the client pauses that
    ordering key and fails what follows on it, so nothing of a key is delivered
    after one of its messages failed; those are reported failed too, and the
    key is resumed when the report is taken (the caller now knows).
    """

    def __init__(self, target: PubSubTarget) -> None:
        self._target = target
        types = pubsub_v1.types
        self._client = publisher_client(
            target,
            batch_settings=types.BatchSettings(
                max_messages=500, max_bytes=4_000_000, max_latency=0.01
            ),
            publisher_options=types.PublisherOptions(
                enable_message_ordering=True,
                flow_control=types.PublishFlowControl(
                    message_limit=20_000,
                    byte_limit=64 * 1024 * 1024,
                    limit_exceeded_behavior=types.LimitExceededBehavior.ERROR,
                ),
            ),
        )
        self._lock = threading.Condition()
        self._in_flight = self._delivered = 0
        self._failed: list[tuple[bytes, str]] = []
        self._paused: set[str] = set()

    def publish(
        self, value: bytes, key: bytes | None = None, headers: Mapping[str, bytes] | None = None
    ) -> None:
        """Queue one message; waits (up to 30 s) for room in the client's queue."""
        value = bytes(value)
        attributes = {name: encode_attribute(data) for name, data in (headers or {}).items()}
        if clash := sorted(
            a for a in attributes if a in _RESERVED_ATTRIBUTES or a.startswith("goog")
        ):
            msg = f"header name(s) {clash} cannot be Pub/Sub attributes; rename them"
            raise TerminalError(msg)
        ordering_key = encode_attribute(key) if key else ""
        for _ in range(_FULL_WAITS):
            future = self._client.publish(
                self._target.topic_path, value, ordering_key=ordering_key, **attributes
            )
            early = future.exception() if future.done() else None
            if isinstance(early, pub_exc.FlowControlLimitError):
                time.sleep(0.1)  # the queue is full: let batches complete
                continue
            with self._lock:
                if isinstance(early, pub_exc.PublishToPausedOrderingKeyException):
                    self._failed.append((value, f"ordering key paused after a failure: {early}"))
                    self._paused.add(ordering_key)
                    return
                self._in_flight += 1
            future.add_done_callback(lambda f, v=value, k=ordering_key: self._done(f, v, k))
            return
        msg = f"the publisher's queue stayed full for 30 s; is {self._target.where} reachable?"
        raise TransientError(msg)

    def _done(self, future: Any, value: bytes, ordering_key: str) -> None:
        error = future.exception()
        with self._lock:
            self._in_flight -= 1
            if error is None:
                self._delivered += 1
            else:
                self._failed.append((value, str(error) or type(error).__name__))
                if ordering_key:
                    self._paused.add(ordering_key)
            self._lock.notify_all()

    def _take_report(self) -> DeliveryReport:
        with self._lock:
            report = DeliveryReport(self._delivered, tuple(self._failed))
            self._delivered, self._failed = 0, []
            paused, self._paused = self._paused, set()
        for ordering_key in paused:
            try:
                self._client.resume_publish(self._target.topic_path, ordering_key)
            except (RuntimeError, ValueError):
                pass  # not paused (any more): nothing to resume
        return report

    def poll(self) -> DeliveryReport:
        """What was acknowledged or failed since the last poll or flush, without waiting."""
        return self._take_report()

    def flush(self, timeout_s: float = 30.0) -> DeliveryReport:
        """Wait until every queued message is acknowledged or failed; report them."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._in_flight == 0, timeout=timeout_s):
                msg = f"{self._in_flight} message(s) still unacknowledged after {timeout_s:.0f} s"
                raise TransientError(msg)
        return self._take_report()

    def close(self) -> None:
        """Flush (up to 30 s) and release the client."""
        with self._lock:
            drained = self._lock.wait_for(lambda: self._in_flight == 0, timeout=30)
        if drained:  # stop() would wait for stuck batches without end
            self._client.stop()
        self._client.transport.close()


class PubSubReader:
    """A consumer group: one subscription, acknowledged only on ``commit``.

    ``read`` extends the deadline of what it returned earlier and has not been
    committed, so a slow consumer keeps its messages; ``close`` gives them
    back (deadline 0) for prompt redelivery. After a crash they come back when
    the subscription's 60 s ack deadline has passed.
    """

    def __init__(self, bus: PubSubBus, group: str) -> None:
        self._client = subscriber_client(bus.target)
        name = subscription_for(bus.topic, group)
        self._path = bus.target.path("subscriptions", name)
        create_subscription(self._client, bus.target, name, _READER_ACK_DEADLINE_S)
        self._partitions = bus.partitions()
        self._held: dict[str, float] = {}  # ack id -> when its deadline was last set

    def read(self, max_messages: int = 500, timeout_s: float = 1.0) -> list[BusMessage]:
        """Up to ``max_messages``, waiting at most ``timeout_s`` for the first."""
        self._extend_held()
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            received = pull(self._client, self._path, min(max_messages, 1000), remaining)
            if received or remaining <= 0:
                break
        now = time.monotonic()
        self._held.update((r.ack_id, now) for r in received)
        return [to_bus_message(r, self._partitions) for r in received]

    def _extend_held(self) -> None:
        now = time.monotonic()
        due = [a for a, at in self._held.items() if now - at > _READER_ACK_DEADLINE_S / 3]
        if due:
            set_deadline(self._client, self._path, due, _READER_ACK_DEADLINE_S)
            self._held.update((a, now) for a in due)

    def commit(self) -> None:
        """Acknowledge everything returned so far."""
        set_deadline(self._client, self._path, list(self._held), None)
        self._held = {}

    def close(self) -> None:
        """Give uncommitted messages back for redelivery and release the client."""
        try:
            set_deadline(self._client, self._path, list(self._held), 0)
        except StreamkitError:
            pass  # they come back anyway once their deadline passes
        finally:
            self._held = {}
            self._client.close()


class PubSubBus:
    """One Pub/Sub topic and the subscriptions of its groups. See the module docstring."""

    #: A new group (subscription) reads only what is published after it exists:
    #: Pub/Sub keeps a message only for the subscriptions the topic has when it
    #: is published, so ``from_beginning`` cannot reach further back. (Topic
    #: retention and a seek to a time could; pstest cannot seek, so it is not done.)
    history_for_new_groups: ClassVar[bool] = False
    #: With message ordering, Pub/Sub may hold back a key's next message until
    #: the previous one is acknowledged, i.e. committed; pstest always does, so
    #: a reader that never commits sees one message per key.
    next_in_key_after_commit: ClassVar[bool] = True

    def __init__(self, url: str) -> None:
        self.url = url
        self.target = parse_pubsub_url(url)
        self.topic = self.target.topic
        self._admin: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PubSubBus({self.target.project!r}, topic={self.topic!r})"

    @property
    def admin(self) -> Any:
        """The shared publisher client used for topic administration."""
        with self._lock:
            if self._admin is None:
                self._admin = publisher_client(self.target)
            return self._admin

    def ensure(self, partitions: int = 1) -> int:
        """Create the topic (partition count as its label) and the job's subscription if missing."""
        request = {"name": self.target.topic_path, "labels": {PARTITIONS_LABEL: str(partitions)}}
        try:
            self.admin.create_topic(request=request, **ADMIN)
        except gexc.AlreadyExists:
            pass  # left as it is, label included
        except CLIENT_ERRORS as e:
            raise translate(e, f"could not create topic {self.topic!r}") from e
        count = self.partitions()
        subscriber = subscriber_client(self.target)
        try:
            create_subscription(
                subscriber,
                self.target,
                self.target.subscription,
                JOB_ACK_DEADLINE_S,
                ordered=JOB_ORDERED,
                dead_letter_policy=dead_letter_policy(self.target),
            )
        finally:
            subscriber.close()
        return count

    def partitions(self) -> int:
        """The logical partition count (the topic's label; 1 when unlabelled)."""
        try:
            topic = self.admin.get_topic(request={"topic": self.target.topic_path}, **ADMIN)
        except gexc.NotFound as e:
            msg = (
                f"topic {self.topic!r} does not exist in project {self.target.project!r} "
                f"({self.target.where}); create it with Bus.ensure() or the Pulumi stack"
            )
            raise TerminalError(msg) from e
        except CLIENT_ERRORS as e:
            raise translate(e, f"{self.target.where} did not answer") from e
        label = topic.labels.get(PARTITIONS_LABEL, "1")
        return max(int(label), 1) if label.isdigit() else 1

    def publisher(self) -> PubSubPublisher:
        """A new ordered, batching publisher."""
        return PubSubPublisher(self.target)

    def reader(self, group: str, from_beginning: bool = True) -> PubSubReader:
        """A reader in ``group``; see :attr:`history_for_new_groups` about ``from_beginning``."""
        return PubSubReader(self, group)

    def ping(self, timeout_s: float = 5.0) -> float:
        """Seconds taken by a topic listing (one page of one topic)."""
        start = time.perf_counter()
        calling(
            f"{self.target.where} did not answer",
            lambda: self.admin.list_topics(
                request={"project": f"projects/{self.target.project}", "page_size": 1},
                timeout=timeout_s,
                retry=None,
            ),
        )
        return time.perf_counter() - start

    def delete(self) -> None:
        """Delete the topic's subscriptions, then the topic; no error when missing."""
        try:
            names = list(
                self.admin.list_topic_subscriptions(
                    request={"topic": self.target.topic_path}, **ADMIN
                )
            )
        except gexc.NotFound:
            return
        except CLIENT_ERRORS as e:
            raise translate(e, f"could not list the subscriptions of {self.topic!r}") from e
        subscriber = subscriber_client(self.target)
        try:
            for name in names:
                _unless_missing(subscriber.delete_subscription, {"subscription": name})
            _unless_missing(self.admin.delete_topic, {"topic": self.target.topic_path})
        finally:
            subscriber.close()

    def spark_stream(self, spark: Any, max_records_per_batch: int) -> Any:
        """The stream job's source (:mod:`adapters.bus.pubsub_spark`, imported only now)."""
        from adapters.bus.pubsub_spark import PubSubDataSource
        from adapters.bus.spark_source import bus_stream

        return bus_stream(spark, PubSubDataSource, self.url, max_records_per_batch)

    def close(self) -> None:
        """Release the admin client."""
        with self._lock:
            if self._admin is not None:
                self._admin.transport.close()
            self._admin = None


def _unless_missing(call: Callable[..., Any], request: dict[str, str]) -> None:
    try:
        call(request=request, **ADMIN)
    except gexc.NotFound:
        pass
    except CLIENT_ERRORS as e:
        raise translate(e, f"delete {next(iter(request.values()))}") from e
