"""``streamkit bench api``: the API's latency under load, against the real hot store, job running.

Two phases of the same open-loop load (default 200 requests/s of
``GET /kpis?minutes_back=60``): first while the stream job processes a
replay at 2,000 events/s (the condition the target is set for), then with
the job stopped (the API alone). The difference is what the job's CPU and
writes cost the API on this machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from adapters.urls import mask_url
from app import bootstrap
from app.bench import vegeta
from app.demo import DEMO_RATE, BackgroundJob, fresh_input
from app.localstack.paths import StackPaths
from app.localstack.processes import running_record
from app.pipeline.documents import KPI_MINUTES
from app.serve import ApiProcess
from app.settings import PROJECT_ROOT, Settings

Progress = Callable[[str], None]

#: Where reports go: one directory per run.
RESULTS = PROJECT_ROOT / "bench" / "results"
#: Seconds of traffic the replay has (the demo's file holds 3 minutes at 2,000/s).
_REPLAY_S = 170
#: The issue's target for p99 at 200 requests/s with the pipeline running.
TARGET_P99_MS = 25.0


@dataclass(frozen=True)
class ApiBenchOptions:
    """What to load and for how long."""

    rate: float = 200.0
    seconds: float = 60.0
    warmup_s: float = 20.0
    path: str = "/kpis?minutes_back=60"
    out: Path = RESULTS


def bench_api(settings: Settings, options: ApiBenchOptions, progress: Progress) -> Path:
    """Run both phases; returns the report directory."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report_dir = options.out / f"{stamp}-api"
    report_dir.mkdir(parents=True, exist_ok=True)
    load = vegeta.binary(StackPaths.of(settings).bin)
    traffic = fresh_input(settings, progress)
    with hot_store_deprioritized(settings, progress):
        phases = _run_phases(settings, options, load, traffic, report_dir, progress)
    summary = _summary(settings, options, phases)
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (report_dir / "summary.md").write_text(markdown(summary))
    return report_dir


def _run_phases(
    settings: Settings,
    options: ApiBenchOptions,
    load: Path,
    traffic: Path,
    report_dir: Path,
    progress: Progress,
) -> dict[str, dict[str, Any]]:
    """The job, the replay and the API started; the loaded phase, then the job stopped."""
    if nice := settings.pipeline.nice:
        progress(f"bench    | the job, the replay and the hot-store server run at nice {nice}")
    job = BackgroundJob(settings, progress)
    api: ApiProcess | None = None
    phases: dict[str, dict[str, Any]] = {}
    try:
        job.wait_started()
        # The whole traffic file (about 3 minutes); stopped after the loaded phase.
        limit = int(_REPLAY_S * DEMO_RATE)
        # A process of its own: in this one, the producer's Python work would
        # hold the GIL against the load generator's event loop.
        replay = _start_replay(settings, traffic, limit, report_dir / "replay.log")
        # No rate limit: the load comes from one address, far above the default.
        api = ApiProcess(settings, report_dir / "api.log", {"STREAMKIT_API__RATE_LIMIT": ""})
        progress(f"bench    | warming up {options.warmup_s:.0f} s while the replay starts")
        time.sleep(options.warmup_s)
        # Not before the job is in its stride: its first batch (cold JVM, the
        # backlog of the warm-up) is not the steady state the target is for.
        job.wait_batches(2)
        phases["pipeline_running"] = _phase(api, options, load, progress)
        phases["pipeline_running"]["replay_ran_throughout"] = replay.poll() is None
        replay.send_signal(signal.SIGINT)  # Ctrl-C: it flushes what it sent and exits
        replay.wait(timeout=60)
        job.stop()
        phases["pipeline_stopped"] = _phase(api, options, load, progress)
    finally:
        if api is not None:
            api.stop()
        job.stop()
        traffic.unlink(missing_ok=True)
    return phases


@contextmanager
def hot_store_deprioritized(settings: Settings, progress: Progress) -> Iterator[None]:
    """Run the local hot-store server at the job's priority for the benchmark.

    On two cores, the server's work during a batch is almost all the job's
    writes (the API reads it once a second, through its cache): it belongs to
    the write path, which yields to serving. A server not started by
    ``streamkit local`` (a URL elsewhere) is left alone.
    """
    record = running_record(StackPaths.of(settings).pid_file("mongo"))
    if record is None or not settings.pipeline.nice:
        yield
        return
    server = psutil.Process(record.pid)
    before = server.nice()
    server.nice(max(before, settings.pipeline.nice))  # lowering a priority needs no root
    try:
        yield
    finally:
        try:
            server.nice(before)
        except psutil.Error as exc:  # raising a priority back takes root (CAP_SYS_NICE)
            progress(f"bench    | the hot store keeps nice {settings.pipeline.nice}: {exc}")


