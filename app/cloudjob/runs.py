"""What ``streamkit job`` knows of a cloud's stream job, whichever cloud runs it.

EMR Serverless calls them job runs, Dataproc Serverless batches: either way a
run is one start of the job, and at most one may be active at a time, since
two jobs writing one checkpoint would corrupt it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class JobRun:
    """One start of the job, as the cloud reports it."""

    run_id: str
    name: str
    state: str  # the cloud's own state name (RUNNING, FAILED, CANCELLED, ...)
    details: str
    created: datetime | None
    updated: datetime | None
    #: True while the run holds the checkpoint, or is about to, or is still letting go of it.
    active: bool

    @property
    def failed(self) -> bool:
        """True when the run ended in an error (not stopped, not finished)."""
        return self.state == "FAILED"


class CloudJob(Protocol):
    """The stack's job on one cloud: list, start (at most one active run), stop."""

    @property
    def name(self) -> str:
        """The job's name: what its runs are found by."""
        ...

    @property
    def where(self) -> str:
        """Where its runs live, for messages (an application, a project and region)."""
        ...

    def runs(self) -> list[JobRun]:
        """The job's runs, newest first."""
        ...

    def deploy(self) -> tuple[JobRun, bool]:
        """Start the job unless a run is active: the run, and whether it was started now."""
        ...

    def stop(self) -> list[JobRun]:
        """Cancel every active run; the runs cancelled (the checkpoint stays)."""
        ...


def newest_first(runs: list[JobRun]) -> list[JobRun]:
    """``runs`` sorted by creation time, newest first (runs without one last)."""
    return sorted(runs, key=lambda r: r.created.timestamp() if r.created else 0.0, reverse=True)
