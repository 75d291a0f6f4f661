"""One run's whole output (hot store, archive, dead letters) against the oracle."""

from __future__ import annotations

import orjson

from app.chaos.verify import Outputs, verify
from tests.support.pipeline_run import Run, read_all


def check_against_oracle(run: Run, values: list[bytes], sizes: list[int]) -> None:
    """The outputs of ``run`` equal the oracle's over ``values`` read in batches of ``sizes``.

    ``values`` are the raw records in the order the job's batches took them;
    the dead letters counted are those the job wrote (their source is the bus).
    """
    outputs = Outputs(
        minutes=run.hot("kpi_minutes", "minute"),
        sessions=run.hot("sessions", "session_id"),
        archived={
            name: run.archived(name)
            for name in ("events", "late_events", "sessions", "kpi_minutes")
        },
        dead_letters=[orjson.loads(m.value) for m in read_all(run.dead)],
        bus_url=run.events.url,
    )
    verdict = verify(outputs, values, sizes)
    assert verdict.closed_sessions > 0, "no session closes: the traffic is too short"
    assert verdict.ok, verdict.describe()
