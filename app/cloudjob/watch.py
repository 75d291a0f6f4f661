"""Restart the stream job when it fails: a supervisor loop over a cloud job's runs.

Every ``interval_s`` it reads the job's runs. When none is active and the
newest one FAILED, or the run it last saw active has vanished from the list
(lost), it deploys again: at once the first time in an hour, then after a
back-off that doubles, and never more than ``max_restarts_per_hour`` times in
any rolling hour; past that it gives up with :class:`RestartLimitError`, since a
job that keeps failing needs a person. A run that was cancelled (``streamkit
job stop``) or finished is left alone. It says one line per change of state.

The clock and the sleep are parameters, so tests drive it without waiting;
``stopped`` ends the loop between two steps (the CLI sets it on Ctrl-C or
SIGTERM, and its sleep returns early then).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from adapters.errors import TerminalError, TransientError
from app.cloudjob.runs import CloudJob, JobRun

HOUR_S = 3600.0


class RestartLimitError(TerminalError):
    """The job failed again after the most restarts an hour allows."""


@dataclass(frozen=True)
class WatchPolicy:
    """How often to look, and how hard to try."""

    interval_s: float = 60.0
    max_restarts_per_hour: int = 3
    backoff_s: float = 30.0  # before the second restart within an hour; doubles after
    max_backoff_s: float = 600.0

    def backoff(self, recent: int) -> float:
        """The wait before a restart when ``recent`` restarts happened in the last hour."""
        if recent == 0:
            return 0.0
        return float(min(self.backoff_s * 2 ** (recent - 1), self.max_backoff_s))


class Watch:
    """The supervisor loop over one job."""

    def __init__(
        self,
        job: CloudJob,
        policy: WatchPolicy,
        *,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        """Watch ``job``; ``say`` prints a line, ``sleep`` may return early once ``stopped``."""
        self.job, self.policy = job, policy
        self.say, self.clock, self.sleep, self.stopped = say, clock, sleep, stopped
        self.restarts: list[float] = []  # clock times of the restarts this watch made
        self._last_active: str | None = None
        self._last_line = ""

    def run(self) -> None:
        """Watch until ``stopped``; raises :class:`RestartLimitError` or a terminal error."""
        while not self.stopped():
            self.step()
            if not self.stopped():
                self.sleep(self.policy.interval_s)

    def step(self) -> None:
        """Look once; restart when the job failed or was lost."""
        try:
            runs = self.job.runs()
        except TransientError as e:
            self._tell(f"could not read the job's runs ({e}); trying again")
            return
        active = [r for r in runs if r.active]
        if active:
            self._last_active = active[0].run_id
            self._tell(f"{active[0].run_id} {active[0].state}")
            return
        newest = runs[0] if runs else None
        if newest is not None and newest.failed:
            self._restart(f"{newest.run_id} FAILED: {newest.details}".rstrip(": "))
        elif self._last_active is not None and self._last_active not in {r.run_id for r in runs}:
            self._restart(f"{self._last_active} is gone (lost)")
        elif newest is not None:
            self._tell(
                f"{newest.run_id} {newest.state}: neither failed nor lost, so not restarting"
                " (`streamkit job deploy` starts the job again)"
            )
        else:
            self._tell(f"no run of {self.job.name} yet: `streamkit job deploy` starts one")

    def _restart(self, why: str) -> None:
        now = self.clock()
        self.restarts = [t for t in self.restarts if now - t < HOUR_S]
        limit = self.policy.max_restarts_per_hour
        if len(self.restarts) >= limit:
            msg = (
                f"{why}; giving up: the job was restarted {len(self.restarts)} times in the last"
                f" hour (--max-restarts-per-hour {limit}). Read the run's logs, fix the cause,"
                " then `streamkit job deploy` (and start `watch` again)"
            )
            raise RestartLimitError(msg)
        delay = self.policy.backoff(len(self.restarts))
        if delay:
            self._tell(f"{why}; restarting in {delay:.0f} s")
            self.sleep(delay)
            if self.stopped():
                return
        try:
            run, started = self.job.deploy()
        except TransientError as e:
            self._tell(f"{why}; restarting failed ({e}); trying again")
            return
        self._started(why, run, started)

    def _started(self, why: str, run: JobRun, started: bool) -> None:
        self._last_active = run.run_id
        if started:
            self.restarts.append(self.clock())
            count = f"{len(self.restarts)}/{self.policy.max_restarts_per_hour} this hour"
            self._tell(f"{why}; restarted as {run.run_id} {run.state} ({count})")
        else:
            self._tell(f"{run.run_id} {run.state} (started by someone else)")

    def _tell(self, line: str) -> None:
        if line != self._last_line:
            self._last_line = line
            self.say(line)
