"""What the Pub/Sub binding does beyond the bus contract, on pstest.

Paused ordering keys after a failed publish, the partition label, the job's
subscription and its dead-letter policy, errors that name their fix, and the
Spark source's journal on the object-store emulators.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from adapters.bus.pubsub_journal import Journal
from adapters.bus.pubsub_wire import JOB_ACK_DEADLINE_S
from adapters.errors import TerminalError, TransientError
from adapters.registry import open_bus
from tests.support.buckets import bucket_archive
from tests.support.pubsub import (
    PROJECT,
    fresh_topic,
    open_pubsub,
    raw_subscriber,
    require_pubsub,
    topics,
)

pytestmark = [pytest.mark.integration, pytest.mark.emulators]


@pytest.fixture(autouse=True)
def _emulator() -> None:
    require_pubsub()


def test_a_failed_key_is_reported_then_resumed() -> None:
    """Google's client pauses an ordering key after a failure; nothing is lost, the key recovers."""
    bus = open_pubsub(fresh_topic("paused"))
    publisher = bus.publisher()
    publisher.publish(b"first", key=b"user-1")  # the topic does not exist yet
    failed = publisher.flush(30)
    assert failed.delivered == 0
    assert [value for value, _ in failed.failed] == [b"first"]
    with topics(bus):
        publisher.publish(b"second", key=b"user-1")
        publisher.publish(b"other", key=b"user-2")
        report = publisher.flush(30)
        assert report.ok, report.failed
        assert report.delivered == 2  # the key was resumed when its failure was reported
        publisher.close()


def test_messages_published_on_a_paused_key_are_reported_failed_not_dropped() -> None:
    bus = open_pubsub(fresh_topic("paused"))
    publisher = bus.publisher()
    for n in range(5):
        publisher.publish(f"m{n}".encode(), key=b"user-1")
    report = publisher.flush(30)
    assert report.delivered == 0
    assert sorted(v for v, _ in report.failed) == [f"m{n}".encode() for n in range(5)]
    publisher.close()


def test_ensure_labels_the_topic_and_creates_the_jobs_subscription() -> None:
    topic = fresh_topic("ensure")
    bus = open_pubsub(topic)
    with topics(bus, partitions=3):
        assert open_pubsub(topic).partitions() == 3  # another client reads the label
        subscriber = raw_subscriber()
        try:
            job = subscriber.get_subscription(
                request={"subscription": f"projects/{PROJECT}/subscriptions/{topic}--pipeline"}
            )
        finally:
            subscriber.close()
        assert not job.enable_message_ordering  # JOB_ORDERED: the job needs no arrival order
        assert job.ack_deadline_seconds == JOB_ACK_DEADLINE_S
        assert not job.dead_letter_policy.dead_letter_topic


def test_a_dead_letter_policy_leaves_room_for_restarts() -> None:
    topic, poison = fresh_topic("dl"), fresh_topic("poison")
    bus = open_pubsub(topic, f"dead_letter_topic={poison}")
    with topics(open_pubsub(poison)), topics(bus):
        subscriber = raw_subscriber()
        try:
            job = subscriber.get_subscription(
                request={"subscription": f"projects/{PROJECT}/subscriptions/{topic}--pipeline"}
            )
        finally:
            subscriber.close()
        assert job.dead_letter_policy.dead_letter_topic == f"projects/{PROJECT}/topics/{poison}"
        assert job.dead_letter_policy.max_delivery_attempts == 100


def test_a_dead_letter_topic_must_exist() -> None:
    bus = open_pubsub(fresh_topic("dl"), f"dead_letter_topic={fresh_topic('missing')}")
    try:
        with pytest.raises(TerminalError, match="dead-letter topic does not exist"):
            bus.ensure(1)
    finally:
        bus.delete()


def test_a_reader_of_a_missing_topic_names_the_fix() -> None:
    with pytest.raises(TerminalError, match=r"create them first \(Bus.ensure"):
        open_pubsub(fresh_topic("missing")).reader("g")


def test_text_that_looks_encoded_and_binary_keys_round_trip() -> None:
    bus = open_pubsub(fresh_topic("codec"))
    with topics(bus):
        bus.reader("g").close()  # joins before publishing (history_for_new_groups)
        publisher = bus.publisher()
        headers = {"note": b"b64:AAE=", "blob": bytes(range(256)), "text": "caf\u00e9".encode()}
        publisher.publish(b"v", key=b"\xff\x00user", headers=headers)
        assert publisher.flush(30).delivered == 1
        publisher.close()
        reader = bus.reader("g")
        (message,) = reader.read(timeout_s=5)
        reader.commit()
        reader.close()
        assert dict(message.headers) == headers
        assert message.key == b"\xff\x00user"


def test_an_unreachable_endpoint_is_transient() -> None:
    bus = open_bus(f"pubsub://{PROJECT}/nowhere?endpoint=127.0.0.1:1")
    with pytest.raises(TransientError, match="did not answer"):
        bus.ping(timeout_s=1)
    bus.close()


def test_a_group_name_any_string_gets_its_own_subscription() -> None:
    bus = open_pubsub(fresh_topic("groups"))
    with topics(bus):
        group = f"triage/on call {uuid.uuid4().hex[:4]}"
        bus.reader(group).close()
        publisher = bus.publisher()
        publisher.publish(b"x")
        assert publisher.flush(30).delivered == 1
        publisher.close()
        reader = bus.reader(group)
        assert [m.value for m in reader.read(timeout_s=5)] == [b"x"]
        reader.commit()
        reader.close()


@pytest.mark.parametrize("cloud", ["gcs", "s3"])
def test_the_spark_sources_journal_works_on_object_stores(
    cloud: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a cluster the journal lives in a bucket (``journal=gs://...``): every operation there."""
    table = pa.table(
        {
            "message_id": ["m1", "m2"],
            "value": [b"a", b"b"],
            "partition": [0, 2],
            "offset": [1, 2],
            "publish_time": [datetime(2026, 11, 26, tzinfo=UTC)] * 2,
        }
    )
    with bucket_archive(cloud, monkeypatch) as root:
        old, new = Journal(root, "old-run"), Journal(root, "new-run")
        old.write(1, table)
        new.write(1, table, redelivered=2)
        new.write(2, table.slice(0, 0))
        new.note_leases(12.5)
        assert new.seqs() == [1, 2]
        assert new.read(1).to_pylist() == table.to_pylist()
        assert (new.redelivered(1), new.read(2).num_rows, new.leases_until()) == (2, 0, 12.5)
        new.remove_other_runs()
        assert old.seqs() == []
        new.delete(1)
        assert new.seqs() == [2]
