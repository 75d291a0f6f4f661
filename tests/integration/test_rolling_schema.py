"""A rolling change of the event contract on the real stack: v2 producers, a v1 job, then a v2 job.

Issue 10's schema-evolution test. Version 2 adds ``category_id`` (docs/events.md). The v1 job is
the project's own code at the last commit before version 2 (found in git, checked out into a
temporary worktree, and run from there: its driver and Spark's Python workers import that tree);
the v2 job and producers are the code of this checkout.

1. The v1 job runs; v2 producers (``streamkit replay`` of REES46 rows, which fills ``category_id``)
   publish. The v1 job counts every event and archives them without the new field.
2. The v1 job is stopped and the v2 job started on the same checkpoint. Old producers (``replay``
   from the v1 tree, no ``category_id``, no ``schema_version``) and v2 producers publish, and a
   v2 producer re-sends some events the v1 job counted. Every event is counted exactly once per
   minute, nothing is dead-lettered, and the archive holds the new field for v2 events only.

The REES46 rows are real (``../shared/data``); only their times are moved to a few minutes ago,
one second apart, so that no event is late or in the future.
"""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from adapters.ports import Bus
from app.producers.formats import REES46_COLUMNS, rees46_event_id
from tests.support.background import stop, wait_for
from tests.support.pipeline_run import STREAMKIT, Run, isolated, read_all

pytestmark = [pytest.mark.spark, pytest.mark.integration, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
REES46 = ROOT.parent / "shared" / "data" / "rees46_2019-Oct_first4999rows_phamhoa2416.csv"
V2_SCHEMA = "schemas/event.v2.json"
#: Events per group: v2 producers under the v1 job, then old and v2 producers under the v2 job,
#: then events the v1 job counted, sent again by a v2 producer.
FIRST, OLD, NEW, AGAIN = 200, 140, 144, 20
_TYPES = {"view": "page_views", "cart": "add_to_carts", "purchase": "purchases"}
_WAIT_S = 420


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
    )


def v1_commit() -> tuple[str, str]:
    """The last commit before version 2 of the contract, and how it was found.

    The parent of the commit that added ``schemas/event.v2.json``; while that file is only in
    the working tree (not committed yet), HEAD. Fails when the history is not there (no
    repository, or a shallow clone that stops at or after that commit).
    """
    if _git("rev-parse", "--is-shallow-repository").returncode != 0:
        pytest.fail(f"{ROOT} is not a git clone: the rolling test needs the project's history")
    added = _git("log", "--diff-filter=A", "--format=%H", "--", V2_SCHEMA).stdout.split()
    if added:
        first = added[-1]  # git log lists the newest first
        parent = _git("rev-parse", "--verify", "--quiet", f"{first}^")
        if parent.returncode != 0:  # a shallow clone's first commit seems to add every file
            pytest.fail(
                f"the history before {first[:12]}, which has {V2_SCHEMA}, is not in this clone "
                "(shallow?): the rolling test runs the job of the commit before it; "
                "`git fetch --unshallow` first",
                pytrace=False,
            )
        return parent.stdout.strip(), f"the parent of {first[:12]}, which added {V2_SCHEMA}"
    if (ROOT / V2_SCHEMA).exists():
        head = _git("rev-parse", "--verify", "HEAD").stdout.strip()
        return head, f"HEAD: {V2_SCHEMA} is in the working tree but not committed yet"
    pytest.fail(f"no {V2_SCHEMA} in the history or the working tree: nothing to roll out")


