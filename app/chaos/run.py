"""``streamkit chaos``: each scenario on a fresh sandbox, its faults injected, its output judged.

One scenario's run (docs/reliability.md):

1. Traffic: generated with the scenario's fault fractions and a seed, event times ending two
   minutes before now (so none is "in the future").
2. The job starts under a :class:`~app.chaos.supervisor.Supervisor`; the real replay producer
   publishes the traffic at the options' rate.
3. Faults while data flows: each named crash point (the job restarted with the plan, the
   crash awaited), then ``kill -9`` at random moments; after each the job is started again and
   its recovery timed.
4. The job drains the topic and stops; the topic is read back in the order its batches took
   it (the offset log), and :func:`app.chaos.verify.verify` compares every output with the
   oracle's.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.errors import ConfigurationError, StreamkitError
from app import bootstrap
from app.bench.api import machine
from app.bench.e2e import Sandbox, spawn_replay, write_report
from app.chaos.readback import batch_ends, in_batch_order, outputs, read_topic
from app.chaos.report import markdown
from app.chaos.scenarios import ChaosOptions, Scenario, scenarios
from app.chaos.scenarios import quick as quick_options
from app.chaos.supervisor import Supervisor
from app.chaos.verify import Outputs, Verdict, verify
from app.cli.replay import summary_count
from app.generate import Options, generate
from app.pipeline.crash import Point
from app.settings import Settings

Progress = Callable[[str], None]


@dataclass
class Outcome:
    """One scenario's row of the report."""

    scenario: str
    description: str
    faults: list[str] = field(default_factory=list)
    recoveries_s: list[float] = field(default_factory=list)
    events_in: int = 0
    on_topic: int = 0
    producer_dead_letters: int = 0
    verdict: Verdict | None = None
    error: str = ""

    def passed(self, recovery_limit_s: float) -> bool:
        """No error, no difference, and every recovery within the limit."""
        return (
            not self.error
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
            "events_in": self.events_in,
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
            "error": self.error,
            "passed": self.passed(recovery_limit_s),
        }


