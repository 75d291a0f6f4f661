"""``streamkit bench`` (end to end): replay → Kafka → the stream job → hot store → API, measured.

One run, in its own sandbox on the running local stack: fresh topics, a fresh hot-store
database, checkpoint and archive (removed afterwards unless ``keep``), so nothing of a user's
data is read or touched and every record counted is the benchmark's.

1. Traffic is generated (``streamkit generate``, no faults: those are the chaos suite's) and
   replayed by the real producer, as one rate profile (:mod:`app.bench.plan`) with
   ``--timing send``: every event happens when it is sent, whatever the rate.
2. The job runs as ``streamkit pipeline`` with a progress log (each batch's timings), the API as
   ``streamkit api``. A marker probe sends one marker a second and reads it back through the API
   (:mod:`app.bench.probe`); a sampler records the backlog and each service's CPU and memory
   every second (:mod:`app.bench.sampler`).
3. During the step at ``api_during`` events/s, vegeta loads the API at ``api_rate`` requests/s.
4. After the traffic, the job drains; then every record is accounted for (counted, late,
   dead-lettered, or lost) and :mod:`app.bench.analysis` turns the recordings into figures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from adapters.errors import ConfigurationError, StreamkitError
from adapters.ports import OffsetsBus
from app import bootstrap
from app.bench import analysis, vegeta
from app.bench.api import RESULTS, machine
from app.bench.backlog import committed_offsets
from app.bench.plan import Kind, Plan
from app.bench.probe import MarkerProbe
from app.bench.report import markdown, targets
from app.bench.sampler import Sample, Sampler
from app.bench.usage import TreeSampler
from app.cli.replay import summary_count
from app.demo import BackgroundJob
from app.generate import Options, generate
from app.generate.faults import Fractions
from app.localstack.paths import StackPaths
from app.localstack.processes import running_record
from app.pipeline.documents import JOB_COLLECTIONS, KPI_MINUTES
from app.pipeline.sinks import EVENTS
from app.serve import ApiProcess
from app.settings import Settings

Progress = Callable[[str], None]
_STEP_LINE = re.compile(r"^step (\d+)/(\d+) at (\S+):")
#: Noon: the generator's load curve is flat there (the times are replaced anyway).
_NOON = datetime(2026, 1, 1, 12, tzinfo=UTC)


@dataclass(frozen=True)
class E2eOptions:
    """What to run and how long."""

    plan: Plan
    api_rate: float = 200.0
    api_seconds: float = 60.0
    #: The rate of the step during which the API is loaded; None: no API load.
    api_during: float | None = 2_000.0
    #: The job's trigger interval; None: the settings' (STREAMKIT_PIPELINE__TRIGGER_SECONDS).
    trigger_seconds: float | None = None
    drain_timeout_s: float = 600.0
    out: Path = RESULTS
    keep: bool = False
    #: Extra STREAMKIT_* settings of the job (the levers tried, recorded in the report).
    job_env: dict[str, str] = field(default_factory=dict)
    label: str = ""


@dataclass
class Sandbox:
    """The benchmark's own topics, database, checkpoint and archive on the local stack."""

    settings: Settings
    events: OffsetsBus
    deadletter: OffsetsBus
    root: Path

    @classmethod
    def create(cls, base: Settings, stamp: str, root: Path, prefix: str = "bench") -> Sandbox:
        """Fresh topics (3 partitions, as ``events_raw``) and a database named after ``stamp``."""
        name = f"{prefix}_{stamp.lower()}"
        bus, dead = urlsplit(base.bus_url), urlsplit(base.deadletter_url)
        if bus.scheme != "kafka":
            msg = (
                f"the end-to-end benchmark runs on the local Kafka binding, not {bus.scheme}://; "
                "unset STREAMKIT_BUS_URL or point it at kafka://"
            )
            raise ConfigurationError(msg)
        hot = urlsplit(base.hot_store_url.get_secret_value())
        settings = base.model_copy(
            update={
                "bus_url": urlunsplit(bus._replace(path=f"/{name}_events")),
                "deadletter_url": urlunsplit(dead._replace(path=f"/{name}_deadletter")),
                "hot_store_url": SecretStr(urlunsplit(hot._replace(path=f"/{name}"))),
                "archive_url": (root / "archive").as_uri(),
                "checkpoint_dir": str(root / "checkpoints"),
            }
        )
        events, deadletter = bootstrap.bus(settings), bootstrap.deadletter(settings)
        if not isinstance(events, OffsetsBus) or not isinstance(deadletter, OffsetsBus):
            msg = "the end-to-end benchmark needs a bus that reports its end offsets (Kafka)"
            raise ConfigurationError(msg)
        events.ensure(3)
        deadletter.ensure(1)
        return cls(settings, events, deadletter, root)

    @property
    def checkpoint(self) -> Path:
        """The job's checkpoint (``<checkpoint dir>/pipeline``)."""
        return self.root / "checkpoints" / "pipeline"

    def close(self, *, keep: bool, progress: Progress) -> None:
        """Remove the sandbox, or with ``keep`` say where it stays."""
        if keep:
            progress(f"bench    | kept the sandbox: {self.root}")
        else:
            self.remove()

    def remove(self) -> None:
        """Delete the topics, the database's collections and the files."""
        for bus in (self.events, self.deadletter):
            with suppress(StreamkitError):
                bus.delete()
            bus.close()
        store = bootstrap.hot_store(self.settings)
        try:
            for collection in JOB_COLLECTIONS:
                with suppress(StreamkitError):
                    store.drop(collection)
        finally:
            store.close()
        shutil.rmtree(self.root, ignore_errors=True)


