"""The backfill benchmark's arithmetic: the replay's summary read back, the drain's rate."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.errors import StreamkitError
from app.bench.backfill import drain_rate, markdown
from app.cli.replay import summary, summary_count, summary_elapsed
from app.producers.replay import ReplayProgress
from app.producers.sender import SendStats


def replay_output(published: int, failed: int, elapsed: float) -> str:
    stats = SendStats(published=published, delivered=published - failed, failed=failed)
    return "\n".join(
        ["step lines and progress first", *summary(ReplayProgress(published, stats), elapsed, None)]
    )


def test_the_replay_summary_is_read_back_from_what_the_replay_prints() -> None:
    out = replay_output(1_234_567, 3, 24.5)
    assert summary_count(out, "to events topic") == 1_234_567
    assert summary_count(out, "failed") == 3
    assert summary_count(out, "no such line") == 0
    rate = pytest.approx(1_234_567 / 24.5, abs=0.1)
    assert summary_elapsed(out) == {"seconds": 24.5, "rate": rate}
    with pytest.raises(StreamkitError, match="no 'elapsed' line"):
        summary_elapsed("to events topic  5")


def batch(trigger_s: float, rows: int, duration_ms: int) -> dict[str, Any]:
    minutes, seconds = divmod(trigger_s, 60)
    return {
        "trigger_at": f"2026-11-26T10:{int(minutes):02d}:{seconds:06.3f}Z",
        "input_rows": rows,
        "batch_duration_ms": duration_ms,
        "durations_ms": {"addBatch": duration_ms - 100, "walCommit": 50},
        "sink_stages": {"hot_store": 0.02, "archive": 0.03, "dead_letters": 0.001},
    }


def test_the_drain_rate_spans_the_batches_with_data_only() -> None:
    batches = [
        batch(0, 0, 9_000),  # the first, empty batch: Spark's start, not the drain
        batch(10, 50_000, 5_000),
        batch(15, 50_000, 5_000),
        batch(20, 20_000, 2_000),
        batch(22, 0, 300),  # availableNow's closing batch, nothing in it
    ]
    rate = drain_rate(batches)
    assert rate["rows"] == 120_000 and rate["batches"] == 3
    assert rate["seconds"] == pytest.approx(12.0)  # 10 s to 20 s + 2 s
    assert rate["rate"] == pytest.approx(10_000)
    assert rate["rows_per_batch"] == 50_000 and rate["batch_ms"] == 5_000
    assert rate["stages_ms"]["addBatch"] == 4_900 and rate["stages_ms"]["latestOffset"] == 0
    assert rate["sinks_ms"] == {"dead_letters": 1, "hot_store": 20, "archive": 30}
    assert drain_rate([batch(0, 0, 100)]) == {
        "rows": 0,
        "batches": 0,
        "seconds": None,
        "rate": None,
    }


def test_the_report_says_by_how_much_a_target_is_missed() -> None:
    summary_ = {
        "label": "",
        "at": "2026-11-26T22:00:00+00:00",
        "machine": {"cpus": 2, "cpu_model": "x", "memory_gb": 23.5, "os": "Linux"},
        "conditions": {"spark_master": "local[2]", "max_records_per_batch": 50_000, "job_env": {}},
        "producer": {
            "runs": [{"run": 1, "topic": "t", "published": 10, "seconds": 1.0, "rate": 55_000.0}],
            "median_rate": 55_000.0,
            "target": 50_000,
            "met": True,
        },
        "backfill": {
            **drain_rate([batch(0, 60_000, 6_000)]),
            "wall_s": 40.0,
            "wall_rate": 1_500.0,
            "operator_ms": {"rows": 60_000},
            "target": 30_000,
            "met": False,
        },
        "accounts": {
            "backlog": 60_000,
            "on_topic": 60_000,
            "minutes": 1,
            "counted": 60_000,
            "archived": 60_000,
            "late_dropped": 0,
            "dead_lettered": 0,
            "zero_loss": True,
        },
    }
    text = markdown(summary_)
    assert "Median **55,000 events/s**; target ≥ 50,000: **met**." in text
    assert "**10,000 events/s**" in text
    assert "**missed** by 20,000 events/s (33% of it)." in text
    assert "Zero loss: **True**." in text
