"""The chaos runner's pieces that need no services: read-back order, the supervisor's view of a
checkpoint, scenario selection, and the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from adapters.errors import TransientError
from adapters.ports import BusMessage
from adapters.registry import open_archive
from app.chaos.compare import Differences
from app.chaos.outages import OutageRecord, archive_outage_url
from app.chaos.outcome import Outcome
from app.chaos.readback import batch_ends, in_batch_order
from app.chaos.report import markdown
from app.chaos.scenarios import FLOODS, NAMES, ChaosOptions, Outage, quick, scenarios
from app.chaos.supervisor import Supervisor
from app.chaos.verify import Verdict
from app.pipeline.crash import Point
from app.settings import Settings
from tests.unit.test_bench_backlog import TOPIC, planned


def message(partition: int, offset: int) -> BusMessage:
    return BusMessage(value=f"{partition}/{offset}".encode(), partition=partition, offset=offset)


def test_records_are_ordered_by_the_batch_that_held_them(tmp_path: Path) -> None:
    planned(tmp_path, 0, {"0": 2, "1": 1}, committed=True)
    planned(tmp_path, 1, {"0": 3, "1": 3}, committed=True)
    messages = [message(1, 2), message(0, 2), message(1, 0), message(0, 0), message(0, 1)]
    messages.append(message(1, 1))
    values, sizes = in_batch_order(messages, batch_ends(tmp_path, TOPIC))
    assert values == [b"0/0", b"0/1", b"1/0", b"0/2", b"1/1", b"1/2"]
    assert sizes == [3, 3]


def test_a_record_no_batch_planned_means_the_job_has_not_drained(tmp_path: Path) -> None:
    planned(tmp_path, 0, {"0": 1}, committed=True)
    with pytest.raises(ValueError, match="not drained"):
        in_batch_order([message(0, 0), message(0, 1)], batch_ends(tmp_path, TOPIC))


class EndsAt:
    """The topic side of a supervisor: only its name and end offsets."""

    topic = TOPIC

    def end_offsets(self, timeout_s: float = 10.0) -> dict[int, int]:
        return {0: 3, 1: 3}


def test_the_supervisor_reads_progress_from_the_checkpoint(tmp_path: Path) -> None:
    supervisor = Supervisor(Settings(), EndsAt(), tmp_path, tmp_path / "job.log", print)  # type: ignore[arg-type]
    assert supervisor.last_batch() == -1
    planned(tmp_path, 0, {"0": 2, "1": 1}, committed=True)
    planned(tmp_path, 1, {"0": 3, "1": 3}, committed=False)
    assert supervisor.last_batch() == 1
    assert supervisor.caught_up({0: 2, 1: 1}) and not supervisor.caught_up({0: 3, 1: 3})


def test_a_purged_offset_log_is_refused_not_misread(tmp_path: Path) -> None:
    # Spark keeps the newest 100 entries by default: records of purged batches would be taken
    # for the first batch left, with the wrong lateness.
    planned(tmp_path, 3, {"0": 2, "1": 1}, committed=True)
    planned(tmp_path, 4, {"0": 3, "1": 3}, committed=True)
    with pytest.raises(ValueError, match="minBatchesToRetain"):
        batch_ends(tmp_path, TOPIC)


def test_quick_runs_the_issues_subset_with_one_kill_and_no_crash_points() -> None:
    options = quick(ChaosOptions())
    assert (options.kills, options.events, options.hot_store_down_s) == (1, 40_000, 30)
    kills, broker, hot, floods, changed = scenarios(options, quick=True)
    assert changed.changed_query and not changed.kills
    assert kills.kills == 1 and kills.crash_points == ()
    assert (broker.outage, hot.outage, hot.outage_s) == (Outage.BROKER, Outage.HOT_STORE, 30)
    assert floods.fractions == FLOODS and floods.kills == 0
    full = scenarios(ChaosOptions(), quick=False)
    assert [s.name for s in full] == list(NAMES)
    assert Point.DURING_ARCHIVE in full[0].crash_points and full[0].kills == 20
    # 120,000 events spread over 20 kills and 3 crash points, so data flows at the last one.
    assert full[0].rate == round(120_000 / (20 * 45 + 3 * 70), 1) and kills.rate is None
    assert full[1].rate is None
    assert (full[2].outage_s, full[3].outage, full[3].outage_s) == (60, Outage.ARCHIVE, 30)
    assert [s.name for s in scenarios(ChaosOptions(only=("floods",)), quick=False)] == ["floods"]


def verdict(differences: Differences) -> Verdict:
    return Verdict(
        records=100,
        rejected=5,
        counted=90,
        late_dropped=2,
        closed_sessions=7,
        minutes=differences,
        sessions=Differences(),
    )


def outcome(**changes: Any) -> Outcome:
    base = Outcome("job-kills", "kill -9", faults=["kill -9 #1"], recoveries_s=[41.0])
    base.events_in, base.on_topic, base.producer_dead_letters = 101, 100, 1
    base.verdict = verdict(Differences())
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def test_a_row_passes_only_without_differences_errors_or_slow_recoveries() -> None:
    assert outcome().passed(60)
    assert not outcome(recoveries_s=[61.0]).passed(60)
    assert not outcome(error="the job exited").passed(60)
    assert not outcome(verdict=verdict(Differences(by_field={"events": 1}))).passed(60)
    row = outcome().row(60)
    assert (row["dead_letters"], row["dead_letters_by_producer"], row["differences"]) == (6, 1, 0)
    assert row["recovery_s"] == {"median": 41.0, "max": 41.0, "limit": 60}


def test_delivery_problems_fail_the_row() -> None:
    base = outcome(published=100, acknowledged=101)
    base.check_delivery()
    assert base.problems == [] and base.passed(60)
    lost = outcome(published=100, acknowledged=101, on_topic=98)
    lost.check_delivery()
    assert lost.problems == ["2 acknowledged events are not on the topic"]
    assert not lost.passed(60)
    twice = outcome(published=100, acknowledged=101, on_topic=103, producer_failed=1)
    twice.check_delivery()
    assert len(twice.problems) == 2 and "on the topic twice" in twice.problems[1]


def test_health_must_say_degraded_during_an_outage_it_checks_and_healthy_after() -> None:
    good = OutageRecord(30.0, "healthy", ["degraded", "degraded"], "healthy", 2.0)
    assert good.problems(Outage.HOT_STORE) == []
    flapping = OutageRecord(30.0, "healthy", ["degraded", "unhealthy"], "healthy")
    assert len(flapping.problems(Outage.BROKER)) == 1
    assert len(OutageRecord(30.0, "unhealthy", [], "degraded").problems(Outage.HOT_STORE)) == 3
    # /health does not check the archive: nothing to say there.
    assert OutageRecord(30.0).problems(Outage.ARCHIVE) == []


def test_an_archive_outage_url_keeps_the_url_and_adds_the_flag(tmp_path: Path) -> None:
    url = archive_outage_url("file:///data/archive?x=1", tmp_path / "flag")
    flag = quote(str(tmp_path / "flag"), safe="")
    assert url == f"file:///data/archive?x=1&fault.outage_file={flag}"
    archive = open_archive(archive_outage_url((tmp_path / "a").as_uri(), tmp_path / "flag"))
    (tmp_path / "flag").touch()
    with pytest.raises(TransientError, match="outage"):
        archive.read("events")


def test_the_report_has_a_row_per_scenario_and_says_what_differed() -> None:
    failing = outcome(verdict=verdict(Differences(by_field={"events": 2}, examples=["minute x"])))
    summary = {
        "started": "2026-11-27T02:00:00+00:00",
        "machine": "2 CPUs",
        "options": {"kills": 1},
        "scenarios": [outcome().row(60), failing.row(60)],
    }
    page = markdown(summary)
    assert page.count("| job-kills |") == 2
    assert "| **yes** |" in page and "| **no** |" in page
    assert "minute x" in page and "41.0 / 41.0" in page
