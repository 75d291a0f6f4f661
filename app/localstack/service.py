"""What every native service of the local stack shares: pid file, port, start and stop."""

from __future__ import annotations

import shutil
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from adapters.errors import StreamkitError
from app.localstack import processes
from app.localstack.netcheck import holder_of, port_open
from app.localstack.paths import StackPaths
from app.localstack.tools import LocalStackError, Progress


@dataclass(frozen=True)
class ServiceStatus:
    """One line of ``streamkit local status``."""

    name: str
    address: str
    pid: int | None
    healthy: bool
    detail: str

    @property
    def state(self) -> str:
        """``healthy``, ``unhealthy`` or ``stopped``."""
        if self.pid is None and not self.healthy:
            return "stopped"
        return "healthy" if self.healthy else "unhealthy"


class NativeService(ABC):
    """A server process that ``up`` starts, ``status`` checks and ``down`` stops."""

    name: str

    def __init__(self, paths: StackPaths, host: str, port: int) -> None:
        self.paths = paths
        self.host = host
        self.port = port

    @property
    def address(self) -> str:
        """``host:port`` clients connect to."""
        return f"{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        """Where the service keeps its data."""
        return self.paths.data(self.name)

    def running(self) -> processes.ProcessRecord | None:
        """The process ``up`` started, when it is still alive."""
        return processes.running_record(self.paths.pid_file(self.name))

    def ports(self) -> list[int]:
        """Every port the service listens on (all must be free before a start)."""
        return [self.port]

    @abstractmethod
    def prepare(self, progress: Progress) -> None:
        """Fetch or build what the service runs from (cached after the first time)."""

    @abstractmethod
    def command(self) -> list[str]:
        """The command line that runs the server in the foreground."""

    def before_start(self, progress: Progress) -> None:  # noqa: B027 - optional hook
        """One-time set-up of the data dir before the first start."""

    @abstractmethod
    def check(self, timeout_s: float) -> str:
        """A real readiness check: a detail line back, ``StreamkitError`` when not ready."""

    def start(self, progress: Progress) -> processes.ProcessRecord:
        """Start the server unless ours is already running; refuse a port held by another."""
        record = self.running()
        if record is not None:
            progress(f"{self.name}: already running (pid {record.pid}) on {self.address}")
            return record
        self.require_free_ports()
        self.before_start(progress)
        progress(f"{self.name}: starting on {self.address} (log: {self.paths.log_file(self.name)})")
        return processes.spawn(
            self.command(),
            pid_file=self.paths.pid_file(self.name),
            log_file=self.paths.log_file(self.name),
            cwd=self.data_dir,
        )

    def require_free_ports(self) -> None:
        """Raise naming the holder when another process listens on one of our ports."""
        for port in self.ports():
            if port_open(self.host, port):
                msg = (
                    f"{self.name}: port {port} on {self.host} is taken by {holder_of(port)}; "
                    "stop that process or point streamkit at other ports "
                    "(STREAMKIT_BUS_URL, STREAMKIT_HOT_STORE_URL, STREAMKIT_LOCAL__*)"
                )
                raise LocalStackError(msg)

    def wait_ready(self, timeout_s: float, progress: Progress) -> str:
        """Poll ``check`` until it passes; fail early when the process dies."""
        started = time.monotonic()
        deadline = started + timeout_s
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.running() is None:
                msg = (
                    f"{self.name} exited during start-up; see {self.paths.log_file(self.name)}:\n"
                    + self.log_tail()
                )
                raise LocalStackError(msg)
            if not port_open(self.host, self.port):
                # Cheap until the listener is up; clients would log every refusal.
                time.sleep(0.25)
                continue
            try:
                detail = self.check(timeout_s=min(10.0, max(1.0, deadline - time.monotonic())))
            except StreamkitError as e:
                last_error = str(e)
                time.sleep(0.5)
                continue
            progress(f"{self.name}: ready in {time.monotonic() - started:.1f} s ({detail})")
            return detail
        msg = (
            f"{self.name} was not ready within {timeout_s:.0f} s ({last_error}); "
            f"see {self.paths.log_file(self.name)}, or raise STREAMKIT_LOCAL__START_TIMEOUT_S"
        )
        raise LocalStackError(msg)

    def status(self) -> ServiceStatus:
        """Pid and a live health check."""
        record = self.running()
        if record is None:
            return ServiceStatus(self.name, self.address, None, False, "not running")
        try:
            return ServiceStatus(self.name, self.address, record.pid, True, self.check(5.0))
        except StreamkitError as e:
            return ServiceStatus(self.name, self.address, record.pid, False, str(e))

    def stop(self, progress: Progress) -> None:
        """Stop our process (its whole group), then make sure the ports are released."""
        record = self.running()
        if record is None:
            progress(f"{self.name}: not running")
            return
        processes.stop(record)
        self.paths.pid_file(self.name).unlink(missing_ok=True)
        released = processes.wait_until(
            lambda: not any(port_open(self.host, p) for p in self.ports()), 15
        )
        note = "" if released else f" (a port is still held by {holder_of(self.port)})"
        progress(f"{self.name}: stopped (pid {record.pid}){note}")

    def purge(self, progress: Progress) -> None:
        """Delete the service's data and log (only when it is stopped)."""
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.paths.log_file(self.name).unlink(missing_ok=True)
        progress(f"{self.name}: data removed ({self.data_dir})")

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the service's log."""
        try:
            text = self.paths.log_file(self.name).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
