"""The stream job reading Pub/Sub (pstest) through its Python data source.

1. Replayed traffic (duplicates, late and malformed records) drained by
   ``streamkit pipeline --once``: every output equals the independent oracle's
   over the batches the job planned (read back from the source's journal), and
   the job's subscription is left with nothing unacknowledged.
2. The job killed (``kill -9`` of its process group) after a batch was read
   and written, before Spark committed it, twice: the restarted job re-runs
   the batch from the journal, Pub/Sub redelivers the unacknowledged messages,
   the source recognises and acknowledges them, and the outputs still equal the
   oracle's: nothing lost, nothing counted twice.

pstest keeps one unacknowledged message per ordering key (user), so the data
is capped at two events per user to keep the number of batches small. It also
delivers in no particular order across users, so with the whole hour published
before the job starts most records after the first batch are behind the
watermark: the oracle, fed the journal's batches, counts them late exactly so.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.bus.pubsub_journal import Journal
from adapters.ports import Bus
from app.generate import Options, generate
from tests.support.oracle_checks import check_against_oracle
from tests.support.pipeline_run import Run
from tests.support.pubsub import (
    JoinedEarly,
    cap_per_user,
    journal_batches,
    open_pubsub,
    require_pubsub,
    unacknowledged,
)

pytestmark = [
    pytest.mark.spark,
    pytest.mark.integration,
    pytest.mark.emulators,
    pytest.mark.timeout(900),
]

PER_BATCH = "500"


@dataclass
class PubSubRun:
    """A pipeline set-up on fresh Pub/Sub topics, with the source's journal in ``journal``."""

    run: Run
    journal: Path
    subscription: str


@pytest.fixture
def pubsub_run(tmp_path: Path) -> Iterator[PubSubRun]:
    require_pubsub()
    name = uuid.uuid4().hex[:12]
    journal = tmp_path / "journal"
    events = open_pubsub(f"events_{name}", f"journal={journal}&journal_keep=100000")
    dead = open_pubsub(f"dead_{name}")
    made: list[Bus] = [events, dead]
    try:
        events.ensure(3)
        dead.ensure(1)
        run = Run.fresh(events, JoinedEarly(dead), tmp_path / "run")  # type: ignore[arg-type]
        yield PubSubRun(run, journal, f"events_{name}--pipeline")
        run.drop()
    finally:
        for bus in made:
            bus.delete()
            bus.close()


@pytest.fixture
def traffic(tmp_path: Path) -> Path:
    """An hour of generated traffic (so sessions close), at most 2 events per user."""
    full = tmp_path / "full.csv"
    generate(Options.over(full, 6_000, 60))
    return cap_per_user(full, tmp_path / "events.csv", per_user=2)


def replay(run: Run, data: Path) -> int:
    """Publish ``data``; the number of records that went to the events topic."""
    done = run.command("replay", str(data), "--rate", "max")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    published = re.search(r"to events topic\s+([\d,]+)", done.stdout)
    assert published, done.stdout
    return int(published.group(1).replace(",", ""))


def drain(run: Run, **extra: str) -> None:
    job = run.command(
        "pipeline", "--once", STREAMKIT_PIPELINE__MAX_RECORDS_PER_BATCH=PER_BATCH, **extra
    )
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert "pipeline stopped" in job.stdout


def test_the_job_on_pubsub_equals_the_oracle(pubsub_run: PubSubRun, traffic: Path) -> None:
    run = pubsub_run.run
    published = replay(run, traffic)
    drain(run)

    planned = journal_batches(pubsub_run.journal)
    assert sum(planned.sizes) == published, "every published record in one batch"
    assert len(set(planned.message_ids)) == published, "no record planned twice"
    assert planned.redelivered == 0
    assert len([n for n in planned.sizes if n]) > 3
    check_against_oracle(run, planned.values, planned.sizes)
    assert unacknowledged(pubsub_run.subscription) == 0, "every batch's messages acknowledged"


def test_a_kill_between_read_and_commit_counts_redelivered_events_once(
    pubsub_run: PubSubRun, traffic: Path
) -> None:
    run = pubsub_run.run
    published = replay(run, traffic)
    # Batch 0 killed once all its sinks wrote; then, after the restart re-ran it,
    # batch 1 (more users' events, and Pub/Sub's copies of batch 0) after the hot store.
    for point, batch in (("after_archive", 0), ("after_hot_store", 1)):
        killed = run.command(
            "pipeline",
            "--once",
            STREAMKIT_PIPELINE__MAX_RECORDS_PER_BATCH=PER_BATCH,
            STREAMKIT_PIPELINE__CRASH_AT=f"{point}@{batch}",
        )
        assert killed.returncode == -9, killed.stdout[-2000:] + killed.stderr[-2000:]
        assert f"crash point {point}@{batch}" in killed.stderr
        # The killed batch had read messages: it is journaled, with rows, and unacknowledged.
        (query_run,) = [p.name for p in pubsub_run.journal.iterdir() if p.is_dir()]
        assert Journal(str(pubsub_run.journal), query_run).read(batch + 1).num_rows > 0
    drain(run)

    planned = journal_batches(pubsub_run.journal)
    assert sum(planned.sizes) == published, "every published record in one batch"
    assert len(set(planned.message_ids)) == published, "no record planned twice"
    assert planned.redelivered > 0, "Pub/Sub redelivered what the killed jobs had not acknowledged"
    check_against_oracle(run, planned.values, planned.sizes)
    assert unacknowledged(pubsub_run.subscription) == 0
