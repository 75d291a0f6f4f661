"""One evaluation round of the alert rules: the new state, and what fired or resolved.

Observations and the previous state go in; the new state and the transitions come out.
A pure function of its inputs, so it is tested without services and gives the same answer
in a loop or in a scheduled invocation. Semantics follow Prometheus's: each series of a rule's
metric is its own alert; a condition that holds is ``pending`` until it has held ``for_s``
seconds, then ``firing``; a firing alert whose condition no longer holds (or whose series is
gone) is ``resolved``. A pending one that stops holding just goes away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from app.alerts.rules import Rule

#: A series' labels, sorted: ``(("dependency", "hot_store"),)``.
Labels = tuple[tuple[str, str], ...]
#: Per metric, each series' current value.
Observations = Mapping[str, Mapping[Labels, float]]
#: An alert's identity: its rule and its series.
Key = tuple[str, Labels]


@dataclass(frozen=True)
class AlertState:
    """An alert whose condition holds: pending, or firing since ``fired_at``."""

    rule: str
    labels: Labels
    state: Literal["pending", "firing"]
    #: When the condition started to hold.
    since: datetime
    value: float
    fired_at: datetime | None = None

    @property
    def key(self) -> Key:
        """Its rule and series."""
        return (self.rule, self.labels)


@dataclass(frozen=True)
class Transition:
    """An alert fired or resolved: what goes to the history and the webhook."""

    rule: str
    labels: Labels
    kind: Literal["firing", "resolved"]
    at: datetime
    #: The value that fired it, or the last one seen before it resolved.
    value: float
    summary: str
    severity: str


def evaluate(
    rules: Sequence[Rule],
    observations: Observations,
    previous: Mapping[Key, AlertState],
    now: datetime,
) -> tuple[dict[Key, AlertState], list[Transition]]:
    """The alerts after this round, and what fired or resolved in it."""
    current: dict[Key, AlertState] = {}
    transitions: list[Transition] = []
    by_name = {rule.name: rule for rule in rules}
    for rule in rules:
        for labels, value in sorted(observations.get(rule.metric, {}).items()):
            if not rule.holds(value):
                continue
            key = (rule.name, labels)
            old = previous.get(key)
            state = _advance(rule, old, labels, value, now)
            if state.state == "firing" and (old is None or old.state == "pending"):
                transitions.append(_transition(rule, state, "firing", now))
            current[key] = state
    for key, old in previous.items():
        if key in current or old.state != "firing":
            continue
        configured = by_name.get(old.rule)
        summary = configured.summary if configured else f"rule {old.rule} (no longer configured)"
        severity = configured.severity if configured else "info"
        transitions.append(
            Transition(old.rule, old.labels, "resolved", now, old.value, summary, severity)
        )
    return current, transitions


def _advance(
    rule: Rule, old: AlertState | None, labels: Labels, value: float, now: datetime
) -> AlertState:
    """The state of a series whose condition holds now."""
    if old is None:
        old = AlertState(rule.name, labels, "pending", since=now, value=value)
    if old.state == "firing":
        return replace(old, value=value)
    if (now - old.since).total_seconds() >= rule.for_s:
        return replace(old, state="firing", value=value, fired_at=now)
    return replace(old, value=value)


def _transition(
    rule: Rule, state: AlertState, kind: Literal["firing", "resolved"], now: datetime
) -> Transition:
    return Transition(rule.name, state.labels, kind, now, state.value, rule.summary, rule.severity)
