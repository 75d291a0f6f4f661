"""``streamkit bench backfill``: the producer alone at ``--rate max``, then the job over a backlog.

Two targets of docs/performance.md that the end-to-end run cannot measure, because it paces
the traffic: how fast the replay producer publishes when nothing holds it back, and how fast
``streamkit pipeline --once`` works through a backlog already on the bus (a restart after an
outage, or a first run over a day of data).

In a sandbox on the local stack (:class:`app.bench.e2e.Sandbox`, removed afterwards unless
``keep``):

1. Traffic is generated (no faults), its event times ending a few minutes before now.
2. The replay publishes it at ``--rate max`` ``producer_runs`` times: the first run to the
   sandbox's events topic, which becomes the backlog; the others to a scratch topic, so the
   backlog holds each event once. The rate is each run's own (the replay's summary line).
3. ``streamkit pipeline --once`` drains the backlog. Its rate is the input rows over the span
   of its batches with data (from the job's progress log); the wall-clock rate, Spark's start
   and planning included, is reported beside it.
4. Every event is accounted for: counted in the minute documents, archived, dead-lettered.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from adapters.errors import StreamkitError
from adapters.ports import OffsetsBus
from app import bootstrap
from app.bench import analysis
from app.bench.api import RESULTS, machine
from app.bench.e2e import Sandbox, fault_free_traffic, write_report
from app.cli.replay import summary_count, summary_elapsed
from app.pipeline.documents import KPI_MINUTES
from app.pipeline.sinks import EVENTS
from app.settings import Settings

Progress = Callable[[str], None]
#: docs/performance.md's targets on the 2-core machine (events/s).
PRODUCER_TARGET = 50_000
BACKFILL_TARGET = 30_000


@dataclass(frozen=True)
class BackfillOptions:
    """How much traffic, how many producer runs, which job settings."""

    events: int = 1_000_000
    producer_runs: int = 3
    out: Path = RESULTS
    keep: bool = False
    #: Extra STREAMKIT_* settings of the job (e.g. its batch cap), recorded in the report.
    job_env: dict[str, str] = field(default_factory=dict)
    label: str = ""
    #: The longest ``pipeline --once`` may take before the benchmark gives up on it.
    job_timeout_s: float = 1_800.0


def bench_backfill(settings: Settings, options: BackfillOptions, progress: Progress) -> Path:
    """Run the benchmark; returns its report directory."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report_dir = options.out / f"{stamp}-backfill"
    report_dir.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox.create(settings, stamp, settings.state_dir / "bench" / stamp)
    scratch = _scratch_topic(sandbox.settings)
    progress(f"bench    | sandbox: topics {sandbox.events.topic}, {scratch.topic}")
    try:
        traffic = _traffic(sandbox.root, options.events, progress)
        runs = [_replay(sandbox.settings, traffic, report_dir, 1, progress)]
        scratch_settings = sandbox.settings.model_copy(update={"bus_url": scratch.url})
        for run in range(2, options.producer_runs + 1):
            runs.append(_replay(scratch_settings, traffic, report_dir, run, progress))
        job = _drain(sandbox.settings, options, report_dir, progress)
        summary = _summarize(sandbox, options, runs, job)
    finally:
        with suppress(StreamkitError):
            scratch.delete()
        scratch.close()
        sandbox.close(keep=options.keep, progress=progress)
    write_report(report_dir, summary, markdown(summary))
    return report_dir


def _scratch_topic(settings: Settings) -> OffsetsBus:
    """A third topic for the producer's extra runs, so the backlog holds each event once."""
    url = urlsplit(settings.bus_url)
    scratch = bootstrap.bus(
        settings.model_copy(
            update={"bus_url": urlunsplit(url._replace(path=f"{url.path}_producer"))}
        )
    )
    if not isinstance(scratch, OffsetsBus):  # Sandbox.create has checked the binding
        msg = "the backfill benchmark needs a bus that reports its end offsets (Kafka)"
        raise StreamkitError(msg)
    scratch.ensure(3)
    return scratch


def _traffic(root: Path, events: int, progress: Progress) -> Path:
    """Generated traffic at about 2,000 events/s, ending a few minutes before now.

    Recent, so that the hot store's retention keeps every minute; in the past, so that no event
    is "in the future" to the job's validation.
    """
    path = root / "traffic.csv"
    minutes = max(1, round(events / 120_000))
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes + 5)
    progress(f"bench    | generating {events:,} events over {minutes} minutes from {start:%H:%M}")
    return fault_free_traffic(path, events, minutes, start)