def bench_e2e(settings: Settings, options: E2eOptions, progress: Progress) -> Path:
    """Run the benchmark; returns its report directory."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report_dir = options.out / f"{stamp}-e2e"
    report_dir.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox.create(settings, stamp, settings.state_dir / "bench" / stamp)
    progress(f"bench    | sandbox: topics {sandbox.events.topic}, {sandbox.deadletter.topic}")
    try:
        traffic = _traffic(sandbox.root, options.plan, progress)
        recorded = _run(sandbox, options, traffic, report_dir, progress)
        summary = _summarize(sandbox, options, recorded, report_dir)
    finally:
        sandbox.close(keep=options.keep, progress=progress)
    write_report(report_dir, summary, markdown(summary))
    return report_dir


def write_report(report_dir: Path, summary: dict[str, Any], page: str) -> None:
    """``summary.json`` (the figures) and ``summary.md`` (``page``, for people)."""
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (report_dir / "summary.md").write_text(page)


def _traffic(root: Path, plan: Plan, progress: Progress) -> Path:
    path = root / "traffic.csv"
    minutes = max(1, round(plan.seconds / 60))
    progress(f"bench    | generating {plan.events:,} events of traffic ({plan.seconds:,.0f} s)")
    return fault_free_traffic(path, plan.events, minutes, _NOON)


def fault_free_traffic(path: Path, events: int, minutes: int, start: datetime) -> Path:
    """Generated traffic without faults (those are the chaos suite's), new event ids each run."""
    seed = int(time.time()) % 1_000_000_000
    no_faults = Fractions(0, 0, 0, 0, 0)
    generate(Options.over(path, events, minutes, seed=seed, start=start, fractions=no_faults))
    return path


@dataclass
class Recorded:
    """Everything measured during the run, before analysis."""

    starts: list[float]
    traffic_end: float
    drained: bool
    sampler: Sampler
    probe: MarkerProbe
    replay_output: str
    api: dict[str, Any] | None
    batches: list[dict[str, Any]]
    job_env: dict[str, str]
    operator: list[dict[str, Any]] = field(default_factory=list)


def _run(
    sandbox: Sandbox, options: E2eOptions, traffic: Path, report_dir: Path, progress: Progress
) -> Recorded:
    settings = sandbox.settings
    progress_log = report_dir / "batches.jsonl"
    job_env = {
        "STREAMKIT_PIPELINE__PROGRESS_LOG": str(progress_log),
        "STREAMKIT_PIPELINE__OPERATOR_PROFILE": str(report_dir / "operator.jsonl"),
        **options.job_env,
    }
    if options.trigger_seconds is not None:
        job_env["STREAMKIT_PIPELINE__TRIGGER_SECONDS"] = f"{options.trigger_seconds:g}"
    job = BackgroundJob(
        settings, progress, env=job_env, log_path=report_dir / "job.log", forward_batches=False
    )
    api: ApiProcess | None = None
    probe: MarkerProbe | None = None
    sampler: Sampler | None = None
    replay: subprocess.Popen[bytes] | None = None
    try:
        job.wait_started()
        # No rate limit: the probe and the load come from one address, far above the default.
        api = ApiProcess(settings, report_dir / "api.log", {"STREAMKIT_API__RATE_LIMIT": ""})
        sampler = Sampler(
            sandbox.events, sandbox.checkpoint, TreeSampler(_roots(settings, job, api))
        )
        probe = MarkerProbe(sandbox.events, sandbox.deadletter, api.url)
        probe.start()
        sampler.start()
        progress("bench    | markers flowing; waiting for the job's first batches (cold start)")
        job.wait_batches(2)
        replay_log = report_dir / "replay.log"
        replay = _start_replay(settings, traffic, options.plan, replay_log)
        sampler.services.add("replay", replay.pid)
        loader = _ApiLoad(settings, options, api.url, replay_log, progress)
        loader.start()
        _watch(replay, job, sampler, replay_log, options.plan, progress)
        traffic_end = time.time()
        probe.stop_sending()
        drained = _drain(sampler, job, options.drain_timeout_s, progress)
        time.sleep(3.0)  # the last markers' polls
        loader.join()
        return Recorded(
            starts=_step_starts(replay_log.read_text()),
            traffic_end=traffic_end,
            drained=drained,
            sampler=sampler,
            probe=probe,
            replay_output=replay_log.read_text(),
            api=loader.result,
            batches=analysis.json_lines(progress_log),
            operator=analysis.json_lines(report_dir / "operator.jsonl"),
            job_env=job_env,
        )
    finally:
        if replay is not None and replay.poll() is None:
            replay.kill()
        if probe is not None:
            probe.stop()
        if sampler is not None:
            sampler.stop()
        job.stop()
        if api is not None:
            api.stop()


def _roots(settings: Settings, job: BackgroundJob, api: ApiProcess) -> dict[str, int]:
    roots = {"job": job.process.pid, "api": api.process.pid}
    paths = StackPaths.of(settings)
    for service in ("kafka", "mongo"):
        record = running_record(paths.pid_file(service))
        if record is not None:
            roots[service] = record.pid
    return roots


def _start_replay(
    settings: Settings, traffic: Path, plan: Plan, log: Path
) -> subprocess.Popen[bytes]:
    return spawn_replay(
        settings, [str(traffic), "--profile", plan.profile(), "--timing", "send"], log
    )


def spawn_replay(settings: Settings, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``streamkit replay ARGS`` on ``settings``' ports, in its own process group, into ``log``."""
    command = [sys.executable, "-m", "app.cli", "replay", *args]
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own console script
            command,
            env={**os.environ, **settings.environment(), "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _step_starts(replay_output: str) -> list[float]:
    """The wall-clock start of each profile step the replay announced."""
    starts = []
    for line in replay_output.splitlines():
        if match := _STEP_LINE.match(line):
            starts.append(datetime.fromisoformat(match.group(3)).timestamp())
    return starts


def _watch(
    replay: subprocess.Popen[bytes],
    job: BackgroundJob,
    sampler: Sampler,
    replay_log: Path,
    plan: Plan,
    progress: Progress,
) -> None:
    """Until the replay ends: a status line every 15 s; a dead job stops the benchmark."""
    deadline = time.monotonic() + plan.seconds + 120
    while replay.poll() is None:
        if not job.running():
            msg = f"the stream job exited during the benchmark; see {job.log_path}"
            raise StreamkitError(msg)
        if time.monotonic() > deadline:
            msg = f"the replay ran past its profile's {plan.seconds:.0f} s; see {replay_log}"
            raise StreamkitError(msg)
        with suppress(subprocess.TimeoutExpired):
            replay.wait(timeout=15)
        step = len(_step_starts(replay_log.read_text()))
        samples = sampler.samples[-16:]
        if step and len(samples) >= 2:
            rate = (samples[-1].published - samples[0].published) / (samples[-1].at - samples[0].at)
            phase = plan.phases[min(step, len(plan.phases)) - 1]
            progress(
                f"bench    | {phase.name} ({step}/{len(plan.phases)}): published "
                f"{rate:,.0f}/s · backlog {samples[-1].lag:,} · {job.batches} batches"
            )
    if replay.returncode != 0:
        msg = f"the replay failed (exit {replay.returncode}); see {replay_log}"
        raise StreamkitError(msg)


def _drain(sampler: Sampler, job: BackgroundJob, timeout_s: float, progress: Progress) -> bool:
    """Until the job has committed everything published; False if it did not in time."""
    progress("bench    | traffic done; waiting for the job to drain the backlog")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and job.running():
        last = sampler.samples[-1] if sampler.samples else None
        if last is not None and last.at > time.time() - 3 and last.lag == 0:
            return True
        time.sleep(1.0)
    progress(f"bench    | the job did not drain within {timeout_s:.0f} s")
    return False


class _ApiLoad(threading.Thread):
    """vegeta against the API during the step at ``api_during`` events/s (from 10 % into it)."""

    def __init__(
        self,
        settings: Settings,
        options: E2eOptions,
        api_url: str,
        replay_log: Path,
        progress: Progress,
    ) -> None:
        super().__init__(name="api-load", daemon=True)
        self.result: dict[str, Any] | None = None
        self._settings, self._options = settings, options
        self._url, self._replay_log, self._progress = api_url, replay_log, progress

    def run(self) -> None:
        options = self._options
        index = next(
            (i for i, p in enumerate(options.plan.phases)
             if p.kind is Kind.STEP and p.rate == options.api_during),
            None,
        )  # fmt: skip
        if index is None:
            return
        phase = options.plan.phases[index]
        while len(_step_starts(self._replay_log.read_text())) <= index:
            time.sleep(0.5)
            if not self._replay_log.exists():
                return
        time.sleep(0.1 * phase.seconds)
        seconds = min(options.api_seconds, 0.8 * phase.seconds)
        self._progress(
            f"bench    | loading the API: {options.api_rate:.0f} requests/s of "
            f"/kpis?minutes_back=60 for {seconds:.0f} s, during {phase.name}"
        )
        try:
            load = vegeta.binary(StackPaths.of(self._settings).bin)
            report = vegeta.attack(
                load, f"{self._url}/kpis?minutes_back=60", options.api_rate, seconds
            )
        except StreamkitError as e:
            self.result = {"error": str(e)}
            return
        self.result = {
            "during": phase.name,
            "rate": options.api_rate,
            "seconds": seconds,
            **vegeta.summary(report),
        }


def _summarize(
    sandbox: Sandbox, options: E2eOptions, recorded: Recorded, report_dir: Path
) -> dict[str, Any]:
    from app.bench.plots import draw

    timed = analysis.timeline(options.plan.phases, recorded.starts, recorded.traffic_end)
    samples = recorded.sampler.samples
    markers = recorded.probe.markers.latencies()
    store = bootstrap.hot_store(sandbox.settings)
    try:
        minutes = store.find_range(KPI_MINUTES, "minute")
    finally:
        store.close()
    phases: list[dict[str, Any]] = []
    for t in timed:
        phases.append(
            {
                "name": t.phase.name,
                "kind": t.phase.kind.value,
                "rate": t.phase.rate,
                "seconds": round(t.end - t.start, 1),
                "throughput": analysis.throughput(samples, t.start, t.end),
                "latency_ms": analysis.histogram_latency(minutes, t.start, t.end),
                "marker_latency_ms": analysis.marker_latency(markers, t.start, t.end),
                "lag": analysis.lag_verdict(samples, t),
                "stages": analysis.stages(recorded.batches, samples, t.start, t.end),
                "operator_ms": analysis.operator(recorded.operator, t.start, t.end),
                "usage": analysis.usage(samples, t.start, t.end),
            }
        )
    accounts = _accounts(sandbox, recorded, minutes)
    per_minute = [(analysis.epoch(m["minute"]) + 30, analysis.minute_p95(m)) for m in minutes]
    plots = draw(report_dir, timed, samples, markers, per_minute)
    _keep_recordings(report_dir, samples, markers)
    summary: dict[str, Any] = {
        "benchmark": "e2e",
        "label": options.label,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "conditions": _conditions(sandbox.settings, options, recorded),
        "profile": options.plan.profile(),
        "phases": phases,
        "sustained_rate": max(
            (p["rate"] for p in phases if p["kind"] == Kind.STEP.value and p["lag"]["flat"]),
            default=None,
        ),
        "burst": analysis.drain(samples, timed),
        "api": recorded.api,
        "accounts": accounts,
        "drained": recorded.drained,
        "samples": len(samples),
        "sample_errors": recorded.sampler.errors,
        "marker_poll_errors": recorded.probe.markers.poll_errors,
        "plots": [p.name for p in plots],
    }
    summary["targets"] = targets(summary)
    return summary


def _keep_recordings(
    report_dir: Path, samples: list[Sample], markers: list[tuple[float, float | None]]
) -> None:
    """The raw per-second samples and marker latencies, for analysing the run again."""
    with (report_dir / "samples.jsonl").open("w") as out:
        for s in samples:
            usage = {k: [u.cpu_percent, u.rss_mib] for k, u in s.usage.items()}
            out.write(json.dumps([s.at, s.published, s.committed, usage]) + "\n")
    with (report_dir / "markers.jsonl").open("w") as out:
        for at, seconds in markers:
            out.write(json.dumps([at, seconds]) + "\n")


def _accounts(
    sandbox: Sandbox, recorded: Recorded, minutes: list[dict[str, Any]]
) -> dict[str, Any]:
    """Where every record went: counted, late, dead-lettered or lost."""
    replayed = summary_count(recorded.replay_output, "to events topic")
    failed = summary_count(recorded.replay_output, "failed")
    markers = recorded.probe.count
    counted = sum(int(m.get("events", 0)) for m in minutes)
    late = sum(int(m.get("late_dropped", 0)) for m in minutes)
    dead = sum(sandbox.deadletter.end_offsets().values())
    published = sum(sandbox.events.end_offsets().values())
    first = min((analysis.epoch(m["minute"]) for m in minutes), default=0.0)
    last = max((analysis.epoch(m["minute"]) for m in minutes), default=0.0) + 60
    archive = bootstrap.archive(sandbox.settings)
    archived = archive.read(
        EVENTS,
        datetime.fromtimestamp(first, UTC),
        datetime.fromtimestamp(last, UTC),
        time_column="event_time",
    ).num_rows
    sent = replayed + markers
    # What the job had committed when it stopped (read after it did): every record of that
    # comes out as counted, late or dead-lettered, whether the job drained or not.
    committed = sum(committed_offsets(sandbox.checkpoint, sandbox.events.topic).values())
    lost = committed - counted - late - dead
    return {
        "replayed": replayed,
        "replay_failed": failed,
        "markers": markers,
        "on_topic": published,
        "committed": committed,
        "uncommitted": published - committed,
        "counted": counted,
        "archived": archived,
        "late_dropped": late,
        "dead_lettered": dead,
        "lost": lost,
        "zero_loss": recorded.drained
        and lost == 0
        and counted == sent == published == archived
        and not failed,
    }


def _conditions(settings: Settings, options: E2eOptions, recorded: Recorded) -> dict[str, Any]:
    trigger = options.trigger_seconds or settings.pipeline.trigger_seconds
    return {
        "trigger_seconds": trigger,
        "max_records_per_batch": settings.pipeline.max_records_per_batch,
        "spark_master": settings.spark.master,
        "job_env": {
            k: v
            for k, v in recorded.job_env.items()
            if not k.endswith(("PROGRESS_LOG", "OPERATOR_PROFILE"))
        },
        "hot_store_server": "mongod" if shutil.which("mongod") else "FerretDB (SQLite)",
        "api_cache_s": settings.api.cache_s,
        "marker_lead_minutes": 3,
    }
