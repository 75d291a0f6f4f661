"""Running a rehearsal: both sides, step by step, timed, then compared and reported."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from adapters.errors import ConfigurationError, StreamkitError
from app.generate import Options, generate
from app.producers.formats import Format
from app.rehearse.diff import Diff, compare
from app.rehearse.outputs import Outputs, collect
from app.rehearse.report import write_reports
from app.rehearse.sides import Kind, Side, clean_up, offline_side, prepare, side_from_env_file
from app.settings import Settings

Progress = Callable[[str], None]
#: Records per micro-batch: large enough that each side takes its input in one
#: batch, so both apply the watermark to the same set (see docs/rehearse.md).
ONE_BATCH = 10_000_000
_STOPPED = re.compile(r"pipeline stopped: ([\d,]+) batches, ([\d,]+) records")
_SENT = re.compile(r"to events topic\s+([\d,]+)")


@dataclass(frozen=True)
class RehearsalOptions:
    """What to rehearse, on what, and where the report goes."""

    source: Kind
    target: Kind
    out_dir: Path
    input: Path | None = None
    fmt: Format = Format.AUTO
    events: int = 20_000
    minutes: int = 60
    seed: int = 42
    source_env: Path | None = None
    target_env: Path | None = None
    partitions: int = 3
    keep: bool = False


@dataclass
class SideRun:
    """One side's run: its bindings, timings (s), counts and outputs."""

    side: Side
    timings: dict[str, float] = field(default_factory=dict)
    sent: int = 0
    batches: int = 0
    records: int = 0
    outputs: Outputs | None = None


@dataclass
class Rehearsal:
    """A finished rehearsal: both runs, the diff, where the report is."""

    options: RehearsalOptions
    input: Path
    runs: list[SideRun]
    diff: Diff
    report_dir: Path
    started: datetime
    cleanup_problems: list[str]


def rehearse(settings: Settings, options: RehearsalOptions, progress: Progress) -> Rehearsal:
    """Replay one input through both sides, run the job on each, compare, report."""
    if options.source == options.target and not (options.source_env or options.target_env):
        msg = "--from and --to name the same binding set; rehearse a move between two"
        raise ConfigurationError(msg)
    started = datetime.now(UTC)
    run_id = f"{started:%H%M%S}{uuid.uuid4().hex[:6]}"
    report_dir = options.out_dir / f"{started:%Y%m%dT%H%M%SZ}-{options.source}-to-{options.target}"
    report_dir.mkdir(parents=True, exist_ok=True)
    data = options.input or _generated_input(options, report_dir, progress)
    runs = [
        SideRun(_side(options.source, options.source_env, settings, run_id, report_dir)),
        SideRun(_side(options.target, options.target_env, settings, run_id, report_dir)),
    ]
    problems: list[str] = []
    try:
        for run in runs:
            prepare_and_feed(run, data, options, progress)
        # The two jobs side by side: each spends most of its time starting Spark.
        with ThreadPoolExecutor(max_workers=len(runs)) as pool:
            for finished in [pool.submit(drain, run, progress) for run in runs]:
                finished.result()
        for run in runs:
            read_back(run, progress)
        diff = compare_runs(runs)
    finally:
        if not options.keep:
            for run in runs:
                problems += clean_up(run.side)
    rehearsal = Rehearsal(options, data, runs, diff, report_dir, started, problems)
    write_reports(rehearsal)
    return rehearsal


def _side(kind: Kind, env_file: Path | None, settings: Settings, run_id: str, dir_: Path) -> Side:
    if env_file is not None:
        return side_from_env_file(kind, env_file, dir_)
    return offline_side(kind, settings, run_id, dir_)


def _generated_input(options: RehearsalOptions, report_dir: Path, progress: Progress) -> Path:
    path = report_dir / "input.csv"
    progress(
        f"generating {options.events:,} events over {options.minutes} min (seed {options.seed};"
        " duplicates, late and malformed records included)"
    )
    generate(Options.over(path, options.events, options.minutes, seed=options.seed))
    return path


def _say(side: Side, progress: Progress, text: str) -> None:
    progress(f"{side.name:<5} | {text}")


def prepare_and_feed(
    run: SideRun, data: Path, options: RehearsalOptions, progress: Progress
) -> None:
    """Create the side's resources and replay ``data`` into its bus."""
    side = run.side
    _say(side, progress, "bindings: " + "; ".join(f"{k} {v}" for k, v in side.bindings.items()))
    began = time.monotonic()
    prepare(side, options.partitions)
    run.timings["prepare"] = time.monotonic() - began
    began = time.monotonic()
    replay = streamkit(
        side, ["replay", str(data), "--rate", "max", "--format", options.fmt.value], "replay"
    )
    run.timings["replay"] = time.monotonic() - began
    if match := _SENT.search(replay):
        run.sent += int(match.group(1).replace(",", ""))
    _say(side, progress, f"replayed {run.sent:,} records in {run.timings['replay']:.1f} s")


def drain(run: SideRun, progress: Progress) -> None:
    """Run the stream job over everything in the side's bus, in one batch when it can."""
    side = run.side
    _say(side, progress, "pipeline --once: starting Spark")
    began = time.monotonic()
    job = streamkit(
        side,
        ["pipeline", "--once"],
        "pipeline",
        STREAMKIT_PIPELINE__MAX_RECORDS_PER_BATCH=str(ONE_BATCH),
    )
    run.timings["pipeline"] = run.timings.get("pipeline", 0.0) + time.monotonic() - began
    if match := _STOPPED.search(job):
        run.batches += int(match.group(1).replace(",", ""))
        run.records += int(match.group(2).replace(",", ""))
    took = run.timings["pipeline"]
    _say(
        side,
        progress,
        f"pipeline: {run.records:,} records in {run.batches} batch(es), {took:.1f} s",
    )


def read_back(run: SideRun, progress: Progress) -> None:
    """Read the side's outputs."""
    began = time.monotonic()
    run.outputs = collect(run.side)
    run.timings["collect"] = time.monotonic() - began
    found = run.outputs
    _say(run.side, progress, f"{len(found.minutes)} minutes, {len(found.sessions)} closed sessions")


def compare_runs(runs: list[SideRun]) -> Diff:
    """The differences of the second side's outputs from the first's."""
    left, right = (r.outputs for r in runs)
    if left is None or right is None:
        msg = "both sides must be read back before they are compared"
        raise StreamkitError(msg)
    return compare(left, right)


def streamkit(side: Side, args: list[str], step: str, **extra: str) -> str:
    """Run ``streamkit args`` with the side's settings; its output, kept in a log file."""
    log = side.workdir / f"{step}.log"
    side.workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **side.env, "PYTHONUNBUFFERED": "1", **extra}
    done = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,
    )
    with log.open("a") as out:  # a later step of the same name appends
        out.write(done.stdout + done.stderr)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-8:])
        command = " ".join(args[:2])
        msg = (
            f"{side.name}: `streamkit {command}` failed (exit {done.returncode}); see {log}\n{tail}"
        )
        raise StreamkitError(msg)
    return done.stdout
