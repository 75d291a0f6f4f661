"""``streamkit demo``: the whole path, live: replay → Kafka → Spark → MongoDB + Parquet.

1. Generates fresh shop traffic at 2,000 events/s of event time, with
   counted duplicates, late and malformed rows (``streamkit generate``, a new
   seed per run so event ids are new), unless given a file.
2. Starts the stream job (``streamkit pipeline``) in the background,
   forwards its progress lines and waits until its query runs.
3. Replays the file at 2,000 events/s with event times shifted to now, so the
   minutes are live; unframeable rows go to the dead-letter topic.
4. Waits until the job has caught up (its health document shows a trigger
   after the replay ended that found nothing new), prints the minute KPIs as
   ``streamkit kpis`` does, and checks that the archive holds exactly the
   events the minutes count.
5. Stops the job (Ctrl-C semantics: it finishes its batch).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from adapters.errors import StreamkitError
from adapters.ports import HotStore
from app import bootstrap
from app.dashboard.verify import DashboardCheck, check_dashboard
from app.generate import Options, generate, manifest_path
from app.localstack.processes import wait_until
from app.pipeline.documents import HEALTH, KPI_MINUTES
from app.pipeline.sinks import EVENTS
from app.producers.formats import Format, read
from app.producers.replay import Replayer, ReplayProgress
from app.producers.sender import EventSender
from app.serve import ApiProcess, DashboardProcess, ServedProcess
from app.settings import Settings

Progress = Callable[[str], None]

DEMO_RATE = 2_000
_MINUTES = 3


@dataclass(frozen=True)
class DemoResult:
    """What the demo sent and what the job made of it."""

    replayed: int
    dead_lettered: int
    rate: float
    minutes: list[dict[str, Any]]
    archived: int
    seconds: float
    dashboard: DashboardCheck

    @property
    def counted(self) -> int:
        """Valid, first, on-time events the minutes count."""
        return sum(int(m["events"]) for m in self.minutes)


def fresh_input(settings: Settings, progress: Progress) -> Path:
    """New traffic at 2,000 events/s (3 minutes of it), with a seed (so event ids) of its own.

    A fresh seed per run: replaying the same file twice within the watermark
    would (rightly) count every event of the second run as a duplicate.
    """
    seed = secrets.randbelow(1_000_000_000)
    path = settings.state_dir / "demo" / f"events-{seed}.csv.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    progress(f"generating traffic at {DEMO_RATE:,} events/s (seed {seed})")
    # Three minutes of it, whatever is replayed: the generator's sessions ramp up
    # and run on past its window, so the first minutes are where the pace holds
    # and shifted event times stay close to the wall clock.
    generate(Options.over(path, DEMO_RATE * 60 * _MINUTES, _MINUTES, seed=seed))
    return path


class BackgroundJob:
    """``streamkit pipeline`` as a child process, its output forwarded line by line."""

    def __init__(
        self,
        settings: Settings,
        progress: Progress,
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        forward_batches: bool = True,
    ) -> None:
        """Start the job; its log is kept under the state directory (or at ``log_path``).

        ``env`` adds settings of the job's own (``STREAMKIT_PIPELINE__*``); without
        ``forward_batches`` only the job's start, stop and errors reach ``progress``.
        """
        self.log_path = log_path or settings.state_dir / "logs" / "demo-pipeline.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.forward_batches = forward_batches
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "pipeline"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **settings.environment(), **(env or {}), "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        self.started = threading.Event()
        self.batches = 0  # batches the job reported done
        self._forward = threading.Thread(
            target=self._pump, args=(self.process.stdout, progress), daemon=True
        )
        self._forward.start()

    def _pump(self, stream: IO[bytes], progress: Progress) -> None:
        with self.log_path.open("ab") as log:
            for raw in stream:
                log.write(raw)
                line = raw.decode(errors="replace").rstrip()
                if line.startswith("checkpoint "):
                    self.started.set()  # the query runs: batches follow every trigger
                if line.startswith("batch "):
                    self.batches += 1
                    if not self.forward_batches:
                        continue
                if line.startswith(("batch ", "reading ", "checkpoint ", "error", "pipeline ")):
                    progress(f"pipeline | {line}")

    def wait_started(self, timeout_s: float = 300.0) -> None:
        """Until the job's query runs (first start resolves the Spark connector jars)."""
        deadline = time.monotonic() + timeout_s
        while not self.started.wait(1.0):
            if not self.running() or time.monotonic() > deadline:
                msg = f"the stream job did not start; see {self.log_path}"
                raise StreamkitError(msg)

    def wait_batches(self, count: int, timeout_s: float = 300.0) -> None:
        """Until the job has reported ``count`` batches done (the first, cold one is slow)."""
        wait_until(lambda: self.batches >= count or not self.running(), timeout_s, 0.5)
        if self.batches < count:
            msg = f"the stream job did not finish {count} batches; see {self.log_path}"
            raise StreamkitError(msg)

    def running(self) -> bool:
        """True while the child lives."""
        return self.process.poll() is None

    def stop(self, timeout_s: float = 60.0) -> None:
        """Ctrl-C the job (it stops after its batch); SIGKILL its group if it hangs."""
        if self.running():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self._forward.join(timeout=5)


