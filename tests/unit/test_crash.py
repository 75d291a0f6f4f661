"""Crash points: parsing the plan; an unplanned point never kills."""

from __future__ import annotations

import pytest

from adapters.errors import ConfigurationError
from app.pipeline.crash import CrashPlan, Point


def test_a_plan_names_a_point_and_a_batch() -> None:
    plan = CrashPlan("after_hot_store@5")
    assert (plan.point, plan.batch) == (Point.AFTER_HOT_STORE, 5)


@pytest.mark.parametrize("spec", ["after_hot_store", "nowhere@1", "after_archive@x", "@3"])
def test_a_bad_plan_names_the_accepted_form(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="<point>@<batch id>.*before_sinks"):
        CrashPlan(spec)


def test_other_points_and_batches_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    killed: list[object] = []
    monkeypatch.setattr("os.killpg", lambda *a: killed.append(a))
    plan = CrashPlan("after_archive@2")
    plan.reached(Point.AFTER_ARCHIVE, 1)
    plan.reached(Point.AFTER_HOT_STORE, 2)
    CrashPlan().reached(Point.AFTER_ARCHIVE, 2)
    assert killed == []
    plan.reached(Point.AFTER_ARCHIVE, 2)
    assert len(killed) == 1
