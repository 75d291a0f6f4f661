"""``/health``: each dependency checked concurrently, each bounded in time.

Pipeline freshness is wall-clock time since the job last *wrote* its health
document (after a batch, or the idle report Spark gives every 10 s), not the
age of the newest minute: a replay of old data is not stale, and an idle but
running job is fresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any, Literal

from adapters.errors import StreamkitError
from adapters.ports import Bus, HotStore
from app.api.models import CheckResult, Health
from app.pipeline.documents import HEALTH, JOB, iso, last_written
from app.settings import ApiSettings

#: One thread per check; checks of concurrent requests queue behind these.
_POOL = ThreadPoolExecutor(max_workers=6, thread_name_prefix="health")


def check_health(store: HotStore, bus: Callable[[], Bus], settings: ApiSettings) -> Health:
    """Run every check at once and sum them up (:func:`overall`)."""
    checks: dict[str, Callable[[], CheckResult]] = {
        "hot_store": lambda: _ping("hot store", store.ping, settings.check_timeout_s),
        "pipeline": lambda: pipeline_check(store, settings, datetime.now(UTC)),
    }
    if settings.check_bus:
        # Opening the bus may fail too (no client for its scheme installed): a failed check.
        checks["bus"] = lambda: _ping("bus", lambda t: bus().ping(t), settings.check_timeout_s)
    futures = {name: _POOL.submit(_timed, run) for name, run in checks.items()}
    # A hung client must not hang /health: give up a little after its own timeout.
    deadline = time.monotonic() + settings.check_timeout_s + 0.5
    # The pipeline check only reads the hot store: when that does not answer, the job's state
    # is unknown (a warn), and the hot store's own check reports the outage.
    results = {
        name: _result(f, deadline, "warn" if name == "pipeline" else "fail")
        for name, f in futures.items()
    }
    if "bus" not in results:
        results["bus"] = CheckResult(
            status="skipped", latency_ms=None, detail="not checked (STREAMKIT_API__CHECK_BUS=false)"
        )
    return Health(status=overall(results), checked_at=iso(datetime.now(UTC)), checks=results)


class Memo:
    """The last answer of /health, reused for ``ttl_s``; one check at a time.

    /health is open to anyone (load balancers probe it), and each check pings the hot
    store and reads the job's report: without this a flood of /health requests would be
    a flood of store reads. Requests arriving while a check runs wait for it and share
    its answer, so the store sees at most one check per ``ttl_s`` per process.
    """

    def __init__(self, ttl_s: float) -> None:
        """``ttl_s`` 0 checks on every request."""
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._answer: Health | None = None
        self._at = 0.0

    def get(self, check: Callable[[], Health]) -> Health:
        """The answer of a check made less than ``ttl_s`` ago, else of a new one."""
        if self.ttl_s <= 0:
            return check()
        with self._lock:
            if self._answer is None or time.monotonic() - self._at >= self.ttl_s:
                self._answer = check()
                self._at = time.monotonic()
            return self._answer


def overall(results: dict[str, CheckResult]) -> Literal["healthy", "degraded", "unhealthy"]:
    """``unhealthy`` only when the job has stopped reporting; a dependency down is ``degraded``.

    Every API instance shares the hot store and the bus, so a load balancer that took
    instances out of rotation for their outage would help nothing and turn typed 503s from
    the data endpoints into connection errors; the job, meanwhile, waits the outage out
    (``STREAMKIT_PIPELINE__OUTAGE_S``). A job that stopped writing is a fault of this service.
    """
    if results["pipeline"].status == "fail":
        return "unhealthy"
    if all(r.status in {"ok", "skipped"} for r in results.values()):
        return "healthy"
    return "degraded"


def pipeline_check(store: HotStore, settings: ApiSettings, now: datetime) -> CheckResult:
    """Freshness and lag from the job's health document."""
    doc = store.latest(HEALTH, "job")
    if doc is None or doc.get("job") != JOB:
        return CheckResult(
            status="fail",
            latency_ms=None,
            detail="the stream job has not reported yet: is `streamkit pipeline` running?",
        )
    last = last_written(doc)
    if last is None:
        return CheckResult(status="fail", latency_ms=None, detail="health document has no times")
    age = max(0.0, (now - last).total_seconds())
    lag = doc.get("lag_records")
    lag = lag if isinstance(lag, int) and not isinstance(lag, bool) else None
    batch_at = doc.get("last_batch_at")
    extra: dict[str, Any] = {
        "age_s": round(age, 1),
        "lag_records": lag,
        "last_batch_at": iso(batch_at) if isinstance(batch_at, datetime) else None,
    }
    if age > settings.stale_s:
        status, detail = "fail", f"the stream job last wrote {_ago(age)}: stopped?"
    elif age > settings.fresh_s:
        status, detail = "warn", f"the stream job last wrote {_ago(age)}"
    elif lag is not None and lag > settings.lag_warn_records:
        status, detail = "warn", f"consumer lag {lag:,} records (> {settings.lag_warn_records:,})"
    else:
        status, detail = "ok", f"last wrote {_ago(age)}, lag {'?' if lag is None else f'{lag:,}'}"
    return CheckResult(status=status, latency_ms=None, detail=detail, **extra)


def _ping(what: str, ping: Callable[[float], float], timeout_s: float) -> CheckResult:
    try:
        seconds = ping(timeout_s)
    except StreamkitError as e:
        return CheckResult(
            status="fail", latency_ms=None, detail=f"{what} did not answer: {_short(e)}"
        )
    return CheckResult(status="ok", latency_ms=round(seconds * 1000, 2), detail="answered")


def _timed(run: Callable[[], CheckResult]) -> CheckResult:
    started = time.perf_counter()
    result = run()
    if result.latency_ms is not None:
        return result
    return result.model_copy(
        update={"latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    )


def _result(future: Any, deadline: float, unanswered: Literal["warn", "fail"]) -> CheckResult:
    wait = max(0.0, deadline - time.monotonic())
    try:
        result: CheckResult = future.result(timeout=wait)
    except FutureTimeout:
        return CheckResult(
            status=unanswered, latency_ms=None, detail=f"no answer within {wait:.1f} s"
        )
    except StreamkitError as e:  # the pipeline check reads the hot store
        detail = f"could not read the job's report: {_short(e)}"
        return CheckResult(status=unanswered, latency_ms=None, detail=detail)
    return result


def _short(error: Exception) -> str:
    """The first line of an error, bounded: drivers append whole topology dumps."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    return f"{seconds / 60:.0f} min ago"
