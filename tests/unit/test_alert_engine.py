"""One evaluation round of the alert rules, on a fake clock: pending, firing, resolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.alerts.engine import AlertState, Key, Labels, Observations, Transition, evaluate
from app.alerts.rules import Rule

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LATENCY = Rule(
    name="latency_p95",
    summary="P95 above 2 s",
    metric="p95",
    op=">",
    threshold=2.0,
    for_s=120,
)
DOWN = Rule(name="dependency_down", summary="down", metric="up", op="<", threshold=1.0)
HOT: Labels = (("dependency", "hot_store"),)
BUS: Labels = (("dependency", "bus"),)


class Rounds:
    """Evaluation rounds carrying their state, as the loop does."""

    def __init__(self, *rules: Rule) -> None:
        self.rules = list(rules)
        self.state: dict[Key, AlertState] = {}

    def at(self, seconds: float, observations: Observations) -> list[Transition]:
        self.state, transitions = evaluate(
            self.rules, observations, self.state, T0 + timedelta(seconds=seconds)
        )
        return transitions


def test_a_condition_fires_only_after_holding_for_its_window_then_resolves() -> None:
    rounds = Rounds(LATENCY)
    assert rounds.at(0, {"p95": {(): 2.5}}) == []
    assert rounds.state[("latency_p95", ())].state == "pending"
    assert rounds.at(119, {"p95": {(): 3.0}}) == []
    [fired] = rounds.at(120, {"p95": {(): 2.8}})
    assert (fired.kind, fired.value, fired.at) == ("firing", 2.8, T0 + timedelta(seconds=120))
    assert rounds.state[("latency_p95", ())].fired_at == fired.at
    assert rounds.at(150, {"p95": {(): 4.0}}) == []  # still firing: nothing new
    [resolved] = rounds.at(160, {"p95": {(): 1.0}})
    assert (resolved.kind, resolved.value, resolved.summary) == ("resolved", 4.0, "P95 above 2 s")
    assert rounds.state == {}


def test_a_pending_condition_that_stops_holding_goes_away_silently() -> None:
    rounds = Rounds(LATENCY)
    rounds.at(0, {"p95": {(): 2.5}})
    assert rounds.at(60, {"p95": {(): 1.5}}) == [] and rounds.state == {}
    # The window starts again: 2 minutes from the next breach, not the first.
    rounds.at(70, {"p95": {(): 2.5}})
    assert rounds.at(180, {"p95": {(): 2.5}}) == []
    assert rounds.at(190, {"p95": {(): 2.5}})[0].kind == "firing"


def test_each_series_is_its_own_alert_and_a_zero_window_fires_at_once() -> None:
    rounds = Rounds(DOWN)
    fired = rounds.at(0, {"up": {HOT: 0.0, BUS: 1.0}})
    assert [(t.labels, t.kind) for t in fired] == [(HOT, "firing")]
    fired = rounds.at(10, {"up": {HOT: 0.0, BUS: 0.0}})
    assert [(t.labels, t.kind) for t in fired] == [(BUS, "firing")]
    resolved = rounds.at(20, {"up": {HOT: 1.0, BUS: 0.0}})
    assert [(t.labels, t.kind) for t in resolved] == [(HOT, "resolved")]


def test_a_series_that_disappears_resolves() -> None:
    rounds = Rounds(DOWN)
    rounds.at(0, {"up": {HOT: 0.0}})
    assert [t.kind for t in rounds.at(10, {})] == ["resolved"]


def test_a_firing_alert_of_a_removed_rule_resolves() -> None:
    rounds = Rounds(DOWN)
    rounds.at(0, {"up": {HOT: 0.0}})
    rounds.rules = []
    [resolved] = rounds.at(10, {"up": {HOT: 0.0}})
    assert resolved.kind == "resolved" and "no longer configured" in resolved.summary