def run_scenario(
    settings: Settings,
    scenario: Scenario,
    options: ChaosOptions,
    report_dir: Path,
    progress: Progress,
) -> Outcome:
    """Run one scenario in its own sandbox; its logs go under ``report_dir/<scenario>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = report_dir / scenario.name
    logs.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox.create(
        settings, stamp, settings.state_dir / "chaos" / stamp, prefix=f"chaos_{scenario.name[:8]}"
    )
    outcome = Outcome(scenario.name, scenario.description)
    say = _prefixed(progress, scenario.name)
    try:
        traffic = _traffic(sandbox.root / "traffic.csv", scenario, options, say)
        supervisor = Supervisor(
            sandbox.settings,
            sandbox.events,
            sandbox.checkpoint,
            logs / "job.log",
            progress,
            env={
                "STREAMKIT_PIPELINE__MAX_RECORDS_PER_BATCH": str(options.batch_cap),
                **options.job_env,
            },
        )
        try:
            _inject(supervisor, sandbox, scenario, options, traffic, logs, outcome, say)
        finally:
            supervisor.stop()
        say("reading the run back and comparing it with the oracle")
        messages = read_topic(sandbox.events)
        outcome.on_topic = len(messages)
        values, sizes = in_batch_order(
            messages, batch_ends(sandbox.checkpoint, sandbox.events.topic)
        )
        outcome.verdict = verify(_outputs(sandbox), values, sizes)
        say(f"verdict: {outcome.verdict.describe().splitlines()[0]}")
    except StreamkitError as e:
        outcome.error = str(e)
        say(f"failed: {e}")
    finally:
        sandbox.close(keep=options.keep, progress=progress)
    return outcome


def _prefixed(progress: Progress, name: str) -> Progress:
    return lambda line: progress(f"chaos    | {name}: {line}")


def _traffic(path: Path, scenario: Scenario, options: ChaosOptions, say: Progress) -> Path:
    start = (datetime.now(UTC) - timedelta(minutes=options.minutes + 2)).replace(microsecond=0)
    say(
        f"generating {options.events:,} events over {options.minutes} minutes (seed {options.seed})"
    )
    generate(
        Options.over(
            path,
            options.events,
            options.minutes,
            seed=options.seed,
            start=start,
            fractions=scenario.fractions,
        )
    )
    return path


def _inject(
    supervisor: Supervisor,
    sandbox: Sandbox,
    scenario: Scenario,
    options: ChaosOptions,
    traffic: Path,
    logs: Path,
    outcome: Outcome,
    say: Progress,
) -> None:
    rng = random.Random(options.seed)  # noqa: S311 - reproducible moments, not secrets
    supervisor.start()
    supervisor.wait_started(options.timeout_s)
    replay_log = logs / "replay.log"
    replay = spawn_replay(
        sandbox.settings, [str(traffic), "--rate", f"{options.rate:g}"], replay_log
    )
    try:
        supervisor.wait_batch(supervisor.last_batch() + 2, options.timeout_s)
        for point in scenario.crash_points:
            _crash_at(supervisor, point, options, outcome, say)
        for n in range(scenario.kills):
            time.sleep(rng.uniform(1.0, 8.0))  # a random moment of a batch, or between two
            supervisor.kill()
            outcome.faults.append(f"kill -9 #{n + 1} at batch {supervisor.last_batch()}")
            _restart_and_time(supervisor, options, outcome, say)
        if replay.wait(timeout=options.timeout_s) != 0:
            msg = f"the replay failed (exit {replay.returncode}); see {replay_log}"
            raise StreamkitError(msg)
    finally:
        if replay.poll() is None:
            replay.kill()
    output = replay_log.read_text()
    outcome.producer_dead_letters = summary_count(output, "dead-lettered")
    outcome.events_in = summary_count(output, "records read")
    say("replay done; draining")
    supervisor.recover(time.monotonic(), options.timeout_s)


def _crash_at(
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
    _restart_and_time(supervisor, options, outcome, say)


def _restart_and_time(
    supervisor: Supervisor, options: ChaosOptions, outcome: Outcome, say: Progress
) -> None:
    started = supervisor.start()
    seconds = supervisor.recover(started, options.timeout_s)
    outcome.recoveries_s.append(seconds)
    say(f"{outcome.faults[-1]}: recovered in {seconds:.1f} s")


def _outputs(sandbox: Sandbox) -> Outputs:
    hot = bootstrap.hot_store(sandbox.settings)
    try:
        return outputs(
            hot, bootstrap.archive(sandbox.settings), sandbox.deadletter, sandbox.events.url
        )
    finally:
        hot.close()


def run_chaos(
    settings: Settings, options: ChaosOptions, *, quick: bool, progress: Progress
) -> Path:
    """Every scenario in turn; returns the report directory (``bench/results/<time>-chaos``)."""
    started = datetime.now(UTC)
    report_dir = options.out / f"{started.strftime('%Y%m%dT%H%M%SZ')}-chaos"
    report_dir.mkdir(parents=True, exist_ok=True)
    if quick:
        options = quick_options(options)
    chosen = scenarios(options, quick=quick)
    if not chosen:
        msg = f"no scenario named {', '.join(options.only)}; known: job-kills, floods"
        raise ConfigurationError(msg)
    rows = []
    for scenario in chosen:
        progress(f"chaos    | {scenario.name}: {scenario.description}")
        outcome = run_scenario(settings, scenario, options, report_dir, progress)
        rows.append(outcome.row(options.recovery_limit_s))
    summary = {
        "started": started.isoformat(timespec="seconds"),
        "machine": _machine_line(),
        "options": {k: v for k, v in asdict(options).items() if k not in {"out", "only"}}
        | {"quick": quick},
        "scenarios": rows,
        "passed": all(r["passed"] for r in rows),
    }
    write_report(report_dir, summary, markdown(summary))
    return report_dir


def _machine_line() -> str:
    m = machine()
    return f"{m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, {m['os']}"
