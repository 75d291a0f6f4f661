"""Running ``streamkit bench …`` and ``chaos`` on the local stack as a user would; clean-up."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from adapters.registry import open_bus
from app.settings import Settings
from tests.conftest import KAFKA_BOOTSTRAP, MONGO_URL, require_tcp
from tests.support.pipeline_run import STREAMKIT


def run_bench(
    args: list[str], results: Path, timeout: float, command: str = "bench"
) -> tuple[Path, dict[str, Any]]:
    """``streamkit COMMAND ARGS --no-up --out RESULTS`` on the running stack: report, summary."""
    require_tcp(f"kafka://{KAFKA_BOOTSTRAP}", "Kafka")
    require_tcp(MONGO_URL, "the MongoDB-wire server")
    env = {
        "STREAMKIT_BUS_URL": f"kafka://{KAFKA_BOOTSTRAP}/events_raw",
        "STREAMKIT_DEADLETTER_URL": f"kafka://{KAFKA_BOOTSTRAP}/events_deadletter",
        "STREAMKIT_HOT_STORE_URL": MONGO_URL,
    }
    done = subprocess.run(
        [*STREAMKIT, command, *args, "--no-up", "--out", str(results)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    (report,) = results.iterdir()
    return report, json.loads((report / "summary.json").read_text())


def assert_sandbox_removed(report: Path) -> None:
    """The run's topics and files are gone (its sandbox is named after the report's time)."""
    stamp = report.name.partition("-")[0]
    # The stack's own state directory: the bench makes its sandbox under it.
    assert not (Settings().state_dir / "bench" / stamp).exists()
    topics = open_bus(f"kafka://{KAFKA_BOOTSTRAP}/events_raw").admin.list_topics().topics  # type: ignore[attr-defined]
    assert not [t for t in topics if t.startswith(f"bench_{stamp.lower()}")]
