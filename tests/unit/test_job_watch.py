"""``streamkit job watch``'s loop (app.cloudjob.watch), driven by a fake clock: no real waiting.

The Dataproc cases run the real job class against the gRPC stand-in of
:mod:`tests.support.dataproc_fake`; the rest use a job in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters.errors import TransientError
from app.cloudjob.dataproc import DataprocServerlessJob
from app.cloudjob.runs import JobRun
from app.cloudjob.watch import RestartLimitError, Watch, WatchPolicy
from tests.support.dataproc_fake import FakeDataproc, job_batch_request, running_dataproc

PROJECT, NAME = "streamkit-test", "streamkit-dev-job-pipeline"
FIRST, SECOND = f"{NAME}-1", f"{NAME}-2"


def stack_request() -> dict[str, Any]:
    return job_batch_request(PROJECT, "europe-west1", NAME)


@dataclass
class Clock:
    """Monotonic seconds that move only when the loop sleeps."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def dataproc() -> Iterator[FakeDataproc]:
    with running_dataproc() as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


def watching(job: object, clock: Clock, lines: list[str], **policy: float) -> Watch:
    return Watch(
        job,  # type: ignore[arg-type]
        WatchPolicy(**policy),  # type: ignore[arg-type]
        say=lines.append,
        clock=clock,
        sleep=clock.sleep,
    )


def test_a_failed_batch_is_restarted_at_once_then_with_back_off_then_given_up(
    dataproc: FakeDataproc, clock: Clock
) -> None:
    job = DataprocServerlessJob(stack_request(), PROJECT, dataproc.endpoint)
    job.deploy()
    lines: list[str] = []
    watch = watching(job, clock, lines, max_restarts_per_hour=2, backoff_s=30)
    watch.step()
    watch.step()
    assert lines == [f"{FIRST} RUNNING"]  # one line per change of state
    dataproc.fail(FIRST, "Driver died")
    watch.step()
    assert (
        lines[-1] == f"{FIRST} FAILED: Driver died; restarted as {SECOND} PENDING (1/2 this hour)"
    )
    assert clock.slept == [] and list(dataproc.states()) == [FIRST, SECOND]
    clock.now += 600
    dataproc.fail(SECOND)
    watch.step()
    assert clock.slept == [30.0]  # the second restart within the hour waits
    assert dataproc.states()[f"{NAME}-3"] == "PENDING"
    clock.now += 600
    dataproc.fail(f"{NAME}-3")
    with pytest.raises(RestartLimitError, match=r"restarted 2 times in the last hour"):
        watch.step()
    assert len(dataproc.states()) == 3  # gave up: nothing started


def test_the_limit_is_per_rolling_hour(dataproc: FakeDataproc, clock: Clock) -> None:
    job = DataprocServerlessJob(stack_request(), PROJECT, dataproc.endpoint)
    job.deploy()
    watch = watching(job, clock, [], max_restarts_per_hour=1)
    for number in (1, 2, 3):
        dataproc.fail(f"{NAME}-{number}")
        watch.step()
        clock.now += 3600.5  # the last restart is more than an hour old
    assert len(dataproc.states()) == 4 and clock.slept == []


def test_a_stopped_batch_is_left_alone_and_a_lost_one_restarted(
    dataproc: FakeDataproc, clock: Clock
) -> None:
    job = DataprocServerlessJob(stack_request(), PROJECT, dataproc.endpoint)
    lines: list[str] = []
    watch = watching(job, clock, lines)
    watch.step()
    assert lines == [f"no run of {NAME} yet: `streamkit job deploy` starts one"]
    job.deploy()
    watch.step()
    job.stop()
    for _ in range(3):
        watch.step()
    assert list(dataproc.states().items()) == [(FIRST, "CANCELLED")]
    assert lines[-1].startswith(f"{FIRST} CANCELLED: neither failed nor lost, so not restarting")
    job.deploy()
    watch.step()
    dataproc.lose(SECOND)
    watch.step()
    # The lost batch's id is free again, and the next number after the job's remaining ones.
    assert lines[-1] == f"{SECOND} is gone (lost); restarted as {SECOND} PENDING (1/3 this hour)"


@dataclass
class MemoryJob:
    """A job in memory whose reads can fail for a while."""

    name: str = "job"
    where: str = "memory"
    runs_seen: list[JobRun] = field(default_factory=list)
    failures: int = 0
    deploys: int = 0

    def runs(self) -> list[JobRun]:
        if self.failures:
            self.failures -= 1
            msg = "the API did not answer"
            raise TransientError(msg)
        return list(self.runs_seen)

    def deploy(self) -> tuple[JobRun, bool]:
        self.deploys += 1
        run = JobRun(f"run-{self.deploys}", self.name, "RUNNING", "", None, None, True)
        self.runs_seen.insert(0, run)
        return run, True

    def stop(self) -> list[JobRun]:
        return []


def test_a_failed_read_is_reported_once_and_the_loop_goes_on(clock: Clock) -> None:
    job = MemoryJob(failures=2)
    job.runs_seen.append(JobRun("run-0", "job", "FAILED", "OOM", None, None, False))
    lines: list[str] = []
    stops = iter([False] * 6 + [True])  # checked before and after each step
    watch = Watch(
        job,
        WatchPolicy(interval_s=5),
        say=lines.append,
        clock=clock,
        sleep=clock.sleep,
        stopped=lambda: next(stops),
    )
    watch.run()
    assert lines == [
        "could not read the job's runs (the API did not answer); trying again",
        "run-0 FAILED: OOM; restarted as run-1 RUNNING (1/3 this hour)",
    ]
    assert clock.slept == [5, 5, 5] and job.deploys == 1


def test_the_back_off_doubles_up_to_its_cap() -> None:
    policy = WatchPolicy(backoff_s=30, max_backoff_s=100)
    assert [policy.backoff(n) for n in range(5)] == [0, 30, 60, 100, 100]
