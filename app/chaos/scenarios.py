"""The chaos scenarios: what traffic, which faults, and how long recovery may take.

Counts, rates and durations are :class:`ChaosOptions` settings, so ``--quick`` runs the
same scenarios small enough for CI.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from app.bench.api import RESULTS
from app.generate.faults import Fractions
from app.pipeline.crash import Point

#: Traffic with the faults a consumer must survive anyway, at a low level.
EVERYDAY = Fractions(
    duplicates=0.01, out_of_order=0.02, late_within=0.005, late_beyond=0.002, malformed=0.002
)
#: Floods (issue 8, scenario 5): 20 % duplicates; bursts 5-8 min late (counted) and 12+ min
#: late (late_dropped); 5 % malformed records of every kind.
FLOODS = Fractions(
    duplicates=0.20, out_of_order=0.02, late_within=0.03, late_beyond=0.03, malformed=0.05
)


class Outage(StrEnum):
    """A dependency of the job that goes away while data flows, then comes back."""

    #: ``kill -9`` of the Kafka broker's process group, started again after the downtime.
    BROKER = "broker"
    #: ``kill -9`` of the MongoDB-wire server, started again after the downtime.
    HOT_STORE = "hot store"
    #: Every archive call fails (``fault.outage_file`` on the job's archive URL): we run as
    #: root, so taking permissions away would block nothing.
    ARCHIVE = "archive"


@dataclass(frozen=True)
class Scenario:
    """One run on a fresh sandbox: traffic with ``fractions``, then these faults."""

    name: str
    description: str
    fractions: Fractions = EVERYDAY
    #: ``kill -9`` of the job's process group at random moments, each followed by a restart.
    kills: int = 0
    #: Named crash points, each hit once in a batch that holds data.
    crash_points: tuple[Point, ...] = ()
    #: A dependency down for ``outage_s`` while the job runs (it must wait, not exit).
    outage: Outage | None = None
    outage_s: float = 0.0
    #: Stop the job, start it reading another topic on the same checkpoint (it must refuse,
    #: leaving the checkpoint as it was), then start it unchanged again.
    changed_query: bool = False
    #: Events/s of the replay when not the options' rate (None): slower, so that data
    #: still flows at the last of many kills.
    rate: float | None = None
    #: After the verdict, ``streamkit reconcile`` over everything the run wrote must find the
    #: hot store equal to the archive recomputed by the job's operator (docs/operations.md).
    reconcile: bool = False


@dataclass(frozen=True)
class ChaosOptions:
    """How big and how long; ``quick`` picks the CI subset's sizes."""

    events: int = 120_000
    #: Event-time span of the traffic: sessions (30 min gap) must close within it.
    minutes: int = 60
    #: Events/s of the replay while faults are injected.
    rate: float = 1_000.0
    kills: int = 20
    #: How long the broker stays dead between its ``kill -9`` and its start.
    broker_down_s: float = 5.0
    hot_store_down_s: float = 60.0
    archive_down_s: float = 30.0
    #: Records a batch takes at most. Small, as in steady flow (2,000/s with a 1 s trigger):
    #: event time then moves on batch by batch and the watermark drops late events, whenever
    #: the job happens to start; one big catch-up batch would see nothing late.
    batch_cap: int = 2_000
    seed: int = 42
    recovery_limit_s: float = 60.0
    timeout_s: float = 900.0
    only: tuple[str, ...] = ()
    out: Path = RESULTS
    keep: bool = False
    job_env: dict[str, str] = field(default_factory=dict)


def quick(options: ChaosOptions) -> ChaosOptions:
    """The CI subset's sizes: smaller traffic, faster, one kill, the hot store down 30 s."""
    return replace(options, events=40_000, minutes=50, rate=2_000.0, kills=1, hot_store_down_s=30)


#: Every scenario's name, in run order.
NAMES = ("job-kills", "broker-kill", "hot-store-down", "archive-down", "floods", "changed-query")
#: The CI subset: issue 8's (one job kill, one broker kill, the hot store down, the floods)
#: and the changed query, whose refusal nothing else checks on the real stack.
QUICK = ("job-kills", "broker-kill", "hot-store-down", "floods", "changed-query")


#: Seconds one random kill takes, about: the random wait (1-8 s) and the restart of Spark.
SECONDS_PER_KILL = 45.0
#: Seconds one crash point takes, about: a restart with the plan, the crash, a restart.
SECONDS_PER_CRASH_POINT = 70.0


def kills_rate(options: ChaosOptions, crash_points: int) -> float:
    """The replay's rate that spreads the traffic over every kill (at most the options' rate)."""
    seconds = options.kills * SECONDS_PER_KILL + crash_points * SECONDS_PER_CRASH_POINT
    return min(options.rate, options.events / seconds) if seconds else options.rate


def scenarios(options: ChaosOptions, *, quick: bool) -> list[Scenario]:
    """The scenarios of a run: all (or :data:`QUICK`), narrowed by ``options.only``."""
    points = () if quick else (Point.AFTER_HOT_STORE, Point.DURING_ARCHIVE, Point.AFTER_ARCHIVE)
    every = [
        Scenario(
            "job-kills",
            f"kill -9 of the job's process group at {options.kills} random moment(s)"
            + (f" and at the crash points {', '.join(p.value for p in points)}" if points else "")
            + ", restarted each time",
            kills=options.kills,
            crash_points=points,
            rate=None if quick else round(kills_rate(options, len(points)), 1),
            reconcile=True,
        ),
        Scenario(
            "broker-kill",
            f"kill -9 of the Kafka broker while the replay publishes, started again after "
            f"{options.broker_down_s:g} s; the producer and the job reconnect unaided",
            outage=Outage.BROKER,
            outage_s=options.broker_down_s,
        ),
        Scenario(
            "hot-store-down",
            f"the MongoDB-wire server killed for {options.hot_store_down_s:g} s while data "
            "flows; the job waits and catches up, /health says degraded meanwhile",
            outage=Outage.HOT_STORE,
            outage_s=options.hot_store_down_s,
        ),
        Scenario(
            "archive-down",
            f"every archive write fails for {options.archive_down_s:g} s while data flows",
            outage=Outage.ARCHIVE,
            outage_s=options.archive_down_s,
        ),
        Scenario(
            "floods",
            "20 % duplicates, bursts 5-8 min late (counted) and 12-45 min late (dropped), "
            "5 % malformed records of every kind",
            fractions=FLOODS,
            reconcile=True,
        ),
        Scenario(
            "changed-query",
            "the job stopped and started reading another topic on its old checkpoint: refused "
            "with the fix named, checkpoint untouched; then the unchanged job carries on",
            changed_query=True,
        ),
    ]
    wanted = options.only or (QUICK if quick else NAMES)
    return [s for s in every if s.name in wanted]
