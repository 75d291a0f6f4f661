"""``streamkit chaos --quick`` on the real stack: faults injected, every output against the oracle.

The CI subset of issue 8's suite: one ``kill -9`` of the job's process group while data flows
(restarted, recovery timed); one ``kill -9`` of the Kafka broker (started again; the producer
and the job must reconnect on their own, no acknowledged event lost); the MongoDB-wire server
down 30 s (the job waits it out; /health degraded meanwhile, healthy before and after); and
the floods (20 % duplicates, late bursts on both sides of the watermark, 5 % malformed records
of every kind); and a changed query (the job started on another topic with its old checkpoint
must be refused, naming the fix, the checkpoint untouched). The command exits 0 only when
every scenario has zero differences, no problem and recovered in time; this test also reads
the report's rows, and checks the sandboxes are gone. It restarts the stack's Kafka and
FerretDB: the stack is up afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.registry import open_bus
from app.settings import Settings
from tests.conftest import KAFKA_BOOTSTRAP
from tests.support.bench_run import run_bench

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.timeout(2500)]


def chaos_topics() -> set[str]:
    admin = open_bus(f"kafka://{KAFKA_BOOTSTRAP}/events_raw").admin  # type: ignore[attr-defined]
    return {t for t in admin.list_topics().topics if t.startswith("chaos_")}


def sandboxes() -> set[Path]:
    return set((Settings().state_dir / "chaos").glob("*"))


def test_quick_chaos_has_no_differences_and_cleans_up(tmp_path: Path) -> None:
    before = chaos_topics(), sandboxes()
    # Recovery times are figures for the full run's report (limit 60 s); on a shared CI machine
    # the limit here only catches a job that never comes back.
    args = ["--quick", "--recovery-limit", "300"]
    _, summary = run_bench(args, tmp_path / "results", timeout=2400, command="chaos")

    rows = {r["scenario"]: r for r in summary["scenarios"]}
    assert summary["passed"] and list(rows) == [
        "job-kills",
        "broker-kill",
        "hot-store-down",
        "floods",
        "changed-query",
    ]
    for row in rows.values():
        assert row["differences"] == 0 and not row["error"] and not row["problems"], row
        assert row["counted"] > 0 and row["closed_sessions_compared"] > 0
        assert row["on_topic"] + row["dead_letters_by_producer"] == row["events_in"]
        assert row["acknowledged"] == row["events_in"] and row["producer_failed"] == 0

    kills = rows["job-kills"]
    assert kills["faults_injected"] == 1 and kills["faults"][0].startswith("kill -9")
    assert kills["recovery_s"]["max"] <= kills["recovery_s"]["limit"]

    for name, down_s in (("broker-kill", 5), ("hot-store-down", 30)):
        outage = rows[name]["outage"]
        assert outage["down_s"] >= down_s and outage["health_before"] == "healthy"
        assert set(outage["health_during"]) == {"degraded"} and outage["health_after"] == "healthy"

    changed = rows["changed-query"]
    assert changed["faults"][0].startswith("changed query") and "exit 0" not in changed["faults"][0]
    assert "written by another query" in changed["notes"][0]

    # The recomputation from the archive agrees with the hot store after kills and floods.
    for name in ("job-kills", "floods"):
        assert rows[name]["reconcile"] == "reconciled: the hot store matches the archive"

    floods = rows["floods"]
    # 5 % malformed of 40,000: every kind, on the topic (the job's) or framing (the producer's).
    assert floods["dead_letters"] >= 0.04 * floods["events_in"]
    assert floods["late_dropped"] > 0

    assert (chaos_topics(), sandboxes()) == before
