"""``streamkit bench --quick`` on the real stack: the CI smoke run of the end-to-end benchmark.

No thresholds on speed (the machine is shared and noisy): the run must complete, account for
every record it sent, measure latency both ways for every phase, and leave nothing behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bench_run import assert_sandbox_removed, run_bench

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.timeout(900)]


def test_the_quick_run_measures_every_phase_and_loses_nothing(tmp_path: Path) -> None:
    report, summary = run_bench(["--quick", "--api-rate", "50"], tmp_path / "results", timeout=840)

    # Every record sent is counted once and archived; none is late, dead-lettered or lost.
    accounts = summary["accounts"]
    assert accounts["zero_loss"] is True, accounts
    assert accounts["counted"] == accounts["replayed"] + accounts["markers"] > 100_000
    assert accounts["lost"] == accounts["late_dropped"] == accounts["dead_lettered"] == 0

    # One entry per phase with its rate and the end-to-end percentiles in ms, both ways.
    phases = summary["phases"]
    assert [p["name"] for p in phases] == [
        "2,000/s",
        "burst: steady 2,000/s",
        "burst: peak 6,000/s",
        "burst: back to 2,000/s",
    ]
    step = phases[0]
    assert step["rate"] == 2000
    assert 1_500 < step["throughput"]["published_per_s"] < 2_500
    lat = step["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] and lat["count"] > 50_000
    markers = step["marker_latency_ms"]
    assert markers["seen"] == markers["sent"] >= 50
    assert 0 < markers["p50"] <= markers["p95"] <= markers["p99"] <= markers["max"]
    assert step["stages"]["batches"] >= 1
    assert step["stages"]["spark_ms"]["triggerExecution"] > 0
    assert {"job", "api", "replay", "kafka", "mongo"} <= set(step["usage"])
    assert step["lag"]["flat"] in (True, False)
    assert summary["burst"]["seconds"] is None or summary["burst"]["seconds"] >= 0
    # The API was loaded during the 2,000/s step.
    assert summary["api"]["during"] == "2,000/s"
    assert summary["api"]["statuses"] == {"200": summary["api"]["requests"]}

    for name in ("summary.md", "latency.png", "lag.png", "throughput.png", "batches.jsonl"):
        assert (report / name).stat().st_size > 0, name
    assert "| 2,000/s |" in (report / "summary.md").read_text()
    # The sandbox is gone: its topics and files.
    assert_sandbox_removed(report)