def _start_replay(
    settings: Settings, traffic: Path, limit: int, log: Path
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "app.cli", "replay", str(traffic)]
    command += ["--rate", str(DEMO_RATE), "--timing", "now", "--limit", str(limit)]
    # The replay stands in for producers on other machines: it runs at the
    # job's priority, so that the processes at full priority are the API and
    # the services it and the job depend on (Kafka, the hot store).
    if settings.pipeline.nice:
        command = ["nice", "-n", str(settings.pipeline.nice), *command]
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own console script
            command,
            env={**os.environ, **settings.environment()},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _phase(
    api: ApiProcess, options: ApiBenchOptions, load: Path, progress: Progress
) -> dict[str, Any]:
    api.ps.cpu_percent()  # start both CPU intervals
    psutil.cpu_percent()
    progress(
        f"bench    | {options.rate:.0f} requests/s of {options.path} for {options.seconds:.0f} s"
    )
    report = vegeta.attack(load, f"{api.url}{options.path}", options.rate, options.seconds)
    phase = vegeta.summary(report)
    phase["api_cpu_percent"] = api.ps.cpu_percent()
    phase["api_rss_mb"] = round(api.ps.memory_info().rss / 2**20, 1)
    phase["machine_cpu_percent"] = psutil.cpu_percent()
    lat = phase["latency_ms"]
    progress(f"bench    | p50 {lat['p50']} ms · p95 {lat['p95']} ms · p99 {lat['p99']} ms")
    return phase


def _summary(
    settings: Settings, options: ApiBenchOptions, phases: dict[str, Any]
) -> dict[str, Any]:
    store = bootstrap.hot_store(settings)
    try:
        stored = len(store.find_range(KPI_MINUTES, "minute"))
    finally:
        store.close()
    p99 = phases["pipeline_running"]["latency_ms"]["p99"]
    return {
        "benchmark": "api",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "hot_store": mask_url(settings.hot_store_url.get_secret_value()),
        # The local stack runs a real mongod when one is on PATH, else FerretDB.
        "hot_store_server": "mongod" if shutil.which("mongod") else "FerretDB (SQLite)",
        "request": options.path,
        "rate": options.rate,
        "seconds_per_phase": options.seconds,
        "conditions": {
            "pipeline_nice": settings.pipeline.nice,
            "replay_nice": settings.pipeline.nice,
            "hot_store_server_nice": settings.pipeline.nice,
            "event_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            "http_parser": "httptools" if importlib.util.find_spec("httptools") else "h11",
            "api_cache_s": settings.api.cache_s,
            "api_cache_stale_s": settings.api.cache_stale_s,
        },
        "minute_documents_stored": stored,
        "target": {"p99_ms": TARGET_P99_MS, "met": p99 is not None and p99 <= TARGET_P99_MS},
        "phases": phases,
    }


def machine() -> dict[str, Any]:
    """CPU model and count, memory, OS and Python: what a figure was measured on."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "")
    return {
        "cpus": psutil.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def markdown(summary: dict[str, Any]) -> str:
    """The report as a markdown page."""
    m = summary["machine"]
    head = ("phase", "requests", "achieved/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "statuses")
    lines = [
        f"# API latency benchmark, {summary['at']}",
        "",
        f"`GET {summary['request']}` at {summary['rate']:.0f} requests/s, open loop, "
        f"{summary['seconds_per_phase']:.0f} s per phase, against "
        f"{summary['hot_store_server']} holding {summary['minute_documents_stored']} minute "
        f"documents. Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB. "
        f"Conditions: {summary['conditions']}.",
        "",
        _row((*head, "API CPU %")),
        _row(("---",) * (len(head) + 1)),
    ]
    for name, p in summary["phases"].items():
        lat = p["latency_ms"]
        cells: tuple[Any, ...] = (name.replace("_", " "), f"{p['requests']:,}", p["achieved_rate"])
        cells += tuple(lat[q] for q in ("p50", "p95", "p99", "max"))
        lines.append(_row((*cells, p["statuses"], p["api_cpu_percent"])))
    target = summary["target"]
    verdict = "met" if target["met"] else "missed"
    lines += [
        "",
        f"Target: p99 ≤ {target['p99_ms']:.0f} ms with the pipeline running: **{verdict}**.",
        "Load by vegeta at a constant rate (open loop: requests leave on schedule whatever "
        "the answers do).",
        "",
    ]
    if not summary["phases"]["pipeline_running"].get("replay_ran_throughout", True):
        lines += ["**The replay ended before the loaded phase did**: shorten `--warmup`.", ""]
    return "\n".join(lines)


def _row(cells: tuple[Any, ...]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"
