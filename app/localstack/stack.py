"""``streamkit local up | down | status``: the whole native stack at once."""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from app.localstack.emulators import GcsService, MotoService, PubSubService
from app.localstack.kafka import KafkaService
from app.localstack.kinesalite import KinesaliteService
from app.localstack.mongo import MongoService
from app.localstack.paths import StackPaths
from app.localstack.service import NativeService, ServiceStatus
from app.localstack.tools import LocalStackError, Progress
from app.settings import Settings


class LocalStack:
    """Kafka and the MongoDB-wire server as native processes, bound to 127.0.0.1."""

    def __init__(self, settings: Settings, progress: Progress = print) -> None:
        self.settings = settings
        self.paths = StackPaths.of(settings)
        self.progress = progress
        self.kafka = KafkaService(settings, self.paths)
        self.mongo = MongoService(settings, self.paths)
        self.emulators: list[NativeService] = [
            MotoService(settings, self.paths),
            GcsService(settings, self.paths),
            KinesaliteService(settings, self.paths),
            PubSubService(settings, self.paths),
        ]

    @property
    def services(self) -> list[NativeService]:
        """In start order: Kafka, the hot store, and the emulators when enabled or running."""
        wanted = self.settings.local.emulators
        return [self.kafka, self.mongo] + [
            e for e in self.emulators if wanted or e.running() is not None
        ]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Two `up`s at once would both see "not running" and race for the ports.
        self.paths.run.mkdir(parents=True, exist_ok=True)
        with (self.paths.run / "stack.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.progress("waiting for another `streamkit local` command to finish...")
                fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def up(self) -> list[ServiceStatus]:
        """Start what is not running, wait for real readiness, create the topics. Idempotent."""
        started = time.monotonic()
        with self._locked():
            self._prepare_all()
            self._add_secure_listener()
            # Check every port before starting anything, so a port held by
            # another program fails `up` without leaving half a stack running.
            for service in self.services:
                if service.running() is None:
                    service.require_free_ports()
            for service in self.services:
                service.start(self.progress)
            timeout = self.settings.local.start_timeout_s
            for service in self.services:
                service.wait_ready(timeout, self.progress)
            self.kafka.ensure_topics(self.progress)
        self.progress(f"local stack up in {time.monotonic() - started:.1f} s")
        return self.status()

    def _add_secure_listener(self) -> None:
        """Restart a broker running without the SASL_SSL listener that is now wanted."""
        kafka = self.kafka
        wanted = self.settings.local.secure_kafka
        if wanted and kafka.running() is not None and not kafka.serving_secure():
            self.progress(
                f"kafka: restarting to add the SASL_SSL listener on {kafka.listener.address}"
                " (topics and data are kept)"
            )
            kafka.stop(self.progress)

    def _prepare_all(self) -> None:
        # The Maven resolve and the Go build are independent and slow on a
        # first run: do them side by side.
        with ThreadPoolExecutor(max_workers=len(self.services)) as pool:
            futures = [pool.submit(s.prepare, self.progress) for s in self.services]
            errors = [f.exception() for f in futures]
        for error in errors:
            if error is not None:
                raise error

    def down(self, purge: bool = False) -> None:
        """Stop exactly the processes ``up`` started; with ``purge`` also delete their data."""
        with self._locked():
            for service in reversed(self.services):
                service.stop(self.progress)
            if purge:
                for service in self.services:
                    service.purge(self.progress)
                if (checkpoints := self.settings.checkpoints) is not None:
                    shutil.rmtree(checkpoints, ignore_errors=True)

    def status(self) -> list[ServiceStatus]:
        """Each service with its address, pid and a live health check."""
        return [service.status() for service in self.services]


def require_healthy(statuses: list[ServiceStatus]) -> None:
    """Raise naming the unhealthy services (used by commands that need the stack)."""
    bad = [s for s in statuses if not s.healthy]
    if bad:
        names = ", ".join(f"{s.name} ({s.detail})" for s in bad)
        msg = f"the local stack is not healthy: {names}; run `streamkit local up`"
        raise LocalStackError(msg)
