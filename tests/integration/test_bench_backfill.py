"""``streamkit bench backfill`` on the real stack, small: the producer alone, then the backlog.

No thresholds on speed (the machine is shared and noisy): the run must complete, report each
producer run and the drain with its batches, count every event of the backlog exactly once
(the other producer runs went to a scratch topic), and leave nothing behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bench_run import assert_sandbox_removed, run_bench

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.timeout(600)]

EVENTS = 60_000


def test_a_small_backfill_counts_the_backlog_once_and_reports_both_rates(tmp_path: Path) -> None:
    args = ["backfill", "--events", str(EVENTS), "--producer-runs", "2", "--label", "ci"]
    # A small batch cap: the drain takes several batches, so per-batch figures mean something.
    args += ["--job-env", "STREAMKIT_PIPELINE__MAX_RECORDS_PER_BATCH=20000"]
    report, summary = run_bench(args, tmp_path / "results", timeout=540)

    producer = summary["producer"]
    assert [r["run"] for r in producer["runs"]] == [1, 2]
    assert [r["published"] for r in producer["runs"]] == [EVENTS, EVENTS]
    assert all(r["rate"] > 0 and r["failed"] == 0 for r in producer["runs"])
    assert producer["runs"][0]["topic"] != producer["runs"][1]["topic"]
    assert producer["target"] == 50_000 and isinstance(producer["met"], bool)

    backfill = summary["backfill"]
    assert backfill["rows"] == EVENTS
    assert backfill["batches"] >= 3  # 60,000 rows at most 20,000 a batch
    assert backfill["rows_per_batch"] <= 20_000
    assert 0 < backfill["seconds"] < backfill["wall_s"]
    assert backfill["rate"] > backfill["wall_rate"] > 0
    assert backfill["stages_ms"]["addBatch"] > 0
    assert backfill["operator_ms"]["rows"] > 0
    assert summary["conditions"]["max_records_per_batch"] == 20_000

    accounts = summary["accounts"]
    assert accounts["zero_loss"] is True, accounts
    assert accounts["counted"] == accounts["archived"] == accounts["on_topic"] == EVENTS
    assert accounts["late_dropped"] == accounts["dead_lettered"] == 0

    text = (report / "summary.md").read_text()
    assert "## `streamkit pipeline --once` over the backlog" in text
    assert "(ci)" in text
    # The sandbox is gone: its topics (the scratch one too) and files.
    assert_sandbox_removed(report)
