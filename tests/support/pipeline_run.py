"""Running the real ``streamkit`` commands against fresh topics, database and directories.

Each end-to-end test gets its own events and dead-letter topics, hot-store
database, archive and checkpoint, and runs the commands as a user would
(subprocesses of the installed console script), each in its own process
group so a ``kill -9`` takes the Spark JVM with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from adapters.ports import Bus
from adapters.registry import open_archive, open_hot_store
from app.chaos.readback import KEEP_BATCHES, in_batch_order
from app.chaos.readback import batch_ends as batches_of
from app.chaos.supervisor import kill_group
from app.topics import read_topic as read_all
from tests.conftest import MONGO_URL, require_tcp

__all__ = ["Run", "batches_of", "in_batch_order", "kill_group", "read_all"]

STREAMKIT = [sys.executable, "-m", "app.cli"]


@dataclass
class Run:
    """One isolated pipeline set-up: its URLs, directories and environment."""

    events: Bus
    dead: Bus
    root: Path
    hot_url: str

    @classmethod
    def fresh(cls, events: Bus, dead: Bus, root: Path) -> Run:
        """A set-up on new topics with its own database and directories under ``root``."""
        base = MONGO_URL.rsplit("/", 1)[0]
        return cls(events, dead, root, f"{base}/e2e_{uuid.uuid4().hex[:12]}")

    @property
    def checkpoint(self) -> Path:
        """The job's checkpoint (``STREAMKIT_CHECKPOINT_DIR``/pipeline)."""
        return self.root / "checkpoints" / "pipeline"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a command of this set-up."""
        return {
            **os.environ,
            "STREAMKIT_BUS_URL": self.events.url,
            "STREAMKIT_DEADLETTER_URL": self.dead.url,
            "STREAMKIT_HOT_STORE_URL": self.hot_url,
            "STREAMKIT_ARCHIVE_URL": (self.root / "archive").as_uri(),
            "STREAMKIT_CHECKPOINT_DIR": str(self.root / "checkpoints"),
            "STREAMKIT_STATE_DIR": str(self.root / "state"),
            # The read-back needs every batch's offset-log entry (Spark keeps 100).
            "STREAMKIT_SPARK__CONF": json.dumps(KEEP_BATCHES),
            **extra,
        }

    def command(
        self, *args: str, timeout: float = 600, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``streamkit args…`` to completion in its own process group; output captured."""
        return subprocess.run(
            [*STREAMKIT, *args],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
            check=False,
        )

    def start(self, *args: str, log: Path, **extra: str) -> subprocess.Popen[bytes]:
        """Start ``streamkit args…`` in the background, output to ``log``."""
        with log.open("ab") as out:
            return subprocess.Popen(
                [*STREAMKIT, *args],
                env=self.env(**extra),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def hot(self, collection: str, field: str) -> pd.DataFrame:
        """Every document of a hot-store collection, sorted on ``field``."""
        store = open_hot_store(self.hot_url)
        try:
            return pd.DataFrame(store.find_range(collection, field))
        finally:
            store.close()

    def archived(self, dataset: str) -> pd.DataFrame:
        """Every row of an archive dataset."""
        return open_archive((self.root / "archive").as_uri()).read(dataset).to_pandas()

    def drop(self) -> None:
        """Remove the set-up's hot-store collections (the job's, the alert loop's)."""
        store = open_hot_store(self.hot_url)
        try:
            for collection in _COLLECTIONS:
                store.drop(collection)
        finally:
            store.close()


#: Every collection a set-up's commands write: the job's, the alert loop's, the replays'.
_COLLECTIONS = (
    "kpi_minutes",
    "sessions",
    "session_minutes",
    "pipeline_health",
    "alert_state",
    "alert_events",
    "deadletter_replays",
)


@contextmanager
def isolated(topics: tuple[Bus, Bus], root: Path) -> Iterator[Run]:
    """A fresh set-up on ``topics`` under ``root``, its collections dropped afterwards."""
    require_tcp(MONGO_URL, "the MongoDB-wire server")
    setup = Run.fresh(*topics, root)
    try:
        yield setup
    finally:
        setup.drop()
