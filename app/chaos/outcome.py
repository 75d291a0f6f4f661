"""One scenario's outcome: its faults, recoveries and counts, judged against the expectations."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from app.chaos.outages import OutageRecord
from app.chaos.verify import Verdict


@dataclass
class Outcome:
    """One scenario's row of the report."""

    scenario: str
    description: str
    faults: list[str] = field(default_factory=list)
    recoveries_s: list[float] = field(default_factory=list)
    #: Events/s the replay published at.
    rate: float = 0.0
    events_in: int = 0
    on_topic: int = 0
    producer_dead_letters: int = 0
    #: The replay's summary: events handed to the events topic, acknowledgements (both
    #: topics) and failed deliveries.
    published: int = 0
    acknowledged: int = 0
    producer_failed: int = 0
    outage: OutageRecord | None = None
    #: Expectations other than the oracle's that were not met (lost events, /health).
    problems: list[str] = field(default_factory=list)
    #: What the job said when it was meant to refuse (a changed query).
    notes: list[str] = field(default_factory=list)
    verdict: Verdict | None = None
    #: What ``streamkit reconcile`` said of the run (scenarios that ask for it).
    reconciled: str = ""
    error: str = ""

    def check_delivery(self) -> None:
        """No acknowledged event missing from the topic, none written twice, none failed."""
        acknowledged_events = self.acknowledged - self.producer_dead_letters
        if self.producer_failed:
            failed = self.producer_failed
            self.problems.append(f"the producer reported {failed:,} failed deliveries")
        if self.on_topic < acknowledged_events:
            missing = acknowledged_events - self.on_topic
            self.problems.append(f"{missing:,} acknowledged events are not on the topic")
        if self.on_topic > self.published:
            extra = self.on_topic - self.published
            self.problems.append(f"{extra:,} events are on the topic twice (producer retries)")

    def passed(self, recovery_limit_s: float) -> bool:
        """No error, no problem, no difference, and every recovery within the limit."""
        return (
            not self.error
            and not self.problems
            and self.verdict is not None
            and self.verdict.ok
            and all(r <= recovery_limit_s for r in self.recoveries_s)
        )

    def row(self, recovery_limit_s: float) -> dict[str, Any]:
        """The report's figures (JSON)."""
        v = self.verdict
        return {
            "scenario": self.scenario,
            "description": self.description,
            "faults_injected": len(self.faults),
            "faults": self.faults,
            "replay_rate": self.rate,
            "events_in": self.events_in,
            "published": self.published,
            "acknowledged": self.acknowledged,
            "producer_failed": self.producer_failed,
            "on_topic": self.on_topic,
            "counted": v.counted if v else None,
            "dead_letters": (v.rejected if v else 0) + self.producer_dead_letters,
            "dead_letters_by_producer": self.producer_dead_letters,
            "late_dropped": v.late_dropped if v else None,
            "closed_sessions_compared": v.closed_sessions if v else None,
            "differences": v.differences if v else None,
            "difference_detail": v.describe() if v and not v.ok else "",
            "recovery_s": {
                "median": round(statistics.median(self.recoveries_s), 1),
                "max": round(max(self.recoveries_s), 1),
                "limit": recovery_limit_s,
            }
            if self.recoveries_s
            else None,
            "outage": asdict(self.outage) if self.outage else None,
            "reconcile": self.reconciled or None,
            "problems": self.problems,
            "notes": self.notes,
            "error": self.error,
            "passed": self.passed(recovery_limit_s),
        }
