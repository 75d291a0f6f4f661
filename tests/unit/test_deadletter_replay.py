"""``streamkit deadletter replay`` on the memory bus and hot store: fixed, once, never late."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from adapters import registry
from adapters.hot import memory as memory_hot
from adapters.ports import Bus, HotStore
from app.cli.main import app
from app.deadletter.replay import REPLAY_HEADER, REPLAYS
from app.events.rejects import Reason, Rejection, dead_letter
from app.pipeline.documents import HEALTH, JOB
from app.settings import get_settings
from app.topics import read_topic

NOW = datetime.now(UTC).replace(microsecond=0)
WATERMARK = NOW - timedelta(minutes=10)


def event(n: int, at: datetime, **changes: object) -> dict[str, object]:
    return {
        "event_id": f"replay-{n}",
        "event_time": at.isoformat().replace("+00:00", "Z"),
        "event_type": "page_view",
        "user_id": f"u{n}",
        "product_id": "p1",
        **changes,
    }


@dataclass
class Stack:
    events: Bus
    dead: Bus
    hot: HotStore
    tmp: Path

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(app, ["deadletter", "replay", "--wait", "0.2", *args])

    def replayed(self) -> list[dict[str, object]]:
        return [json.loads(m.value) for m in read_topic(self.events, idle_s=0.2)]


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Stack]:
    run = uuid.uuid4().hex[:10]
    events, dead = registry.open_bus(f"memory://ev-{run}"), registry.open_bus(f"memory://dl-{run}")
    events.ensure(1)
    dead.ensure(1)
    hot = registry.open_hot_store(f"memory://hot-{run}")
    hot.upsert_many(HEALTH, [{"job": JOB, "watermark": WATERMARK, "batch_id": 5}], ["job"])
    letters = [
        # Refused as in the future when it came; its time has passed since.
        (event(1, NOW - timedelta(minutes=2)), Reason.FUTURE_EVENT_TIME, "0/1"),
        # A producer that renamed a field: fixable.
        (
            event(2, NOW - timedelta(minutes=1), event_type=None, eventType="add_to_cart"),
            Reason.MISSING_FIELD,
            "0/2",
        ),
        # Valid, but older than the watermark: the job would drop it.
        (event(3, WATERMARK - timedelta(minutes=5)), Reason.FUTURE_EVENT_TIME, "0/3"),
    ]
    publisher = dead.publisher()
    for body, reason, position in letters:
        raw = json.dumps(body).encode()
        publisher.publish(
            dead_letter(
                raw, Rejection(reason=reason, message="x"), "kafka:events_raw", position
            ).to_json()
        )
    publisher.publish(
        dead_letter(
            b"{garbage", Rejection(reason=Reason.NOT_JSON, message="x"), "kafka:events_raw", "0/4"
        ).to_json()
    )
    assert publisher.flush().ok
    monkeypatch.setenv("STREAMKIT_BUS_URL", events.url)
    monkeypatch.setenv("STREAMKIT_DEADLETTER_URL", dead.url)
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", f"memory://hot-{run}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield Stack(events, dead, hot, tmp_path)
    get_settings.cache_clear()
    memory_hot.reset(f"hot-{run}")
    for bus in (events, dead):
        bus.delete()


FIX = """
import json

def fix(raw, dead_letter):
    try:
        record = json.loads(raw)
    except ValueError:
        return None  # not JSON at all: nothing to mend, leave it dead
    if "eventType" in record:
        record["event_type"] = record.pop("eventType")
    return json.dumps(record).encode()
