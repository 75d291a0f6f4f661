"""One run's whole output (hot store, archive, dead letters) against the oracle, as a verdict.

The checks the end-to-end tests assert and ``streamkit chaos`` reports: every minute's KPIs
and every closed session equal the oracle's; each rejected record is dead-lettered once and
counted in its minute; the archive holds exactly the counted events (each once), the late
ones, the hot store's sessions and its final minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pandas as pd

from app.chaos.compare import COUNTED, Differences, compare_minutes, compare_sessions
from app.chaos.oracle import closed, compute
from app.events.contract import Event
from app.events.rejects import validate


@dataclass(frozen=True)
class Outputs:
    """What a run left behind, read back from its stores.

    Attributes:
        minutes: every document of ``kpi_minutes``.
        sessions: every document of ``sessions``.
        archived: each archive dataset's rows (``events``, ``late_events``, ``sessions``,
            ``kpi_minutes``).
        dead_letters: the dead-letter topic's records (JSON-decoded).
        bus_url: the events topic's URL (its scheme names the job's dead letters' source).
    """

    minutes: pd.DataFrame
    sessions: pd.DataFrame
    archived: dict[str, pd.DataFrame]
    dead_letters: list[dict[str, object]]
    bus_url: str


@dataclass(frozen=True)
class Verdict:
    """The comparisons of one run: counts for a report, and what failed."""

    records: int
    rejected: int
    counted: int
    late_dropped: int
    #: Sessions the oracle has closed by the end of the data: those compared.
    closed_sessions: int
    minutes: Differences
    sessions: Differences
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No difference and no failed check."""
        return self.minutes.ok and self.sessions.ok and not self.failures

    @property
    def differences(self) -> int:
        """One number for a report: KPI and session differences plus failed checks."""
        return self.minutes.total + self.sessions.total + len(self.failures)

    def describe(self) -> str:
        """What differs, for an assertion message or a report."""
        if self.ok:
            return "no differences"
        return "\n".join(
            [
                f"minutes: {self.minutes.describe()}",
                f"sessions: {self.sessions.describe()}",
                *self.failures,
            ]
        )


def verify(outputs: Outputs, values: Sequence[bytes], sizes: Sequence[int]) -> Verdict:
    """Compare ``outputs`` with the oracle over ``values`` read in batches of ``sizes``.

    ``values`` are the raw records in the order the job's batches took them (its offset
    log says which records each batch held, so lateness follows the batches exactly).
    """
    oracle = compute(list(values), batch_sizes=list(sizes))
    minutes = outputs.minutes
    failures: list[str] = []
    events = [e for e in map(validate, values) if isinstance(e, Event)]
    rejected = len(values) - len(events)

    def check(condition: bool, message: str) -> None:
        if not condition:
            failures.append(message)

    check(minutes["minute"].is_unique, "kpi_minutes holds a minute twice")
    dead_counted = int(minutes["deadlettered"].sum())
    check(dead_counted == rejected, f"{dead_counted} dead letters counted, {rejected} rejected")
    source = f"{urlsplit(outputs.bus_url).scheme}:"
    from_job = {
        d["dead_letter_id"] for d in outputs.dead_letters if str(d["source"]).startswith(source)
    }
    check(len(from_job) == rejected, f"{len(from_job)} dead letters from the job, {rejected} due")

    last_time = pd.Timestamp(max(e.event_time for e in events))
    sessions = compare_sessions(outputs.sessions, oracle, last_time)

    counted = int(minutes["events"].sum())
    events = outputs.archived["events"]
    check(len(events) == counted, f"{len(events)} events archived, {counted} counted")
    check(events["event_id"].is_unique, "an event archived twice")
    late = len(outputs.archived["late_events"])
    late_dropped = int(minutes["late_dropped"].sum())
    check(late == late_dropped, f"{late} late events archived, {late_dropped} counted late")
    archived_ids = sorted(outputs.archived["sessions"]["session_id"])
    check(
        archived_ids == sorted(outputs.sessions["session_id"]),
        "the archived sessions are not the hot store's",
    )
    failures += _final_minutes(minutes, outputs.archived["kpi_minutes"])
    return Verdict(
        records=len(values),
        rejected=rejected,
        counted=counted,
        late_dropped=late_dropped,
        closed_sessions=len(closed(oracle.sessions, last_time)),
        minutes=compare_minutes(minutes, oracle),
        sessions=sessions,
        failures=failures,
    )


def _final_minutes(minutes: pd.DataFrame, final: pd.DataFrame) -> list[str]:
    """The archive's final minutes are the hot store's, with the same counts."""
    if not final["minute"].is_unique:
        return ["the archive holds a final minute twice"]
    if not final["final"].all():
        return ["the archive holds a minute not marked final"]
    hot_final = minutes[minutes["final"]].set_index("minute")
    final = final.set_index(pd.to_datetime(final["minute"], utc=True))
    hot_final.index = pd.to_datetime(hot_final.index, utc=True)
    if set(final.index) != set(hot_final.index):
        return ["the archive's final minutes are not the hot store's"]
    # Late events may still reach a final minute: only late_dropped may move after archiving.
    kpis = [c for c in COUNTED if c != "late_dropped"]
    archived = final.sort_index()[kpis].to_numpy(dtype="int64")
    if not (archived == hot_final.sort_index()[kpis].to_numpy(dtype="int64")).all():
        return ["an archived final minute differs from the hot store's"]
    return []