@pytest.fixture(scope="module")
def v1_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A worktree of :func:`v1_commit`, removed afterwards."""
    commit, why = v1_commit()
    print(f"v1 code: {commit} ({why})")  # which commit the test ran
    for path, present in (("schemas/event.v1.json", True), (V2_SCHEMA, False)):
        found = _git("cat-file", "-e", f"{commit}:{path}").returncode == 0
        assert found is present, f"{commit} {'lacks' if present else 'has'} {path}"
    tree = tmp_path_factory.mktemp("v1") / "tree"
    added = _git("worktree", "add", "--detach", str(tree), commit)
    assert added.returncode == 0, added.stderr
    try:
        yield tree
    finally:
        removed = _git("worktree", "remove", "--force", str(tree))
        assert removed.returncode == 0, removed.stderr


def old_env(run: Run, tree: Path) -> dict[str, str]:
    """The environment of a command run from the v1 tree: it comes first on the path."""
    return run.env(PYTHONPATH=str(tree), PYSPARK_PYTHON=sys.executable)


def imports_v1(run: Run, tree: Path) -> None:
    """The v1 tree is what both the driver and Spark's Python workers import, not this one."""
    probe = """
import app.events.contract as contract
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate())
def where(_):
    import app.events.contract as c
    return (c.SCHEMA_VERSION, c.__file__)
workers = spark.sparkContext.parallelize([0, 1], 2).map(where).collect()
print(repr(((contract.SCHEMA_VERSION, contract.__file__), workers)))
spark.stop()
"""
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=old_env(run, tree),
        cwd="/",  # not the tree: the path alone must bring it in
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    driver, workers = eval(done.stdout.strip().splitlines()[-1])  # the probe's own repr
    for version, file in [driver, *workers]:
        assert version == 1 and Path(file).is_relative_to(tree), (driver, workers)


