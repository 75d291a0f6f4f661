"""One run's whole output (hot store, archive, dead letters) against the oracle."""

from __future__ import annotations

from urllib.parse import urlsplit

import orjson
import pandas as pd

from app.chaos.oracle import compute
from app.events.contract import Event
from app.events.rejects import validate
from tests.support.compare import COUNTED, assert_minutes_match, assert_sessions_match
from tests.support.pipeline_run import Run, read_all


def check_against_oracle(run: Run, values: list[bytes], sizes: list[int]) -> None:
    """The outputs of ``run`` equal the oracle's over ``values`` read in batches of ``sizes``.

    ``values`` are the raw records in the order the job's batches took them;
    the dead letters counted are those the job wrote (their source is the bus).
    """
    oracle = compute(values, batch_sizes=sizes)
    minutes = run.hot("kpi_minutes", "minute")
    assert_minutes_match(minutes, oracle)
    assert minutes["minute"].is_unique

    valid = [v for v in values if isinstance(validate(v), Event)]
    rejected = len(values) - len(valid)
    assert int(minutes["deadlettered"].sum()) == rejected
    letters = [orjson.loads(m.value) for m in read_all(run.dead)]
    source = f"{urlsplit(run.events.url).scheme}:"
    from_job = {d["dead_letter_id"] for d in letters if d["source"].startswith(source)}
    assert len(from_job) == rejected

    last_time = pd.Timestamp(max(e.event_time for e in map(validate, valid)))  # type: ignore[union-attr]
    sessions = run.hot("sessions", "session_id")
    assert_sessions_match(sessions, oracle, last_time)

    events = run.archived("events")
    assert len(events) == int(minutes["events"].sum())
    assert events["event_id"].is_unique
    assert len(run.archived("late_events")) == int(minutes["late_dropped"].sum())
    archived_sessions = run.archived("sessions")
    assert sorted(archived_sessions["session_id"]) == sorted(sessions["session_id"])
    final = run.archived("kpi_minutes")
    assert final["minute"].is_unique
    assert final["final"].all()
    hot_final = minutes[minutes["final"]].set_index("minute")
    final = final.set_index(pd.to_datetime(final["minute"], utc=True))
    assert set(final.index) == set(hot_final.index)
    # Late events may still reach a final minute: only late_dropped may move after archiving.
    kpis = [c for c in COUNTED if c != "late_dropped"]
    archived_kpis = final.sort_index()[kpis].to_numpy(dtype="int64")
    assert (archived_kpis == hot_final.sort_index()[kpis].to_numpy(dtype="int64")).all()
