"""The faults a scenario injects while data flows, each followed by a timed recovery.

Crash points and kills restart the job (:class:`~app.chaos.supervisor.Supervisor`); an outage
takes a dependency away and brings it back (:mod:`app.chaos.outages`); a changed query is a
start the job must refuse. Each appends to the scenario's :class:`~app.chaos.outcome.Outcome`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from adapters.errors import StreamkitError
from adapters.registry import open_bus
from app.bench.e2e import Sandbox
from app.chaos.outages import CHECKED_BY_HEALTH, HealthProbe, settle, take_down
from app.chaos.outcome import Outcome
from app.chaos.scenarios import ChaosOptions, Outage
from app.chaos.supervisor import Supervisor, checkpoint_digest
from app.pipeline.crash import Point

Progress = Callable[[str], None]


def archive_flag(sandbox: Sandbox) -> Path:
    """While this file exists, the job's archive calls fail (``fault.outage_file``)."""
    return sandbox.root / "archive-outage"


def crash_at(
    supervisor: Supervisor, point: Point, options: ChaosOptions, outcome: Outcome, say: Progress
) -> None:
    """Restart the job with a crash planned two batches on, await the crash, restart it."""
    supervisor.kill()
    batch = supervisor.last_batch() + 2
    supervisor.start(crash_at=f"{point.value}@{batch}")
    if supervisor.wait_exit(options.timeout_s):
        outcome.faults.append(f"crash point {point.value} at batch {batch}")
    else:
        supervisor.kill()
        outcome.faults.append(f"kill -9 (crash point {point.value} not reached by batch {batch})")
    restart_and_time(supervisor, options, outcome, say)


def dependency_outage(
    supervisor: Supervisor,
    sandbox: Sandbox,
    outage: Outage,
    seconds: float,
    options: ChaosOptions,
    outcome: Outcome,
    say: Progress,
) -> None:
    """The dependency down for ``seconds`` while data flows; recovery timed from its return."""
    probe = HealthProbe(sandbox) if outage in CHECKED_BY_HEALTH else None
    try:
        at = supervisor.last_batch()
        say(f"{outage.value} down for {seconds:g} s")
        record = take_down(
            outage,
            seconds,
            sandbox,
            supervisor,
            archive_flag(sandbox),
            say,
            sandbox.settings.local.start_timeout_s,
            probe,
        )
        outcome.outage = record
        outcome.faults.append(f"{outage.value} down {record.down_s:.1f} s from batch {at}")
        recovery = supervisor.recover(time.monotonic(), options.timeout_s)
        outcome.recoveries_s.append(recovery)
        say(f"{outcome.faults[-1]}: recovered in {recovery:.1f} s")
        if probe is not None:
            settle(record, probe, options.recovery_limit_s)
            say(f"/health during: {record.health_during}; after: {record.health_after}")
        outcome.problems += record.problems(outage)
    finally:
        if probe is not None:
            probe.close()


def changed_query(
    supervisor: Supervisor,
    sandbox: Sandbox,
    options: ChaosOptions,
    outcome: Outcome,
    logs: Path,
    say: Progress,
) -> None:
    """Stop the job; a start reading another topic on its checkpoint must be refused."""
    supervisor.stop()
    before = checkpoint_digest(sandbox.checkpoint)
    other = f"{sandbox.events.topic}_changed"
    url = urlunsplit(urlsplit(sandbox.settings.bus_url)._replace(path=f"/{other}"))
    changed = open_bus(url)
    changed.ensure(3)
    try:
        say(f"starting the job on topic {other} with the old checkpoint")
        log_from = supervisor.log_path.stat().st_size
        supervisor.start(env={"STREAMKIT_BUS_URL": url})
        refused = supervisor.wait_exit(options.timeout_s)
        if not refused:
            supervisor.kill()
        code = supervisor.job.process.returncode if supervisor.job else None
        said = supervisor.log_path.read_text(errors="replace")[log_from:]
        at = supervisor.last_batch()
        outcome.faults.append(f"changed query (topic {other}) at batch {at}, exit {code}")
        if not refused or code == 0:
            outcome.problems.append(f"the changed query was not refused (exit {code})")
        elif "written by another query" not in said or "--reset" not in said:
            outcome.problems.append(f"the refusal does not name the fix; see {logs / 'job.log'}")
        outcome.notes += [line for line in said.splitlines() if line.startswith("error:")]
        if checkpoint_digest(sandbox.checkpoint) != before:
            outcome.problems.append("the refused start changed the checkpoint")
        say(f"refused (exit {code}); problems: {outcome.problems or 'none'}")
    finally:
        with suppress(StreamkitError):
            changed.delete()
        changed.close()
    restart_and_time(supervisor, options, outcome, say)


def restart_and_time(
    supervisor: Supervisor, options: ChaosOptions, outcome: Outcome, say: Progress
) -> None:
    """Start the job again and time its recovery (after the fault ``outcome.faults[-1]``)."""
    started = supervisor.start()
    seconds = supervisor.recover(started, options.timeout_s)
    outcome.recoveries_s.append(seconds)
    say(f"{outcome.faults[-1]}: recovered in {seconds:.1f} s")
