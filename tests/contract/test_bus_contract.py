"""The bus contract, run against every binding this run has.

``memory`` always; ``kafka`` against the real broker of the local stack
(``STREAMKIT_BUS_URL``'s bootstrap servers); ``kinesis`` on moto's server and
on kinesalite, ``pubsub`` on pstest (``streamkit local up --emulators``). Each
test gets its own topic and deletes it afterwards.

Where a bus cannot do something by nature, its binding class says so in a
capability attribute and the test takes the other road the port allows
(:func:`join_early`, :func:`commits_to_see_more`); a binding without the
attribute is held to the full behaviour.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from adapters.errors import StreamkitError, TerminalError, TransientError
from adapters.faults import plan_of
from adapters.ports import Bus, BusMessage, BusReader
from adapters.registry import binding_class, open_bus
from tests.conftest import KAFKA_BOOTSTRAP, KAFKA_URL, require_tcp
from tests.support.moto import kinesis_url, use_moto_credentials
from tests.support.pubsub import pubsub_url, require_pubsub

BINDINGS = [
    pytest.param("memory", id="memory"),
    pytest.param("kafka", id="kafka", marks=pytest.mark.kafka),
    pytest.param("kinesis", id="kinesis", marks=pytest.mark.emulators),
    pytest.param("kinesalite", id="kinesis-kinesalite", marks=pytest.mark.emulators),
    pytest.param("pubsub", id="pubsub", marks=pytest.mark.emulators),
]

MakeUrl = Callable[..., str]


@pytest.fixture(params=BINDINGS)
def make_url(request: pytest.FixtureRequest) -> Iterator[MakeUrl]:
    """A factory of fresh topic URLs for the binding under test; deletes them afterwards."""
    kind = request.param
    if kind == "kafka":
        require_tcp(KAFKA_URL, "Kafka")
    if kind in ("kinesis", "kinesalite"):
        use_moto_credentials(request.getfixturevalue("monkeypatch"))
    if kind == "pubsub":
        require_pubsub()
    made: list[str] = []

    def make(query: str = "") -> str:
        topic = f"contract_{uuid.uuid4().hex[:12]}"
        if kind in ("kinesis", "kinesalite"):
            made.append(kinesis_url(topic, kinesalite=kind == "kinesalite"))
            return kinesis_url(topic, query, kinesalite=kind == "kinesalite")
        if kind == "pubsub":
            made.append(pubsub_url(topic))
            return pubsub_url(topic, query)
        base = f"kafka://{KAFKA_BOOTSTRAP}/{topic}" if kind == "kafka" else f"memory://{topic}"
        made.append(base)
        return f"{base}?{query}" if query else base

    yield make
    for url in made:
        bus = open_bus(url)
        bus.delete()
        bus.close()


def read_all(
    reader: BusReader, expected: int, timeout_s: float = 30.0, *, commit: bool = False
) -> list[BusMessage]:
    """Read until ``expected`` messages arrived (or the timeout passes); ``commit`` each read."""
    out: list[BusMessage] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < expected and time.monotonic() < deadline:
        out.extend(reader.read(max_messages=1000, timeout_s=0.5))
        if commit:
            reader.commit()
    return out


def join_early(bus: Bus, group: str) -> None:
    """Let ``group`` join before messages are published, where a new group sees only later ones.

    Pub/Sub keeps a message only for the subscriptions that exist when it is
    published (``history_for_new_groups = False``); elsewhere a new group reads
    from the beginning and this does nothing.
    """
    if not getattr(binding_class("bus", bus.url), "history_for_new_groups", True):
        bus.reader(group).close()


def commits_to_see_more(bus: Bus) -> bool:
    """Whether a reader must commit to see a key's next message (``next_in_key_after_commit``).

    With message ordering Pub/Sub may withhold the rest of a key until its
    delivered message is acknowledged, and pstest always does.
    """
    return bool(getattr(binding_class("bus", bus.url), "next_in_key_after_commit", False))


def publish(bus: Bus, messages: list[tuple[bytes, bytes | None]]) -> None:
    publisher = bus.publisher()
    for value, key in messages:
        publisher.publish(value, key=key)
    report = publisher.flush(30)
    assert report.ok, report.failed
    assert report.delivered == len(messages)
    publisher.close()


def test_ensure_is_idempotent_and_keeps_existing_partitions(make_url: MakeUrl) -> None:
    bus = open_bus(make_url())
    assert bus.ensure(3) == 3
    assert bus.ensure(3) == 3
    assert bus.ensure(1) == 3  # never shrinks or re-partitions
    assert bus.partitions() == 3


def test_partitions_of_a_missing_topic_is_terminal(make_url: MakeUrl) -> None:
    with pytest.raises(TerminalError, match="does not exist"):
        open_bus(make_url()).partitions()


def test_every_published_message_reads_back_once_with_per_key_order(make_url: MakeUrl) -> None:
    bus = open_bus(make_url())
    bus.ensure(3)
    users = [f"user-{i}".encode() for i in range(7)]
    sent = [(f"{u.decode()}:{n}".encode(), u) for n in range(30) for u in users]
    group = f"g-{uuid.uuid4().hex}"
    join_early(bus, group)
    before_ms = int(time.time() * 1000)
    publish(bus, sent)
    after_ms = int(time.time() * 1000)

    got = read_all(bus.reader(group), len(sent), commit=commits_to_see_more(bus))
    assert sorted(m.value for m in got) == sorted(v for v, _ in sent)
    for user in users:
        mine = [m for m in got if m.key == user]
        assert len({m.partition for m in mine}) == 1, "one key, one partition"
        in_log_order = sorted(mine, key=lambda m: m.offset)
        assert [m.value for m in in_log_order] == [v for v, k in sent if k == user]
    # The record time is when the bus took the message, never an event's own time.
    assert all(before_ms - 1000 <= m.publish_time_ms <= after_ms + 1000 for m in got)


def test_poll_reports_each_acknowledgement_once(make_url: MakeUrl) -> None:
    bus = open_bus(make_url())
    bus.ensure(1)
    publisher = bus.publisher()
    for i in range(50):
        publisher.publish(str(i).encode())
    seen = 0
    deadline = time.monotonic() + 30
    while seen < 50 and time.monotonic() < deadline:
        seen += publisher.poll().delivered
        time.sleep(0.05)
    assert seen == 50
    assert publisher.flush().delivered == 0  # already reported by poll


def test_headers_round_trip(make_url: MakeUrl) -> None:
    bus = open_bus(make_url())
    bus.ensure(1)
    join_early(bus, "g")
    publisher = bus.publisher()
    publisher.publish(b"v", key=b"k", headers={"source": b"replay", "trace": b"\x00\x01"})
    assert publisher.flush().delivered == 1
    (message,) = read_all(bus.reader("g"), 1)
    assert dict(message.headers) == {"source": b"replay", "trace": b"\x00\x01"}


def test_a_group_resumes_after_its_last_commit(make_url: MakeUrl) -> None:
    bus = open_bus(make_url())
    bus.ensure(1)
    join_early(bus, "resume")
    publish(bus, [(f"m{i}".encode(), None) for i in range(5)])

    first = bus.reader("resume")
    assert len(read_all(first, 5)) == 5
    first.commit()
    first.close()

    publish(bus, [(b"m5", None)])
    second = bus.reader("resume")
    assert [m.value for m in read_all(second, 1)] == [b"m5"]
    assert second.read(timeout_s=1.0) == []
    second.close()


def test_uncommitted_messages_are_delivered_again(make_url: MakeUrl) -> None:
    bus = open_bus(make_url())
    bus.ensure(1)
    join_early(bus, "at-least-once")
    publish(bus, [(b"a", None), (b"b", None)])
    reader = bus.reader("at-least-once")
    assert len(read_all(reader, 2)) == 2
    reader.close()  # crashed before commit
    again = bus.reader("at-least-once")
    assert sorted(m.value for m in read_all(again, 2)) == [b"a", b"b"]
    again.close()


def test_a_message_to_a_missing_topic_is_never_reported_delivered(make_url: MakeUrl) -> None:
    # Kafka reports the failure at flush (after message.timeout.ms); memory at publish.
    bus = open_bus(make_url("message.timeout.ms=3000") if "kafka" in make_url() else make_url())
    publisher = bus.publisher()
    try:
        publisher.publish(b"lost?")
        report = publisher.flush(30)
    except StreamkitError:
        return
    assert report.delivered == 0
    assert len(report.failed) == 1
    assert report.failed[0][0] == b"lost?"


def test_ping_answers(make_url: MakeUrl) -> None:
    assert open_bus(make_url()).ping() >= 0


def test_fault_plan_from_the_url_fails_every_second_publish(make_url: MakeUrl) -> None:
    bus = open_bus(make_url("fault.fail_every=2&fault.ops=publish"))
    bus.ensure(1)
    publisher = bus.publisher()
    publisher.publish(b"1")
    with pytest.raises(TransientError, match="injected"):
        publisher.publish(b"2")
    publisher.publish(b"3")
    assert publisher.flush().delivered == 2
    plan = plan_of(bus)
    assert plan is not None
    assert plan.injected == 1


def test_an_outage_blocks_calls_until_it_ends(make_url: MakeUrl) -> None:
    bus = open_bus(make_url("fault.ops=ping"))
    plan = plan_of(bus)
    assert plan is not None
    plan.outage(60)
    with pytest.raises(TransientError, match="outage"):
        bus.ping()
    plan.recover()
    assert bus.ping() >= 0


@pytest.mark.kafka
def test_kafka_unreachable_is_transient() -> None:
    bus = open_bus("kafka://127.0.0.1:1/nowhere")
    with pytest.raises(TransientError):
        bus.ping(timeout_s=1)


def test_registry_picks_the_binding_by_scheme() -> None:
    assert binding_class("bus", "memory://x").__name__ == "MemoryBus"
    assert binding_class("bus", "kafka://127.0.0.1:9092/x").__name__ == "KafkaBus"
    assert binding_class("bus", "kinesis://x?region=eu-west-1").__name__ == "KinesisBus"
