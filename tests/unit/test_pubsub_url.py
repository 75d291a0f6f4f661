"""Pub/Sub URL parsing, names, attribute encoding, partitions and offsets (no service needed)."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc

from adapters.bus.pubsub_wire import (
    BINARY_MARK,
    decode_attribute,
    encode_attribute,
    offset_of,
    parse_pubsub_url,
    partition_of,
    subscription_for,
    translate,
)
from adapters.errors import ConfigurationError, TerminalError, TransientError
from adapters.registry import binding_class, open_bus


def test_a_full_url_parses() -> None:
    target = parse_pubsub_url(
        "pubsub://my-project/events_raw?endpoint=127.0.0.1:8085&subscription=events-job"
        "&dead_letter_topic=events_poison&max_delivery_attempts=50"
    )
    assert (target.project, target.topic) == ("my-project", "events_raw")
    assert target.endpoint == "127.0.0.1:8085"
    assert target.subscription == "events-job"
    assert target.topic_path == "projects/my-project/topics/events_raw"
    assert target.path("subscriptions", "s1") == "projects/my-project/subscriptions/s1"


def test_defaults_go_to_pubsub_with_the_job_subscription() -> None:
    target = parse_pubsub_url("pubsub://my-project/events_raw")
    assert target.endpoint is None  # Google's endpoint, credentials from the default chain
    assert target.subscription == "events_raw--pipeline"
    assert target.where == "Pub/Sub"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("kafka://p/events", "expected pubsub://"),
        ("pubsub://p", "expected pubsub://"),
        ("pubsub://p/a/b", "expected pubsub://"),
        ("pubsub://p/events?endpont=127.0.0.1:8085", "unknown parameter"),
        ("pubsub://p/9events", "not a valid topic name"),
        ("pubsub://p/goog-events", "not a valid topic name"),
        ("pubsub://p/events?subscription=x", "not a valid subscription name"),
        ("pubsub://p/events?endpoint=http://127.0.0.1:8085", "must be host:port"),
        ("pubsub://p/events?endpoint=127.0.0.1", "must be host:port"),
        ("pubsub://p/events?max_delivery_attempts=50", "needs dead_letter_topic"),
        ("pubsub://p/events?dead_letter_topic=dead&max_delivery_attempts=5", "20..100"),
        ("pubsub://p/events?dead_letter_topic=dead&max_delivery_attempts=101", "20..100"),
        ("pubsub://p/events?dead_letter_topic=dead&max_delivery_attempts=many", "20..100"),
    ],
)
def test_bad_urls_name_the_fix(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_pubsub_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "pubsub://user:s3cret@p/events",
        "pubsub://p/events?credentials_file=/s3cret.json",
        "pubsub://p/events?access_token=s3cret",
        "pubsub://p/events?api_key=s3cret",
        "pubsub://p/events?private_key=s3cret",
    ],
)
def test_credentials_in_the_url_are_refused_without_repeating_them(url: str) -> None:
    with pytest.raises(ConfigurationError, match="default chain") as caught:
        parse_pubsub_url(url)
    assert "s3cret" not in str(caught.value)


def test_the_dead_letter_policy_defaults_to_pubsubs_maximum() -> None:
    from adapters.bus.pubsub_wire import dead_letter_policy

    target = parse_pubsub_url("pubsub://p/events?dead_letter_topic=events_poison")
    assert dead_letter_policy(target) == {
        "dead_letter_topic": "projects/p/topics/events_poison",
        "max_delivery_attempts": 100,
    }
    assert dead_letter_policy(parse_pubsub_url("pubsub://p/events")) is None


def test_subscription_names_per_group_are_valid_and_distinct() -> None:
    assert subscription_for("events_raw", "dashboard") == "events_raw--dashboard"
    odd = subscription_for("events_raw", "triage/on call")
    assert odd.startswith("events_raw--triage-on-call-")
    assert odd != subscription_for("events_raw", "triage on/call")  # cleaned alike, still two
    long = subscription_for("t" * 200, "g" * 200)
    assert len(long) <= 255
    for name in (odd, long):
        parse_pubsub_url(f"pubsub://p/events_raw?subscription={name}")  # valid names


@pytest.mark.parametrize(
    "value",
    [b"", b"replay", "caf\u00e9".encode(), b"\x00\x01", b"\xff\xfe", b"b64:looks-encoded", b"b64:"],
)
def test_attribute_values_round_trip_as_text(value: bytes) -> None:
    text = encode_attribute(value)
    assert isinstance(text, str)
    assert decode_attribute(text) == value


def test_text_attributes_stay_readable_and_binary_ones_are_marked() -> None:
    assert encode_attribute(b"replay") == "replay"
    assert encode_attribute(b"\x00\x01") == BINARY_MARK + "AAE="
    # Another producer's text that merely starts with the mark is kept as it is.
    assert decode_attribute("b64:not base64!") == b"b64:not base64!"


def test_offsets_are_the_message_ids_number() -> None:
    assert offset_of("4230185693373829") == 4230185693373829  # Pub/Sub's decimal ids
    assert offset_of("m42") == 42  # pstest's counter
    for odd in ("x-y-z", "9" * 30):
        assert 0 <= offset_of(odd) < 2**63
        assert offset_of(odd) == offset_of(odd)  # the same on every redelivery


def test_one_key_one_partition_and_keyless_messages_spread() -> None:
    mine = {partition_of(b"user-7", f"m{i}", 3) for i in range(50)}
    assert mine == {partition_of(b"user-7", "", 3)}
    assert {partition_of(None, f"m{i}", 3) for i in range(50)} == {0, 1, 2}
    assert partition_of(b"user-7", "m1", 0) == 0  # an unlabelled topic has one partition


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (gexc.NotFound("topic"), TerminalError),
        (gexc.PermissionDenied("no"), TerminalError),
        (gexc.InvalidArgument("bad"), TerminalError),
        (gexc.ServiceUnavailable("down"), TransientError),
        (gexc.DeadlineExceeded("slow"), TransientError),
        (gexc.RetryError("gave up", cause=None), TransientError),
    ],
)
def test_client_errors_become_the_ports_errors(error: Exception, kind: type[Exception]) -> None:
    translated = translate(error, "publish")
    assert type(translated) is kind
    assert str(translated).startswith("publish: ")


def test_missing_credentials_name_the_chain() -> None:
    translated = translate(auth_exc.DefaultCredentialsError("none"), "Pub/Sub client")
    assert isinstance(translated, ConfigurationError)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in str(translated)


def test_the_registry_opens_pubsub_urls_without_connecting() -> None:
    assert binding_class("bus", "pubsub://p/events").__name__ == "PubSubBus"
    bus = open_bus("pubsub://p/events?endpoint=127.0.0.1:1")  # nothing listens there
    assert bus.topic == "events"
    bus.close()


def test_the_spark_source_checks_its_options_without_spark() -> None:
    from adapters.bus.pubsub_spark import PubSubStreamReader, journal_root

    with pytest.raises(ConfigurationError, match="journal_keep"):
        PubSubStreamReader("pubsub://p/events?journal_keep=0", 100)
    reader = PubSubStreamReader("pubsub://p/events?journal=gs://b/j&journal_keep=3", 100)
    assert (reader.root, reader.keep) == ("gs://b/j", 3)
    default = journal_root(parse_pubsub_url("pubsub://p/events"))
    assert default.endswith("streamkit-pubsub-journal/p/events--pipeline")
    # What Spark pickles to executors carries no driver state.
    assert reader.__getstate__()["_driver"] is None
