"""The end-to-end benchmark's timeline and its analysis of recorded samples."""

from __future__ import annotations

import pytest

from app.bench.analysis import (
    Timed,
    drain,
    lag_verdict,
    oldest_wait_ms,
    stages,
    throughput,
    timeline,
)
from app.bench.plan import (
    FULL_BURST,
    FULL_STEPS,
    QUICK_BURST,
    QUICK_STEPS,
    Burst,
    Kind,
    Phase,
    Plan,
)
from app.bench.sampler import Sample
from app.producers.pacing import parse_profile


def test_the_burst_follows_the_last_step_no_faster_than_its_steady_rate() -> None:
    plan = Plan.of(parse_profile(FULL_STEPS), Burst.parse(FULL_BURST))
    assert [p.name for p in plan.phases] == [
        "1,000/s",
        "2,000/s",
        "burst: steady 2,000/s",
        "burst: peak 10,000/s",
        "burst: back to 2,000/s",
        "5,000/s",
        "10,000/s",
    ]
    assert plan.profile() == "1000:180,2000:600,2000:120,10000:60,2000:180,5000:300,10000:180"
    assert plan.seconds == 1620
    assert plan.events >= 180_000 + 1_200_000 + 240_000 + 600_000 + 360_000 + 1_500_000 + 1_800_000


def test_the_quick_plan_is_about_two_minutes_of_traffic() -> None:
    plan = Plan.of(parse_profile(QUICK_STEPS), Burst.parse(QUICK_BURST))
    assert plan.seconds == 135
    assert [p.kind for p in plan.phases][0] is Kind.STEP


@pytest.mark.parametrize(
    "text", ["2000:10,10000:5", "2000:10,1000:5,2000:10", "2000:1,9000:1,3000:1"]
)
def test_a_burst_is_steady_peak_steady(text: str) -> None:
    with pytest.raises(ValueError, match="STEADY:S,PEAK:S,STEADY:S"):
        Burst.parse(text)


def test_no_phase_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Plan.of([], None)


def test_the_timeline_needs_every_phase_announced() -> None:
    phases = [Phase(Kind.STEP, 1000, 10), Phase(Kind.STEP, 2000, 10)]
    assert timeline(phases, [100.0, 110.0], 120.5)[1] == Timed(phases[1], 110.0, 120.5)
    with pytest.raises(ValueError, match="announced 1 of 2"):
        timeline(phases, [100.0], 120.0)


def steady(rate: float, seconds: int, processed: float, start: float = 0.0) -> list[Sample]:
    """Samples of a topic fed at ``rate`` and a job committing ``processed`` of it each second."""
    return [Sample(start + t, int(rate * t), int(min(rate, processed) * t)) for t in range(seconds)]


def test_throughput_and_lag_of_a_job_that_keeps_up_and_one_that_does_not() -> None:
    phase = Timed(Phase(Kind.STEP, 2000, 60), 0.0, 60.0)
    kept = steady(2000, 61, 2000)
    assert throughput(kept, 0, 60) == {"published_per_s": 2000.0, "committed_per_s": 2000.0}
    assert lag_verdict(kept, phase)["flat"] is True
    behind = steady(2000, 61, 1500)
    verdict = lag_verdict(behind, phase)
    assert verdict["flat"] is False and verdict["slope_per_s"] == pytest.approx(500, rel=0.01)


def test_the_oldest_record_waits_from_its_publishing_to_the_trigger() -> None:
    samples = steady(1000, 30, 1000)  # offset n is published at n / 1000 s
    first = {"batch_id": 0, "end_offsets": [{"t": {"0": 3000, "1": 2000}}]}
    second = {"batch_id": 1, "trigger_at": "1970-01-01T00:00:07Z", "end_offsets": []}
    # The second batch starts at offset 5,000, published at 5 s; it triggered at 7 s.
    assert oldest_wait_ms(second, [first, second], samples) == pytest.approx(2000)
    assert oldest_wait_ms(first | {"trigger_at": "1970-01-01T00:00:01Z"}, [first], samples) is None


def test_stage_medians_come_from_the_phase_batches_only() -> None:
    def batch(n: int, at: str, total: int) -> dict[str, object]:
        return {
            "batch_id": n,
            "trigger_at": at,
            "input_rows": 100,
            "durations_ms": {"triggerExecution": total, "addBatch": total - 100},
            "sink_stages": {"hot_store": 0.05},
            "end_offsets": [],
        }

    batches = [batch(0, "1970-01-01T00:00:01Z", 900), batch(1, "1970-01-01T00:00:03Z", 700),
               batch(2, "1970-01-01T00:01:30Z", 5000)]  # fmt: skip
    figures = stages(batches, [], 0, 60)
    assert figures["batches"] == 2
    assert figures["spark_ms"] == {"addBatch": 700, "triggerExecution": 800}
    assert figures["sink_ms"] == {"hot_store": 50}


def test_the_burst_drains_when_the_lag_is_back_to_its_steady_level() -> None:
    phases = [Phase(Kind.BURST_BEFORE, 1000, 20), Phase(Kind.BURST_PEAK, 5000, 10),
              Phase(Kind.BURST_AFTER, 1000, 40)]  # fmt: skip
    timed = timeline(phases, [0.0, 20.0, 30.0], 70.0)
    lag = (
        [0] * 20 + [4000 * k for k in range(1, 11)] + [max(0, 40_000 - 2000 * k) for k in range(40)]
    )
    samples = [Sample(float(t), 0, 0) for t in range(70)]
    samples = [Sample(s.at, lag[i], 0) for i, s in enumerate(samples)]
    result = drain(samples, timed)
    assert result is not None
    # Back to within one second of steady traffic (1,000 records) 20 s after the peak ended.
    assert result["seconds"] == pytest.approx(20, abs=1)
    assert result["peak_lag"] == 40_000