def _replay(
    settings: Settings, traffic: Path, report_dir: Path, run: int, progress: Progress
) -> dict[str, Any]:
    """One ``streamkit replay --rate max``; its own figures from its summary lines."""
    log = report_dir / f"replay-{run}.log"
    command = [sys.executable, "-m", "app.cli", "replay", str(traffic), "--rate", "max"]
    with log.open("wb") as out:
        done = subprocess.run(  # noqa: S603 - our own console script
            command,
            env={**os.environ, **settings.environment(), "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    text = log.read_text()
    if done.returncode != 0:
        msg = f"the replay failed (exit {done.returncode}); see {log}"
        raise StreamkitError(msg)
    result = {
        "run": run,
        "topic": urlsplit(settings.bus_url).path.lstrip("/"),
        "published": summary_count(text, "to events topic"),
        "failed": summary_count(text, "failed"),
        **summary_elapsed(text),
    }
    progress(
        f"bench    | producer run {run}: {result['published']:,} events in "
        f"{result['seconds']:.1f} s, {result['rate']:,.0f} events/s"
    )
    return result


def _drain(
    settings: Settings, options: BackfillOptions, report_dir: Path, progress: Progress
) -> dict[str, Any]:
    """``streamkit pipeline --once`` over the backlog, timed from outside."""
    progress_log = report_dir / "batches.jsonl"
    env = {
        "STREAMKIT_PIPELINE__PROGRESS_LOG": str(progress_log),
        "STREAMKIT_PIPELINE__OPERATOR_PROFILE": str(report_dir / "operator.jsonl"),
        **options.job_env,
    }
    log = report_dir / "job.log"
    progress(f"bench    | streamkit pipeline --once over the backlog (log: {log})")
    started = time.time()
    with log.open("wb") as out:
        job = subprocess.Popen(  # noqa: S603 - our own console script
            [sys.executable, "-m", "app.cli", "pipeline", "--once"],
            env={**os.environ, **settings.environment(), **env, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _watch(job, progress_log, options.job_timeout_s, progress)
        finally:
            if job.poll() is None:  # the JVM too: it runs in the job's process group
                os.killpg(job.pid, signal.SIGKILL)
                job.wait()
    wall = time.time() - started
    if job.returncode != 0:
        msg = f"streamkit pipeline --once failed (exit {job.returncode}); see {log}"
        raise StreamkitError(msg)
    return {
        "wall_s": wall,
        "batches": analysis.json_lines(progress_log),
        "operator": analysis.json_lines(report_dir / "operator.jsonl"),
        "job_env": env,
    }


def _watch(
    job: subprocess.Popen[bytes], progress_log: Path, timeout_s: float, progress: Progress
) -> None:
    """Until the job exits: a status line every 15 s from its progress log."""
    deadline = time.monotonic() + timeout_s
    while job.poll() is None:
        if time.monotonic() > deadline:
            msg = f"streamkit pipeline --once ran past {timeout_s:.0f} s"
            raise StreamkitError(msg)
        with suppress(subprocess.TimeoutExpired):
            job.wait(timeout=15)
        batches = analysis.json_lines(progress_log)
        rows = sum(b.get("input_rows", 0) for b in batches)
        progress(f"bench    | job: {len(batches)} batches, {rows:,} rows so far")


def drain_rate(batches: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Rows over the span of the batches with data: first trigger to the last batch's end."""
    working = [b for b in batches if b.get("input_rows")]
    if not working:
        return {"rows": 0, "batches": 0, "seconds": None, "rate": None}
    first = analysis.epoch(working[0]["trigger_at"])
    last = working[-1]
    end = analysis.epoch(last["trigger_at"]) + last["batch_duration_ms"] / 1000
    rows = sum(int(b["input_rows"]) for b in working)
    seconds = end - first
    return {
        "rows": rows,
        "batches": len(working),
        "seconds": round(seconds, 2),
        "rate": round(rows / seconds, 1) if seconds > 0 else None,
        "rows_per_batch": statistics.median(int(b["input_rows"]) for b in working),
        "batch_ms": statistics.median(b["batch_duration_ms"] for b in working),
        "stages_ms": {
            name: statistics.median(b["durations_ms"].get(name, 0) for b in working)
            for name in ("latestOffset", "queryPlanning", "addBatch", "walCommit", "commitOffsets")
        },
        "sinks_ms": {
            name: round(statistics.median(b["sink_stages"].get(name, 0) for b in working) * 1000)
            for name in ("dead_letters", "hot_store", "archive")
        },
    }


def _summarize(
    sandbox: Sandbox,
    options: BackfillOptions,
    runs: list[dict[str, Any]],
    job: dict[str, Any],
) -> dict[str, Any]:
    drained = drain_rate(job["batches"])
    operator = analysis.operator(job["operator"], 0.0, float("inf"))
    rates = [r["rate"] for r in runs]
    backlog = runs[0]["published"]
    summary: dict[str, Any] = {
        "benchmark": "backfill",
        "label": options.label,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "conditions": {
            "events": options.events,
            "max_records_per_batch": _batch_cap(sandbox.settings, job["job_env"]),
            "spark_master": sandbox.settings.spark.master,
            "job_env": {
                k: v
                for k, v in job["job_env"].items()
                if not k.endswith(("PROGRESS_LOG", "OPERATOR_PROFILE"))
            },
        },
        "producer": {
            "runs": runs,
            "median_rate": statistics.median(rates),
            "target": PRODUCER_TARGET,
            "met": statistics.median(rates) >= PRODUCER_TARGET,
        },
        "backfill": {
            **drained,
            "wall_s": round(job["wall_s"], 1),
            "wall_rate": round(backlog / job["wall_s"], 1),
            "operator_ms": operator,
            "target": BACKFILL_TARGET,
            "met": (drained["rate"] or 0) >= BACKFILL_TARGET,
        },
        "accounts": _accounts(sandbox, backlog, runs[0]["failed"]),
    }
    return summary


def _batch_cap(settings: Settings, job_env: Mapping[str, str]) -> int:
    cap = job_env.get("STREAMKIT_PIPELINE__MAX_RECORDS_PER_BATCH")
    return int(cap) if cap else settings.pipeline.max_records_per_batch


def _accounts(sandbox: Sandbox, backlog: int, failed: int) -> dict[str, Any]:
    """Every event of the backlog counted once and archived once, nothing dead-lettered."""
    store = bootstrap.hot_store(sandbox.settings)
    try:
        minutes = store.find_range(KPI_MINUTES, "minute")
    finally:
        store.close()
    counted = sum(int(m.get("events", 0)) for m in minutes)
    late = sum(int(m.get("late_dropped", 0)) for m in minutes)
    dead = sum(sandbox.deadletter.end_offsets().values())
    first = min((analysis.epoch(m["minute"]) for m in minutes), default=0.0)
    last = max((analysis.epoch(m["minute"]) for m in minutes), default=0.0) + 60
    archived = (
        bootstrap.archive(sandbox.settings)
        .read(
            EVENTS,
            datetime.fromtimestamp(first, UTC),
            datetime.fromtimestamp(last, UTC),
            time_column="event_time",
        )
        .num_rows
    )
    on_topic = sum(sandbox.events.end_offsets().values())
    return {
        "backlog": backlog,
        "on_topic": on_topic,
        "minutes": len(minutes),
        "counted": counted,
        "archived": archived,
        "late_dropped": late,
        "dead_lettered": dead,
        "zero_loss": not failed and counted == archived == backlog == on_topic,
    }


def markdown(summary: Mapping[str, Any]) -> str:
    """The report as a markdown page."""
    m, c = summary["machine"], summary["conditions"]
    producer, backfill, accounts = summary["producer"], summary["backfill"], summary["accounts"]
    label = f" ({summary['label']})" if summary["label"] else ""
    lines = [
        f"# Producer and backfill benchmark, {summary['at']}{label}",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, {m['os']}. "
        f"Job: Spark `{c['spark_master']}`, at most {c['max_records_per_batch']:,} records a "
        f"batch; settings {c['job_env'] or 'default'}.",
        "",
        "## The replay producer alone, `--rate max`",
        "",
        "| run | topic | events | s | events/s |",
        "|---|---|---|---|---|",
        *(
            f"| {r['run']} | {r['topic']} | {r['published']:,} | {r['seconds']:.1f} | "
            f"{r['rate']:,.0f} |"
            for r in producer["runs"]
        ),
        "",
        f"Median **{producer['median_rate']:,.0f} events/s**; target ≥ {producer['target']:,}: "
        + _verdict(producer["met"], producer["median_rate"], producer["target"]),
        "",
        "## `streamkit pipeline --once` over the backlog",
        "",
        f"{backfill['rows']:,} rows in {backfill['batches']} batches over "
        f"{backfill['seconds']} s of batches: **{backfill['rate'] or 0:,.0f} events/s**; "
        f"{backfill['wall_rate']:,.0f} events/s over the command's {backfill['wall_s']} s wall "
        f"clock (Spark's start included). Target ≥ {backfill['target']:,}: "
        + _verdict(backfill["met"], backfill["rate"] or 0, backfill["target"]),
        "",
    ]
    if backfill["batches"]:
        stages = " · ".join(f"{k} {v:,.0f}" for k, v in backfill["stages_ms"].items())
        sinks = " · ".join(f"{k} {v:,}" for k, v in backfill["sinks_ms"].items())
        inside = " · ".join(f"{k} {v:,}" for k, v in backfill["operator_ms"].items())
        lines += [
            f"Per batch (medians): {backfill['rows_per_batch']:,.0f} rows, "
            f"{backfill['batch_ms']:,.0f} ms. Spark's phases (ms): {stages}. "
            f"Sinks (ms): {sinks}.",
            "",
            f"Inside the stream operator (ms; sizes): {inside}.",
            "",
        ]
    lines += [
        "## Accounts",
        "",
        f"{accounts['backlog']:,} events in the backlog, {accounts['on_topic']:,} on the topic; "
        f"{accounts['counted']:,} counted in {accounts['minutes']} minutes, "
        f"{accounts['archived']:,} archived, {accounts['late_dropped']:,} late, "
        f"{accounts['dead_lettered']:,} dead-lettered. Zero loss: **{accounts['zero_loss']}**.",
        "",
    ]
    return "\n".join(lines)


def _verdict(met: bool, value: float, target: float) -> str:
    if met:
        return "**met**."
    return f"**missed** by {target - value:,.0f} events/s ({value / target:.0%} of it)."
