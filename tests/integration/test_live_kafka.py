"""``streamkit live`` against a local recorded stream and the real broker.

The done-when of the live producer: served with a dropped connection, the
recorded events reach Kafka once each, with no gaps. Each test makes its own
events and dead-letter topics and deletes them afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from adapters.ports import Bus
from app.live.mapping import map_change
from app.live.producer import LiveProducer
from app.live.sse import SseClient
from app.producers.sender import EventSender
from tests.support.sse_server import CURRENT, WIKIDATA_2018, SseServer, recorded

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

ROOT = Path(__file__).resolve().parents[2]
# The console script's entry point, run by this interpreter (no install needed).
STREAMKIT = [sys.executable, "-c", "from app.cli.main import run; run()"]


def read_back(bus: Bus, expected: int, timeout_s: float = 60.0) -> list[dict[str, object]]:
    """Everything on the topic: until ``expected`` arrived, then 2 s more to catch extras."""
    reader = bus.reader(f"g-{uuid.uuid4().hex}")
    out: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < expected and time.monotonic() < deadline:
        out += [json.loads(m.value) for m in reader.read(max_messages=5000, timeout_s=0.5)]
    out += [json.loads(m.value) for m in reader.read(max_messages=5000, timeout_s=2.0)]
    reader.close()
    return out


def expected_ids(path: Path) -> set[str]:
    maps = [map_change(json.loads(line)) for line in path.read_bytes().splitlines()]
    return {m["event_id"] for m in maps if isinstance(m, dict)}


def assert_once_each(got: list[dict[str, object]], expected: set[str]) -> None:
    ids = [str(e["event_id"]) for e in got]
    assert len(ids) == len(expected), f"{len(ids)} read back, {len(expected)} expected"
    assert len(set(ids)) == len(ids), "duplicates"
    assert set(ids) == expected, f"gaps: {len(expected - set(ids))}"


def test_the_cli_publishes_the_recording_once_each_across_a_drop(
    topics: tuple[Bus, Bus],
) -> None:
    events_bus, dead_bus = topics
    recording = recorded(CURRENT)
    env = {**os.environ, "STREAMKIT_BUS_URL": events_bus.url}
    env["STREAMKIT_DEADLETTER_URL"] = dead_bus.url
    with SseServer(recording, drop_after=[37]) as server:
        done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
            [*STREAMKIT, "live", "--url", server.url, "--rate", "500"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r.get("Last-Event-ID") for r in server.requests][:2] == [None, recording[36].id]
    assert "to events topic  100 (page_view 95, purchase 5)" in done.stdout
    assert "reconnects       2 (1 unfinished event(s) discarded)" in done.stdout
    assert "acknowledged     100" in done.stdout
    assert_once_each(read_back(events_bus, 100), expected_ids(CURRENT))
    assert read_back(dead_bus, 0, timeout_s=1) == []


def test_the_2018_stream_at_max_rate_across_two_drops(topics: tuple[Bus, Bus]) -> None:
    events_bus, dead_bus = topics
    expected = expected_ids(WIKIDATA_2018)
    sender = EventSender(events_bus, dead_bus, source="sse:test")
    with SseServer(recorded(WIKIDATA_2018), drop_after=[1200, 1900], chunked=True) as server:
        client = SseClient(server.url, backoff_s=0.01)
        progress = LiveProducer(sender, rate=None).run(client.events())
    sender.close()
    assert (client.stats.connects, client.stats.incomplete) == (3, 2)
    assert progress.received == 3818
    assert progress.sent == len(expected) == 3796
    assert progress.skipped == {"log:abusefilter": 14, "log:patrol": 6, "log:tag": 2}
    assert (progress.stats.delivered, progress.stats.failed) == (3796, 0)
    assert_once_each(read_back(events_bus, len(expected)), expected)
