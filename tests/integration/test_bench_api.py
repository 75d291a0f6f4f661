"""``streamkit bench api`` on the real stack, short: both phases run and the report is written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.ports import Bus
from app.bench.api import ApiBenchOptions, bench_api
from app.settings import Settings
from tests.support.isolated import isolated_settings

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.timeout(600)]


@pytest.fixture
def settings(topics: tuple[Bus, Bus], tmp_path: Path) -> Iterator[Settings]:
    with isolated_settings(topics, tmp_path, "bench", pipeline={"nice": 5}) as s:
        yield s


def test_a_short_run_loads_both_phases_and_writes_the_report(
    settings: Settings, tmp_path: Path
) -> None:
    lines: list[str] = []
    options = ApiBenchOptions(rate=50, seconds=5, warmup_s=3, out=tmp_path / "results")

    report = bench_api(settings, options, lines.append)

    summary = json.loads((report / "summary.json").read_text())
    assert summary["conditions"]["pipeline_nice"] == 5
    for phase in ("pipeline_running", "pipeline_stopped"):
        figures = summary["phases"][phase]
        assert figures["requests"] == 250
        assert figures["statuses"] == {"200": 250}
        lat = figures["latency_ms"]
        assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    # The replay fed the job through the loaded phase, after the job's first batches.
    assert summary["phases"]["pipeline_running"]["replay_ran_throughout"] is True
    assert sum(line.startswith("pipeline | batch ") for line in lines) >= 2
    # The job wrote minutes while it ran: the loaded range was not empty.
    assert summary["minute_documents_stored"] > 0
    assert "| pipeline running | 250 |" in (report / "summary.md").read_text()
    assert any("p99" in line for line in lines)