def command(run: Run, *args: str, tree: Path | None = None) -> str:
    """Run ``streamkit args…`` (from the v1 tree when given) to completion; its output."""
    done = subprocess.run(
        [*STREAMKIT, *args],
        env=old_env(run, tree) if tree else run.env(),
        cwd=tree or ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        start_new_session=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def start_job(run: Run, log: Path, tree: Path | None = None) -> subprocess.Popen[bytes]:
    """The job, running until stopped (from the v1 tree when given); waits until it reads."""
    with log.open("ab") as out:
        job = subprocess.Popen(
            [*STREAMKIT, "pipeline"],
            env=old_env(run, tree) if tree else run.env(),
            cwd=tree or ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def started() -> bool:
        return job.poll() is not None or "checkpoint " in log.read_text(errors="replace")

    wait_for("the job did not start", started, _WAIT_S, log)
    assert job.poll() is None, log.read_text(errors="replace")[-3000:]
    return job


@dataclass(frozen=True)
class Rows:
    """REES46 rows as published, and what the job should make of them."""

    rows: list[list[str]]

    @property
    def ids(self) -> set[str]:
        """Their event ids, as ``replay`` makes them."""
        return {rees46_event_id(r) for r in self.rows}

    def write(self, path: Path) -> Path:
        """As a REES46 CSV file with its header."""
        with path.open("w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows([list(REES46_COLUMNS), *self.rows])
        return path


def rees46_rows(start: datetime) -> list[list[str]]:
    """Real REES46 rows (every cart and purchase, views to fill), one second apart from ``start``.

    Shuffled so each group has every event type; distinct times make distinct event ids.
    """
    with REES46.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    picked = [r for r in rows if r[1] != "view"]
    picked += [r for r in rows if r[1] == "view"][: FIRST + OLD + NEW - len(picked)]
    random.Random(10).shuffle(picked)
    return [
        [f"{start + timedelta(seconds=n):%Y-%m-%d %H:%M:%S} UTC", *row[1:]]
        for n, row in enumerate(picked)
    ]


def expected(rows: list[list[str]]) -> pd.DataFrame:
    """Per minute: the counts of each type and the revenue in cents (each row once)."""
    counts: dict[datetime, Counter[str]] = {}
    for row in rows:
        minute = datetime.strptime(row[0], "%Y-%m-%d %H:%M:%S UTC").replace(second=0, tzinfo=UTC)
        counter = counts.setdefault(minute, Counter())
        counter[_TYPES[row[1]]] += 1
        if row[1] == "purchase":
            counter["revenue_cents"] += int(Decimal(row[6]) * 100)
    columns = [*_TYPES.values(), "revenue_cents"]
    frame = pd.DataFrame(
        [[m, *(c[k] for k in columns)] for m, c in sorted(counts.items())],
        columns=["minute", *columns],
    )
    frame["events"] = frame[list(_TYPES.values())].sum(axis=1)
    return frame


def counted(run: Run) -> pd.DataFrame:
    """The hot store's minute documents, in the columns of :func:`expected`."""
    minutes = run.hot("kpi_minutes", "minute")
    columns = ["minute", *_TYPES.values(), "revenue_cents", "events"]
    if not len(minutes):
        return pd.DataFrame(columns=[*columns, "late_dropped", "deadlettered"])
    minutes["minute"] = pd.to_datetime(minutes["minute"], utc=True)
    return minutes[[*columns, "late_dropped", "deadlettered"]].reset_index(drop=True)


def total(run: Run) -> int:
    """Events counted so far."""
    return int(counted(run)["events"].sum())


def assert_counts(run: Run, rows: list[list[str]]) -> None:
    """The minute documents are exactly the expected counts: nothing lost, late or twice."""
    got = counted(run)
    want = expected(rows)
    assert int(got["late_dropped"].sum()) == 0 and int(got["deadlettered"].sum()) == 0
    got = got[want.columns].astype({c: "int64" for c in want.columns if c != "minute"})
    want["minute"] = pd.to_datetime(want["minute"], utc=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


@pytest.fixture
def run(topics: tuple[Bus, Bus], tmp_path: Path) -> Iterator[Run]:
    with isolated(topics, tmp_path) as setup:
        yield setup


def test_producers_then_the_job_move_to_v2_with_every_event_counted_once(
    run: Run, v1_tree: Path, tmp_path: Path
) -> None:
    imports_v1(run, v1_tree)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=11)
    rows = rees46_rows(start)
    first = Rows(rows[:FIRST])
    old = Rows(rows[FIRST : FIRST + OLD])
    new = Rows(rows[FIRST + OLD :])
    again = Rows(first.rows[:AGAIN])
    assert len(new.rows) == NEW

    # 1. The job on v1; producers already on v2.
    v1_log = tmp_path / "job-v1.log"
    job = start_job(run, v1_log, tree=v1_tree)
    try:
        command(run, "replay", str(first.write(tmp_path / "first.csv")), "--format", "rees46")
        wait_for(
            "the v1 job did not count the v2 events", lambda: total(run) == FIRST, _WAIT_S, v1_log
        )
    finally:
        stop(job)
    assert_counts(run, first.rows)
    archived = run.archived("events")
    assert "category_id" not in archived.columns  # the v1 job's files: it knows no such field
    assert set(archived["event_id"]) == first.ids
    assert set(archived["schema_version"]) == {2}  # stamped by the v2 producer, kept by v1

    # 2. The job on v2, same checkpoint; old producers still publishing, and v2 ones.
    v2_log = tmp_path / "job-v2.log"
    job = start_job(run, v2_log)
    try:
        command(
            run, "replay", str(old.write(tmp_path / "old.csv")), "--format", "rees46", tree=v1_tree
        )
        command(run, "replay", str(new.write(tmp_path / "new.csv")), "--format", "rees46")
        command(run, "replay", str(again.write(tmp_path / "again.csv")), "--format", "rees46")
        everything = FIRST + OLD + NEW
        wait_for(
            "the v2 job did not count every event",
            lambda: total(run) == everything,
            _WAIT_S,
            v2_log,
        )
    finally:
        stop(job)
    command(run, "pipeline", "--once")  # whatever the stopped job left on the bus
    for log in (v1_log, v2_log):  # each stopped at Ctrl-C, after its batch, not failed
        assert "pipeline stopped:" in log.read_text(errors="replace"), log.name
    assert_counts(run, rows)
    assert read_all(run.dead) == []

    archived = run.archived("events").set_index("event_id")
    assert archived.index.is_unique and set(archived.index) == first.ids | old.ids | new.ids
    by_id = {rees46_event_id(r): r[3] for r in rows}  # REES46's category_id
    assert archived.loc[sorted(first.ids | old.ids), "category_id"].isna().all()
    v2 = archived.loc[sorted(new.ids)]
    assert v2["category_id"].to_dict() == {i: by_id[i] for i in new.ids}
    assert set(v2["schema_version"]) == {2}
    # The old producer stamped no version: absent, it reads as 1 (the contract's default).
    assert set(archived.loc[sorted(old.ids), "schema_version"]) == {1}