"""


def test_fixed_dead_letters_are_replayed_once_and_late_ones_kept_out(stack: Stack) -> None:
    fix = stack.tmp / "fix.py"
    fix.write_text(FIX)
    first = stack.run("--fix", str(fix), "--late-out", "late.jsonl")
    assert first.exit_code == 0, first.output
    assert "replayed 2 of 4 dead letters" in first.stdout
    assert "left 1 dead: the fix returned None" in first.stdout
    assert "1 events are older than the job's watermark" in first.stdout
    assert {e["event_id"] for e in stack.replayed()} == {"replay-1", "replay-2"}
    [late] = [json.loads(line) for line in (stack.tmp / "late.jsonl").read_text().splitlines()]
    assert late["event"]["event_id"] == "replay-3"
    messages = read_topic(stack.events, idle_s=0.2)
    assert all(dict(m.headers).get(REPLAY_HEADER) for m in messages)
    assert {m.key for m in messages} == {b"u1", b"u2"}  # keyed by user, as the producers do

    # A replay is a new ingestion: its latency starts now, not when the record first came.
    assert all(
        e["ingest_ts"] >= (NOW - timedelta(seconds=5)).isoformat()[:19] for e in stack.replayed()
    )
    recorded = {d["dead_letter_id"]: d["outcome"] for d in stack.hot.find_range(REPLAYS, "at")}
    assert sorted(recorded.values()) == ["older than the watermark", "published", "published"]

    again = stack.run("--fix", str(fix), "--late-out", "late-again.jsonl")
    assert again.exit_code == 0, again.output
    assert "replayed 0 of 4" in again.stdout
    assert "skipped 3 replayed or set aside before" in again.stdout
    assert len(stack.replayed()) == 2  # nothing sent twice
    assert not (stack.tmp / "late-again.jsonl").exists()  # nor set aside twice


def test_without_a_fix_only_what_the_contract_now_accepts_is_replayed(stack: Stack) -> None:
    result = stack.run("--reason", "future_event_time", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would replay 1 of 2 dead letters" in result.stdout
    assert stack.replayed() == []  # a dry run publishes nothing
    assert not list(stack.tmp.glob("deadletter-too-late-*"))


def test_a_failing_fix_is_reported_per_record_and_exits_1(stack: Stack) -> None:
    fix = stack.tmp / "fix.py"
    fix.write_text("def fix(raw, dead_letter):\n    raise ValueError('cannot')\n")
    result = stack.run("--fix", str(fix))
    assert result.exit_code == 1
    assert result.stderr.count("fix failed on") == 4 and "ValueError: cannot" in result.stderr
    assert stack.replayed() == []


@pytest.mark.parametrize(
    ("source", "says"),
    [
        (None, "no such file"),
        ("x = 1\n", "must define fix(raw: bytes, dead_letter)"),
        ("def fix(raw):\n    return raw\n", "must define fix(raw: bytes, dead_letter)"),
        ("import nonexistent_module_xyz\n", "failed to load: ModuleNotFoundError"),
    ],
)
def test_a_bad_fix_file_is_refused_naming_the_fix(
    stack: Stack, source: str | None, says: str
) -> None:
    path = stack.tmp / "fix.py"
    if source is not None:
        path.write_text(source)
    result = stack.run("--fix", str(path))
    assert result.exit_code == 2 and says in result.stderr
    assert "Traceback" not in result.output


def test_without_the_jobs_watermark_it_refuses_unless_told(stack: Stack) -> None:
    stack.hot.drop(HEALTH)
    refused = stack.run()
    assert refused.exit_code == 2 and "--ignore-watermark" in refused.stderr
    forced = stack.run("--ignore-watermark")
    assert forced.exit_code == 0, forced.output
    assert "replayed 2 of 4" in forced.stdout  # the old event too: nothing says it is late


def test_a_dead_letter_whose_payload_is_not_base64_is_reported_not_fatal(stack: Stack) -> None:
    good = json.loads(
        dead_letter(b"{", Rejection(reason=Reason.NOT_JSON, message="x"), "s", "0/9").to_json()
    )
    publisher = stack.dead.publisher()
    publisher.publish(json.dumps(good | {"raw_b64": "%%% not base64"}).encode())
    assert publisher.flush().ok
    result = stack.run("--ignore-watermark")
    assert result.exit_code == 0, result.output
    assert "raw_b64 is not base64 1" in result.stdout
