"""The demo on the real stack: replay at 2,000 events/s, the stream job, hot store, archive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.ports import Bus
from app.demo import DEMO_RATE, run_demo
from app.generate import Options, generate
from app.pipeline.documents import money
from app.settings import Settings
from tests.support.isolated import isolated_settings

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.timeout(600)]


@pytest.fixture
def settings(topics: tuple[Bus, Bus], tmp_path: Path) -> Iterator[Settings]:
    with isolated_settings(topics, tmp_path, "demo") as s:
        yield s


def test_the_demo_counts_live_minutes_and_archives_them(settings: Settings, tmp_path: Path) -> None:
    seconds = 10
    source = tmp_path / "events.csv.gz"
    generate(Options.over(source, DEMO_RATE * 60, 1))
    manifest = json.loads((tmp_path / "events.csv.gz.manifest.json").read_text())
    valid_share = manifest["kinds"]["valid_unique"] / manifest["rows"]
    lines: list[str] = []

    result = run_demo(settings, seconds, lines.append, source)

    sent = seconds * DEMO_RATE
    assert result.replayed + result.dead_lettered == sent
    assert result.rate > 0.8 * DEMO_RATE
    # Every counted event is a unique valid one; late, duplicate and malformed ones are not.
    assert 0.9 * sent * valid_share < result.counted <= sent
    assert result.archived == result.counted
    assert all(m["minute"].tzinfo is not None for m in result.minutes)
    assert any(line.startswith("pipeline | batch ") for line in lines)
    assert any(line.startswith("replay   | sent ") for line in lines)
    # Chromium read the dashboard's tiles; they equal GET /kpis/latest's (checked by the demo).
    newest = max(m["minute"] for m in result.minutes)
    assert result.dashboard.minute == newest.strftime("%Y-%m-%dT%H:%M:00Z")
    assert result.dashboard.tiles["Revenue"] == money(
        next(m["revenue_cents"] for m in result.minutes if m["minute"] == newest)
    )
    assert result.dashboard.screenshot.stat().st_size > 10_000
