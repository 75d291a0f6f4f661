"""The stream job as a supervisor (systemd, Kubernetes) runs it: killed, crashed, restarted.

``kill -9`` takes the job's whole process group (the CLI and its Spark JVM): nothing of it
runs on, exactly as if the machine had died. A named crash point makes the job kill itself
at one place inside a batch's sink writes (``app/pipeline/crash.py``). After each, the job is
started again, and recovery is timed: from that start until the job has committed every
record that was on the topic at that moment.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from adapters.errors import StreamkitError
from adapters.ports import OffsetsBus
from app.bench.backlog import committed_offsets
from app.demo import BackgroundJob
from app.settings import Settings

Progress = Callable[[str], None]


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """``kill -9`` the process's whole group (the CLI and its Spark JVM) and reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it died on its own (a crash point) just before
    process.wait(timeout=30)


def checkpoint_digest(checkpoint: Path) -> dict[str, str]:
    """Every file of a checkpoint and a hash of its bytes: equal digests, untouched checkpoint."""
    return {
        str(path.relative_to(checkpoint)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(checkpoint.rglob("*"))
        if path.is_file()
    }


class Supervisor:
    """Starts, kills and restarts ``streamkit pipeline``; all its runs log to one file."""

    def __init__(
        self,
        settings: Settings,
        events: OffsetsBus,
        checkpoint: Path,
        log_path: Path,
        progress: Progress,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Nothing runs until :meth:`start`."""
        self.settings, self.events, self.checkpoint = settings, events, checkpoint
        self.log_path, self.progress, self.env = log_path, progress, dict(env or {})
        self.job: BackgroundJob | None = None
        self.starts = 0

    def start(self, crash_at: str = "", env: Mapping[str, str] | None = None) -> float:
        """Start the job (with a planned crash ``<point>@<batch>``, or other settings ``env``).

        Returns the start time.
        """
        env = self.env | dict(env or {})
        if crash_at:
            env["STREAMKIT_PIPELINE__CRASH_AT"] = crash_at
        self.job = BackgroundJob(
            self.settings, self.progress, env=env, log_path=self.log_path, forward_batches=False
        )
        self.starts += 1
        return time.monotonic()

    def wait_started(self, timeout_s: float) -> None:
        """Until the job's query runs (its first start resolves the Spark connector jars)."""
        if self.job is not None:
            self.job.wait_started(timeout_s)

    def running(self) -> bool:
        """True while the current job lives."""
        return self.job is not None and self.job.running()

    def kill(self) -> None:
        """``kill -9`` the job's whole process group, and reap it."""
        if self.job is not None:
            kill_group(self.job.process)

    def wait_exit(self, timeout_s: float) -> bool:
        """Until the job exits by itself (a planned crash); False if it still runs."""
        if self.job is None:
            return True
        deadline = time.monotonic() + timeout_s
        while self.job.running() and time.monotonic() < deadline:
            time.sleep(0.2)
        return not self.job.running()

    def last_batch(self) -> int:
        """The highest batch id the job has planned (its offset log), -1 before the first."""
        log = self.checkpoint / "offsets"
        ids = [int(p.name) for p in log.iterdir() if p.name.isdigit()] if log.is_dir() else []
        return max(ids, default=-1)

    def wait_batch(self, batch_id: int, timeout_s: float) -> None:
        """Until the job has planned batch ``batch_id`` (data is flowing through it)."""
        deadline = time.monotonic() + timeout_s
        while self.last_batch() < batch_id:
            self.require_alive()
            if time.monotonic() > deadline:
                msg = f"the stream job did not reach batch {batch_id}; see {self.log_path}"
                raise StreamkitError(msg)
            time.sleep(0.2)

    def caught_up(self, target: Mapping[int, int]) -> bool:
        """True once the job has committed every partition up to ``target``."""
        committed = committed_offsets(self.checkpoint, self.events.topic)
        return all(committed.get(p, 0) >= offset for p, offset in target.items())

    def recover(self, started: float, timeout_s: float) -> float:
        """Seconds from ``started`` until the job committed all that was on the topic then."""
        target = self.events.end_offsets()
        deadline = started + timeout_s
        while not self.caught_up(target):
            self.require_alive()
            if time.monotonic() > deadline:
                msg = f"the job did not recover within {timeout_s:.0f} s; see {self.log_path}"
                raise StreamkitError(msg)
            time.sleep(0.2)
        return time.monotonic() - started

    def stop(self) -> None:
        """Stop the job after its batch (Ctrl-C); SIGKILL if it hangs."""
        if self.job is not None:
            self.job.stop()

    def require_alive(self) -> None:
        """Raise naming the log when the job has exited (it must ride out every fault)."""
        if not self.running():
            code = self.job.process.returncode if self.job is not None else None
            msg = f"the stream job exited (code {code}); see {self.log_path}"
            raise StreamkitError(msg)
