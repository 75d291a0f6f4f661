"""Dead letters on the real stack: found by `deadletter stats`, fixed by `replay`, counted once.

The issue's closing check for dead letters: a producer renames a field, the job dead-letters
those events; `streamkit deadletter replay --fix` mends and re-publishes them, the job counts
them; a second replay sends nothing, and an event that gets in twice is counted once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.ports import Bus
from app.deadletter.replay import REPLAY_HEADER
from tests.support.pipeline_run import Run, isolated, read_all

pytestmark = [pytest.mark.spark, pytest.mark.integration, pytest.mark.timeout(900)]

GOOD, RENAMED = 40, 12
FIX = """
import json

def fix(raw, dead_letter):
    record = json.loads(raw)
    record["event_type"] = record.pop("eventType")
    return json.dumps(record).encode()
"""


@pytest.fixture
def run(topics: tuple[Bus, Bus], tmp_path: Path) -> Iterator[Run]:
    with isolated(topics, tmp_path) as setup:
        yield setup


def _events_file(path: Path) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
    lines = []
    for n in range(GOOD + RENAMED):
        event = {
            "event_id": f"dl-{n}",
            "event_time": (start + timedelta(seconds=n)).isoformat().replace("+00:00", "Z"),
            "event_type": "page_view",
            "user_id": f"u{n % 7}",
            "product_id": "p1",
        }
        if n >= GOOD:  # a producer that renamed a field: the job refuses these
            event["eventType"] = event.pop("event_type")
        lines.append(json.dumps(event))
    path.write_text("\n".join(lines) + "\n")


def _counted(run: Run) -> int:
    minutes = run.hot("kpi_minutes", "minute")
    return int(minutes["events"].sum()) if len(minutes) else 0


def _once(run: Run) -> None:
    job = run.command("pipeline", "--once")
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]


def test_dead_letters_replayed_after_a_fix_are_counted_exactly_once(
    run: Run, tmp_path: Path
) -> None:
    data, fix = tmp_path / "events.jsonl", tmp_path / "fix.py"
    _events_file(data)
    fix.write_text(FIX)
    replay = run.command("replay", str(data), "--rate", "max")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    _once(run)
    assert _counted(run) == GOOD

    stats = run.command("deadletter", "stats", "--wait", "3")
    assert stats.returncode == 0, stats.stdout + stats.stderr
    assert f"{RENAMED} distinct dead letters" in stats.stdout
    assert f"by reason: missing_field {RENAMED}" in stats.stdout

    first = run.command("deadletter", "replay", "--fix", str(fix), "--wait", "3")
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"replayed {RENAMED} of {RENAMED} dead letters" in first.stdout
    _once(run)
    assert _counted(run) == GOOD + RENAMED

    again = run.command("deadletter", "replay", "--fix", str(fix), "--wait", "3")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"replayed 0 of {RENAMED}" in again.stdout
    assert f"skipped {RENAMED} replayed or set aside before" in again.stdout

    # A replayed event that gets in twice (say its marker was lost) is the job's dedup's.
    replayed = [m for m in read_all(run.events) if dict(m.headers).get(REPLAY_HEADER)]
    assert len(replayed) == RENAMED
    publisher = run.events.publisher()
    publisher.publish(replayed[0].value, key=replayed[0].key)
    assert publisher.flush(30).ok
    publisher.close()
    _once(run)
    assert _counted(run) == GOOD + RENAMED
