"""``streamkit deadletter stats`` and ``show`` on the memory bus: counts, filters, errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from adapters import registry
from adapters.ports import Bus
from app.cli.main import app
from app.deadletter.letters import UNREADABLE, counts, distinct, parse
from app.events.rejects import Reason, Rejection, dead_letter
from app.settings import get_settings

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def letter(raw: bytes, reason: Reason, position: str, at: datetime) -> bytes:
    rejection = Rejection(reason=reason, message=f"because {reason.value}")
    return dead_letter(raw, rejection, "kafka:events_raw", position, at).to_json()


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bus]:
    """A dead-letter topic holding letters of two minutes, a re-sent copy and a stray record."""
    url = f"memory://dead-{uuid.uuid4().hex[:10]}"
    bus = registry.open_bus(url)
    bus.ensure(1)
    publisher = bus.publisher()
    values = [
        letter(b"{oops", Reason.NOT_JSON, "0/1", T0 + timedelta(seconds=5)),
        letter(b"[1]", Reason.NOT_AN_OBJECT, "0/2", T0 + timedelta(seconds=20)),
        letter(b"{oops", Reason.NOT_JSON, "0/1", T0 + timedelta(seconds=5)),  # re-sent by a re-run
        letter(b"{also", Reason.NOT_JSON, "1/7", T0 + timedelta(minutes=1, seconds=3)),
        b"this is no dead letter",
    ]
    for value in values:
        publisher.publish(value, key=None)
    assert publisher.flush().ok
    monkeypatch.setenv("STREAMKIT_DEADLETTER_URL", url)
    get_settings.cache_clear()
    yield bus
    get_settings.cache_clear()
    bus.delete()


def test_counts_are_of_distinct_letters_by_minute_and_reason(topic: Bus) -> None:
    from app.topics import read_topic

    entries = distinct(parse(read_topic(topic, idle_s=0.2)))
    assert [e.reason for e in entries] == ["not_json", "not_an_object", "not_json", UNREADABLE]
    assert "not a dead-letter record" in entries[-1].problem
    found = {(c.minute.strftime("%H:%M"), c.reason): c.letters for c in counts(entries[:3])}
    assert found == {
        ("18:00", "not_json"): 1,
        ("18:00", "not_an_object"): 1,
        ("18:01", "not_json"): 1,
    }


def test_stats_prints_a_table_and_totals(topic: Bus) -> None:
    result = CliRunner().invoke(app, ["deadletter", "stats", "--wait", "0.2"])
    assert result.exit_code == 0, result.output
    assert "4 distinct dead letters (5 records)" in result.stdout
    assert "2026-11-25 18:00  not_json" in result.stdout
    assert "by reason: not_json 2, not_an_object 1, unreadable 1" in result.stdout


def test_stats_since_and_json_lines(topic: Bus) -> None:
    result = CliRunner().invoke(
        app, ["deadletter", "stats", "--wait", "0.2", "--json", "--since", "2026-11-25T18:01"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    # The stray record has no rejection time: the topic's own time (now) is after --since.
    assert {(r["minute"][11:16], r["reason"], r["dead_letters"]) for r in rows} >= {
        ("18:01", "not_json", 1)
    }
    assert all(r["minute"] >= "2026-11-25T18:01" for r in rows)


def test_show_filters_by_reason_and_shows_the_payload(topic: Bus) -> None:
    result = CliRunner().invoke(
        app, ["deadletter", "show", "--wait", "0.2", "--reason", "not_json", "--limit", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "not_json  kafka:events_raw 0/1" in result.stdout
    assert "because not_json" in result.stdout and "raw: {oops" in result.stdout
    assert "1 of 2 shown" in result.stderr
    raw = CliRunner().invoke(
        app, ["deadletter", "show", "--wait", "0.2", "--reason", "not_an_object", "--raw"]
    )
    assert "raw (base64): WzFd" in raw.stdout  # b"[1]", exactly


def test_a_wrong_reason_or_time_is_a_usage_error(topic: Bus) -> None:
    bad = CliRunner().invoke(app, ["deadletter", "show", "--reason", "typo"])
    assert bad.exit_code == 2 and "not a reason; use one of" in bad.output
    when = CliRunner().invoke(app, ["deadletter", "stats", "--since", "yesterday"])
    assert when.exit_code == 2 and "is not an ISO 8601 time" in when.output


def test_a_missing_topic_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMKIT_DEADLETTER_URL", f"memory://nothing-{uuid.uuid4().hex[:8]}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["deadletter", "stats", "--wait", "0.2"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "STREAMKIT_DEADLETTER_URL" in result.stderr and "Traceback" not in result.output
