"""Kinesis URL parsing, partition keys and the header envelope (no service needed)."""

from __future__ import annotations

import pytest

from adapters.bus import envelope
from adapters.bus.kinesis import DEFAULT_CHECKPOINT_TABLE, parse_kinesis_url, partition_key
from adapters.bus.kinesis_shards import Shard, readable
from adapters.errors import ConfigurationError, TerminalError


def test_a_full_url_parses() -> None:
    target = parse_kinesis_url(
        "kinesis://events_raw?region=eu-west-1&endpoint=http://127.0.0.1:5055"
        "&mode=on-demand&checkpoint_table=positions&linger_ms=10&max_attempts=3"
    )
    assert target.stream == "events_raw"
    assert target.region == "eu-west-1"
    assert target.endpoint == "http://127.0.0.1:5055"
    assert target.on_demand
    assert target.checkpoint_table == "positions"
    assert target.linger_s == pytest.approx(0.01)
    assert target.max_attempts == 3


def test_defaults() -> None:
    target = parse_kinesis_url("kinesis://events_raw")
    assert (target.region, target.endpoint, target.on_demand) == (None, None, False)
    assert target.checkpoint_table == DEFAULT_CHECKPOINT_TABLE


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("kafka://events_raw", "expected kinesis://"),
        ("kinesis://a/b", "must name one stream"),
        ("kinesis://key:secret@events_raw", "default chain"),
        ("kinesis://events_raw?aws_secret_access_key=x", "default chain"),
        ("kinesis://events_raw?regoin=eu-west-1", "unknown kinesis:// URL option"),
        ("kinesis://events_raw?mode=fast", "'provisioned' or 'on-demand'"),
        ("kinesis://events_raw?linger_ms=soon", "must be numbers"),
    ],
)
def test_bad_urls_name_the_fix(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_kinesis_url(url)


def test_partition_keys() -> None:
    assert partition_key(b"user-1") == "user-1"
    assert partition_key(b"\xff\xfe") == "fffe"  # not UTF-8: hex, still stable per key
    assert partition_key(b"x" * 300) == "x" * 256
    assert partition_key(b"") == "-"
    spread = {partition_key(None) for _ in range(20)}
    assert len(spread) == 20  # keyless messages are spread over shards


def test_a_value_without_headers_is_stored_as_it_is() -> None:
    assert envelope.wrap(b'{"a":1}', None) == b'{"a":1}'
    assert envelope.unwrap(b'{"a":1}') == (b'{"a":1}', ())


def test_headers_round_trip_through_the_envelope() -> None:
    headers = {"source": b"replay", "trace": b"\x00\x01\xff"}
    stored = envelope.wrap(b"value", headers)
    assert stored.startswith(envelope.MAGIC)
    assert envelope.unwrap(stored) == (b"value", tuple(headers.items()))


def test_a_value_that_looks_like_an_envelope_is_enveloped_anyway() -> None:
    tricky = envelope.MAGIC + b"not really"
    stored = envelope.wrap(tricky, None)
    assert stored != tricky
    assert envelope.unwrap(stored) == (tricky, ())


@pytest.mark.parametrize(
    "garbled",
    [envelope.MAGIC + b"\x00\x00\x00\x09[]", envelope.MAGIC + b"\x00\x00\x00\x02{x"],
)
def test_a_garbled_envelope_is_a_terminal_error(garbled: bytes) -> None:
    with pytest.raises(TerminalError, match="envelope"):
        envelope.unwrap(garbled)


def test_children_wait_for_every_parent() -> None:
    parent_a, parent_b = Shard("shardId-000000000000", closed=True), Shard("shardId-000000000001")
    merged = Shard("shardId-000000000002", parents=(parent_a.shard_id, parent_b.shard_id))
    shards = [parent_a, parent_b, merged]
    assert readable(shards, drained=set()) == [parent_a, parent_b]
    assert readable(shards, drained={parent_a.shard_id}) == [parent_b]
    assert readable(shards, drained={parent_a.shard_id, parent_b.shard_id}) == [merged]


def test_a_parent_gone_with_retention_counts_as_drained() -> None:
    orphan = Shard("shardId-000000000005", parents=("shardId-000000000001",))
    assert readable([orphan], drained=set()) == [orphan]
    assert orphan.number == 5
