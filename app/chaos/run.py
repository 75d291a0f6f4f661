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

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.errors import ConfigurationError, StreamkitError
from app import bootstrap
from app.bench.api import machine
from app.bench.e2e import Sandbox, spawn_replay, write_report
from app.chaos.inject import (
    archive_flag,
    changed_query,
    crash_at,
    dependency_outage,
    restart_and_time,
)
from app.chaos.outages import archive_outage_url
from app.chaos.outcome import Outcome
from app.chaos.readback import KEEP_BATCHES, batch_ends, in_batch_order, outputs
from app.chaos.report import markdown
from app.chaos.scenarios import NAMES, ChaosOptions, Outage, Scenario, scenarios
from app.chaos.scenarios import quick as quick_options
from app.chaos.supervisor import Supervisor
from app.chaos.verify import Outputs, verify
from app.cli.replay import summary_count
from app.generate import Options, generate
from app.settings import Settings
from app.topics import read_topic

Progress = Callable[[str], None]


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
    outcome = Outcome(scenario.name, scenario.description, rate=scenario.rate or options.rate)
    say = _prefixed(progress, scenario.name)
    try:
        traffic = _traffic(sandbox.root / "traffic.csv", scenario, options, say)
        env = {"STREAMKIT_PIPELINE__MAX_RECORDS_PER_BATCH": str(options.batch_cap)}
        env |= options.job_env
        # Every batch's entry must stay in the offset log for the read-back.
        conf = json.loads(env.get("STREAMKIT_SPARK__CONF", "{}")) | KEEP_BATCHES
        env["STREAMKIT_SPARK__CONF"] = json.dumps(conf)
        if scenario.outage is Outage.ARCHIVE:
            flag = archive_flag(sandbox)
            env["STREAMKIT_ARCHIVE_URL"] = archive_outage_url(sandbox.settings.archive_url, flag)
        supervisor = Supervisor(
            sandbox.settings,
            sandbox.events,
            sandbox.checkpoint,
            logs / "job.log",
            progress,
            env=env,
        )
        try:
            _inject(supervisor, sandbox, scenario, options, traffic, logs, outcome, say)
        finally:
            supervisor.stop()
        say("reading the run back and comparing it with the oracle")
        messages = read_topic(sandbox.events)
        outcome.on_topic = len(messages)
        outcome.check_delivery()
        try:
            values, sizes = in_batch_order(
                messages, batch_ends(sandbox.checkpoint, sandbox.events.topic)
            )
        except ValueError as e:  # not drained, or the offset log was purged
            raise StreamkitError(str(e)) from e
        outcome.verdict = verify(_outputs(sandbox), values, sizes)
        say(f"verdict: {outcome.verdict.describe().splitlines()[0]}")
        if scenario.reconcile:
            say("reconciling the hot store with the archive, recomputed")
            _reconcile(sandbox.settings, logs / "reconcile.log", outcome)
    except StreamkitError as e:
        outcome.error = str(e)
        say(f"failed: {e}")
    finally:
        sandbox.close(keep=options.keep, progress=progress)
    return outcome


def _reconcile(settings: Settings, log: Path, outcome: Outcome) -> None:
    """``streamkit reconcile`` over all the run wrote; a difference is a problem of the run."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "reconcile",
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
        ],
        env={**os.environ, **settings.environment()},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    log.write_text(done.stdout + done.stderr)
    lines = done.stdout.strip().splitlines()
    outcome.reconciled = lines[-1] if lines else f"no output (exit {done.returncode})"
    if done.returncode != 0:
        outcome.problems.append(f"reconcile exit {done.returncode}: {outcome.reconciled}")


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
        sandbox.settings, [str(traffic), "--rate", f"{outcome.rate:g}"], replay_log
    )
    try:
        supervisor.wait_batch(supervisor.last_batch() + 2, options.timeout_s)
        for point in scenario.crash_points:
            crash_at(supervisor, point, options, outcome, say)
        for n in range(scenario.kills):
            time.sleep(rng.uniform(1.0, 8.0))  # a random moment of a batch, or between two
            supervisor.kill()
            outcome.faults.append(f"kill -9 #{n + 1} at batch {supervisor.last_batch()}")
            restart_and_time(supervisor, options, outcome, say)
        if scenario.changed_query:
            changed_query(supervisor, sandbox, options, outcome, logs, say)
        if scenario.outage is not None:
            dependency_outage(
                supervisor, sandbox, scenario.outage, scenario.outage_s, options, outcome, say
            )
        if replay.wait(timeout=options.timeout_s) != 0:
            msg = f"the replay failed (exit {replay.returncode}); see {replay_log}"
            raise StreamkitError(msg)
    finally:
        if replay.poll() is None:
            replay.kill()
    output = replay_log.read_text()
    outcome.producer_dead_letters = summary_count(output, "dead-lettered")
    outcome.events_in = summary_count(output, "records read")
    outcome.published = summary_count(output, "to events topic")
    outcome.acknowledged = summary_count(output, "acknowledged")
    outcome.producer_failed = summary_count(output, "failed")
    say("replay done; draining")
    supervisor.recover(time.monotonic(), options.timeout_s)


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
        msg = f"no scenario named {', '.join(options.only)}; known: {', '.join(NAMES)}"
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
