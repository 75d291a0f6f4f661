"""Where the local stack keeps its state, logs, pids and caches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.settings import PROJECT_ROOT, Settings

#: What the native stack is built from: poms, the FerretDB wrapper, configs.
INFRA_LOCAL = PROJECT_ROOT / "infra" / "local"


@dataclass(frozen=True)
class StackPaths:
    """The state dir (data, logs, pids; removed by ``down --purge``) and the cache dir (kept)."""

    state: Path
    cache: Path

    @classmethod
    def of(cls, settings: Settings) -> StackPaths:
        """The paths the settings name."""
        return cls(settings.state_dir, settings.cache_dir)

    @property
    def logs(self) -> Path:
        """One log file per service."""
        return self.state / "logs"

    @property
    def run(self) -> Path:
        """Pid files and the stack lock."""
        return self.state / "run"

    def data(self, service: str) -> Path:
        """The data directory of ``service``."""
        return self.state / service

    def pid_file(self, service: str) -> Path:
        """The pid file of ``service``."""
        return self.run / f"{service}.pid"

    def log_file(self, service: str) -> Path:
        """The log file of ``service``."""
        return self.logs / f"{service}.log"

    @property
    def kafka_libs(self) -> Path:
        """The broker's jars."""
        return self.cache / "kafka-libs"

    @property
    def spark_jars(self) -> Path:
        """Spark's Kafka connector jars."""
        return self.cache / "spark-kafka-jars"

    @property
    def bin(self) -> Path:
        """Binaries built by the stack (FerretDB)."""
        return self.cache / "bin"