def replay_file(path: Path, settings: Settings, limit: int, progress: Progress) -> ReplayProgress:
    """Replay ``limit`` events of ``path`` at 2,000 events/s with event times shifted to now."""
    sender = EventSender(
        bootstrap.bus(settings), bootstrap.deadletter(settings), source=f"file:{path.name}"
    )

    started = time.monotonic()

    def report(p: ReplayProgress) -> None:
        rate = p.sent / max(time.monotonic() - started, 1e-9)
        progress(f"replay   | sent {p.sent:,} of {limit:,} · {rate:,.0f} events/s so far")

    replayer = Replayer(sender, rate=DEMO_RATE, timing="now", report=report, report_every_s=5.0)
    done = replayer.run(read(path, Format.AUTO), limit=limit)
    sender.close()
    s = sender.stats
    if s.failed or s.delivered != s.published + s.dead_lettered:
        msg = f"replay: {s.failed} deliveries failed ({'; '.join(s.failures[:1])})"
        raise StreamkitError(msg)
    return done


def _wait_caught_up(hot: HotStore, job: BackgroundJob, since: datetime, timeout_s: float) -> None:
    """Until the job reports a trigger after ``since`` that found nothing new to read."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not job.running():
            msg = f"the stream job exited early (code {job.process.returncode}); see {job.log_path}"
            raise StreamkitError(msg)
        health = hot.latest(HEALTH, "job") or {}
        if health.get("idle_at") and health["idle_at"] > since:
            return
        time.sleep(1.0)
    msg = f"the stream job did not catch up within {timeout_s:.0f} s; see {job.log_path}"
    raise StreamkitError(msg)


def run_demo(
    settings: Settings,
    seconds: int,
    progress: Progress,
    source: Path | None = None,
    serve: bool = False,
) -> DemoResult:
    """Run the job, the API and the dashboard; replay ``seconds`` of traffic; check what comes out.

    ``source`` is a traffic file at 2,000 events/s of event time; by default
    fresh traffic is generated (and removed afterwards). With ``serve``, the
    job, the API and the dashboard keep running after the checks, until Ctrl-C.
    """
    started = time.monotonic()
    path = source or fresh_input(settings, progress)
    ports = bootstrap.ports(settings)
    logs = settings.state_dir / "logs"
    job = BackgroundJob(settings, progress)
    served: list[ServedProcess] = []
    try:
        # Replay into a running query, so latencies show the pipeline, not its start-up.
        job.wait_started()
        api = ApiProcess(settings, logs / "demo-api.log", port=8000)
        served.append(api)
        board = DashboardProcess(settings, api.url, logs / "demo-dashboard.log", port=8501)
        served.append(board)
        progress(f"dashboard | {board.url} (live now; the API's docs at {api.url}/docs)")
        window_start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        replay_started = time.monotonic()
        done = replay_file(path, settings, seconds * DEMO_RATE, progress)
        rate = done.sent / max(time.monotonic() - replay_started, 1e-9)
        progress(
            f"replayed {done.stats.published:,} events at {rate:,.0f}/s "
            f"({done.stats.dead_lettered} unframeable rows dead-lettered); waiting for the job"
        )
        _wait_caught_up(ports.hot_store, job, datetime.now(UTC), 180.0)
        window_end = datetime.now(UTC) + timedelta(minutes=10)
        minutes = ports.hot_store.find_range(KPI_MINUTES, "minute", window_start, window_end)
        counted = sum(int(m["events"]) for m in minutes)
        if not minutes or counted == 0:
            msg = f"no minute KPIs between {window_start:%H:%M} and now; see {job.log_path}"
            raise StreamkitError(msg)
        archived = ports.archive.read(EVENTS, window_start, window_end, time_column="event_time")
        if archived.num_rows != counted:
            msg = f"the archive holds {archived.num_rows:,} events, the minutes count {counted:,}"
            raise StreamkitError(msg)
        shot = settings.state_dir / "demo" / "dashboard.png"
        seen = check_dashboard(board.url, api.url, shot, lambda m: progress(f"dashboard | {m}"))
        progress(
            f"dashboard | Chromium shows minute {seen.minute[11:16]} as GET /kpis/latest does: "
            f"{seen.tiles['Events/s']} events/s, revenue {seen.tiles['Revenue']}, "
            f"conversion {seen.tiles['Conversion']} (screenshot {shot})"
        )
        if serve:
            progress(f"serving: dashboard {board.url}, API {api.url}/docs · Ctrl-C stops")
            while job.running():
                time.sleep(1.0)
    finally:
        for process in reversed(served):
            process.stop()
        job.stop()
        ports.close()
        if source is None:
            path.unlink(missing_ok=True)
            manifest_path(path).unlink(missing_ok=True)
    return DemoResult(
        done.stats.published,
        done.stats.dead_lettered,
        rate,
        minutes,
        archived.num_rows,
        time.monotonic() - started,
        seen,
    )
