"""``streamkit demo``: the whole path, live: replay → Kafka → Spark → MongoDB + Parquet.

1. Generates ``data/demo-2000eps.csv.gz`` when it is missing: seeded shop
   traffic at 2,000 events/s of event time, with counted duplicates, late
   and malformed rows (``streamkit generate``).
2. Starts the stream job (``streamkit pipeline``) in the background and
   forwards its progress lines.
3. Replays the file at 2,000 events/s with event times shifted to now, so the
   minutes are live; unframeable rows go to the dead-letter topic.
4. Waits until the job has caught up (the health document shows a batch
   after the replay ended and no lag), prints the minute KPIs as
   ``streamkit kpis`` does, and checks that the archive holds exactly the
   events the minutes count.
5. Stops the job (Ctrl-C semantics: it finishes its batch).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from adapters.errors import StreamkitError
from adapters.ports import HotStore
from app import bootstrap
from app.pipeline.documents import KPI_MINUTES
from app.pipeline.health import HEALTH
from app.pipeline.sinks import EVENTS
from app.producers.formats import Format, read
from app.producers.replay import Replayer, ReplayProgress
from app.producers.sender import EventSender
from app.settings import PROJECT_ROOT, Settings

Progress = Callable[[str], None]

#: The demo's input: 2,000 events/s of event time for 3 minutes, generated when missing.
DEMO_INPUT = PROJECT_ROOT / "data" / "demo-2000eps.csv.gz"
DEMO_RATE = 2_000
_INPUT_EVENTS, _INPUT_MINUTES = 360_000, 3


@dataclass(frozen=True)
class DemoResult:
    """What the demo sent and what the job made of it."""

    replayed: int
    dead_lettered: int
    rate: float
    minutes: list[dict[str, Any]]
    archived: int
    seconds: float

    @property
    def counted(self) -> int:
        """Valid, first, on-time events the minutes count."""
        return sum(int(m["events"]) for m in self.minutes)


def ensure_input(path: Path, progress: Progress) -> Path:
    """Generate the demo traffic file when it is missing."""
    if path.exists():
        return path
    from app.generate import Options, generate

    progress(f"generating {path} (first run; `streamkit generate --help` for the knobs)")
    generate(
        Options.over(path, _INPUT_EVENTS, _INPUT_MINUTES),
        progress=lambda line: progress(f"generate: {line}"),
    )
    return path


class BackgroundJob:
    """``streamkit pipeline`` as a child process, its output forwarded line by line."""

    def __init__(self, settings: Settings, progress: Progress) -> None:
        """Start the job; its log is also kept under the state directory."""
        self.log_path = settings.state_dir / "logs" / "demo-pipeline.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "pipeline"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **settings.environment(), "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        self._forward = threading.Thread(
            target=self._pump, args=(self.process.stdout, progress), daemon=True
        )
        self._forward.start()

    def _pump(self, stream: IO[bytes], progress: Progress) -> None:
        with self.log_path.open("ab") as log:
            for raw in stream:
                log.write(raw)
                line = raw.decode(errors="replace").rstrip()
                if line.startswith(("batch ", "reading ", "checkpoint ", "error", "pipeline ")):
                    progress(f"pipeline | {line}")

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


def _replay(path: Path, settings: Settings, limit: int, progress: Progress) -> ReplayProgress:
    sender = EventSender(
        bootstrap.bus(settings), bootstrap.deadletter(settings), source=f"file:{path.name}"
    )

    def report(p: ReplayProgress) -> None:
        rate, _ = p.recent_rate(5.0)
        progress(f"replay   | sent {p.sent:,} of {limit:,} · {rate:,.0f} events/s")

    replayer = Replayer(sender, rate=DEMO_RATE, timing="now", report=report, report_every_s=5.0)
    done = replayer.run(read(path, Format.AUTO), limit=limit)
    sender.close()
    s = sender.stats
    if s.failed or s.delivered != s.published + s.dead_lettered:
        msg = f"replay: {s.failed} deliveries failed ({'; '.join(s.failures[:1])})"
        raise StreamkitError(msg)
    return done


def _wait_caught_up(
    hot: HotStore, job: BackgroundJob, since: datetime, timeout_s: float, progress: Progress
) -> None:
    """Until the job reports a batch that started after ``since`` with nothing left to read."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not job.running():
            msg = f"the stream job exited early (code {job.process.returncode}); see {job.log_path}"
            raise StreamkitError(msg)
        health = hot.latest(HEALTH, "last_batch_at")
        if health and health["last_batch_at"] > since and health.get("lag_records") == 0:
            return
        time.sleep(1.0)
    msg = f"the stream job did not catch up within {timeout_s:.0f} s; see {job.log_path}"
    raise StreamkitError(msg)


def run_demo(
    settings: Settings, seconds: int, progress: Progress, source: Path = DEMO_INPUT
) -> DemoResult:
    """Run the job, replay ``seconds`` of traffic at 2,000 events/s, check what comes out."""
    started = time.monotonic()
    path = ensure_input(source, progress)
    ports = bootstrap.ports(settings)
    job = BackgroundJob(settings, progress)
    try:
        window_start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        replay_started = time.monotonic()
        done = _replay(path, settings, seconds * DEMO_RATE, progress)
        rate = done.sent / max(time.monotonic() - replay_started, 1e-9)
        progress(
            f"replayed {done.stats.published:,} events at {rate:,.0f}/s "
            f"({done.stats.dead_lettered} unframeable rows dead-lettered); waiting for the job"
        )
        _wait_caught_up(ports.hot_store, job, datetime.now(UTC), 180.0, progress)
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
    finally:
        job.stop()
        ports.close()
    return DemoResult(
        done.stats.published,
        done.stats.dead_lettered,
        rate,
        minutes,
        archived.num_rows,
        time.monotonic() - started,
    )
