"""Take one of the job's dependencies away while data flows, bring it back, watch ``/health``.

The broker and the hot store are the local stack's own processes: ``kill -9`` of the
service's process group (its pid file is the stack's record), then the service's ordinary
start and readiness check, as an operator or a supervisor would. The archive cannot be
taken away that way (we run as root, so permissions block nothing): the job's archive URL
carries ``fault.outage_file``, and every archive call fails while that file exists.

While a service checked by ``/health`` is down, the API's own health function is asked every
few seconds, against the sandbox's hot store and bus; it must say ``degraded``, and
``healthy`` again once the job has caught up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from adapters.errors import StreamkitError
from app import bootstrap
from app.api.health import check_health
from app.bench.e2e import Sandbox
from app.chaos.scenarios import Outage
from app.chaos.supervisor import Supervisor
from app.localstack import processes
from app.localstack.service import NativeService
from app.localstack.stack import LocalStack

Progress = Callable[[str], None]

#: Seconds between two ``/health`` samples during an outage.
SAMPLE_EVERY_S = 5.0
#: Outages ``/health`` must report: the dependencies it checks.
CHECKED_BY_HEALTH = frozenset({Outage.BROKER, Outage.HOT_STORE})


@dataclass
class OutageRecord:
    """What one outage looked like from outside the job."""

    down_s: float = 0.0
    #: ``/health`` once the job had reported (it must start healthy), during, and after.
    health_before: str = ""
    health_during: list[str] = field(default_factory=list)
    health_after: str = ""
    healthy_after_s: float | None = None

    def problems(self, outage: Outage) -> list[str]:
        """What ``/health`` got wrong, for an outage of a dependency it checks."""
        if outage not in CHECKED_BY_HEALTH:
            return []
        found = []
        if self.health_before != "healthy":
            found.append(f"/health said {self.health_before!r} before the outage, not healthy")
        if not self.health_during or set(self.health_during) != {"degraded"}:
            found.append(f"/health said {self.health_during} during the outage, not degraded")
        if self.health_after != "healthy":
            found.append(f"/health said {self.health_after!r} after recovery, not healthy")
        return found


def archive_outage_url(archive_url: str, flag: Path) -> str:
    """``archive_url`` with ``fault.outage_file=flag``: calls fail while ``flag`` exists."""
    parts = urlsplit(archive_url)
    query = [*parse_qsl(parts.query), ("fault.outage_file", str(flag))]
    return urlunsplit(parts._replace(query=urlencode(query)))


class HealthProbe:
    """The API's ``/health`` logic over the sandbox's own hot store and bus."""

    def __init__(self, sandbox: Sandbox) -> None:
        """A client of its own, opened before the outage (it reconnects by itself)."""
        self.sandbox = sandbox
        self.store = bootstrap.hot_store(sandbox.settings)

    def status(self) -> str:
        """``healthy``, ``degraded`` or ``unhealthy``, as ``GET /health`` would answer."""
        bus = self.sandbox.events
        return check_health(self.store, lambda: bus, self.sandbox.settings.api).status

    def close(self) -> None:
        """Close the client."""
        self.store.close()


def take_down(
    outage: Outage,
    seconds: float,
    sandbox: Sandbox,
    supervisor: Supervisor,
    flag: Path,
    progress: Progress,
    start_timeout_s: float,
    probe: HealthProbe | None,
) -> OutageRecord:
    """Take the dependency away for ``seconds`` while the job runs, then bring it back.

    ``probe`` samples ``/health`` meanwhile. The job must live through the outage: if it
    exits, ``StreamkitError``.
    """
    record = OutageRecord()
    service = _service(outage, sandbox, progress)
    if probe is not None:
        # The job reports after its first batch; until then /health rightly says unhealthy.
        record.health_before, _ = _until_healthy(probe, start_timeout_s)
    started = time.monotonic()
    try:
        if service is None:
            flag.touch()
        else:
            _kill(service)
        while (left := seconds - (time.monotonic() - started)) > 0:
            supervisor.require_alive()
            if probe is not None:
                record.health_during.append(probe.status())
            time.sleep(max(0.0, min(SAMPLE_EVERY_S, left)))
    finally:
        if service is None:
            flag.unlink(missing_ok=True)
        else:
            service.start(progress)
            service.wait_ready(start_timeout_s, progress)
    record.down_s = time.monotonic() - started
    supervisor.require_alive()
    return record


def settle(record: OutageRecord, probe: HealthProbe, timeout_s: float) -> None:
    """After recovery: sample ``/health`` until ``healthy`` (or the timeout), and record it."""
    record.health_after, record.healthy_after_s = _until_healthy(probe, timeout_s)


def _until_healthy(probe: HealthProbe, timeout_s: float) -> tuple[str, float | None]:
    """Sample until ``healthy``: the last status, and the seconds it took (None: never)."""
    started = time.monotonic()
    status = probe.status()
    while status != "healthy" and time.monotonic() - started < timeout_s:
        time.sleep(1.0)
        status = probe.status()
    return status, time.monotonic() - started if status == "healthy" else None


def _service(outage: Outage, sandbox: Sandbox, progress: Progress) -> NativeService | None:
    if outage is Outage.ARCHIVE:
        return None
    stack = LocalStack(sandbox.settings, progress)
    service: NativeService = stack.kafka if outage is Outage.BROKER else stack.mongo
    if service.running() is None:
        msg = (
            f"the {outage.value} ({service.name}) was not started by `streamkit local up`, so "
            "the chaos run cannot kill and restart it; start the stack with `streamkit local up`"
        )
        raise StreamkitError(msg)
    return service


def _kill(service: NativeService) -> None:
    record = service.running()
    if record is not None:
        processes.kill_hard(record)
