"""Alert state and history in the hot store, where the API reads them for ``GET /alerts``.

The state of every pending or firing alert is one document, rewritten whole after each
evaluation round, so a round's outcome lands at once and a restarted loop carries on from the
last one (a pending alert keeps its ``since``). Each transition is a document of the history,
keyed by rule, series, kind and time, so a retried write adds nothing twice. Only what
MongoDB, DocumentDB, Atlas and FerretDB all do: upserts, ranges on one field, and a TTL index
where the server has one (the retention sweep otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from adapters.ports import HotStore
from app.alerts.engine import AlertState, Key, Labels, Transition

if TYPE_CHECKING:  # the API reads the store, and its image has no HTTP client (httpx)
    from app.alerts.webhook import Delivery

#: The one document of the current state.
STATE = "alert_state"
#: One document per transition.
HISTORY = "alert_events"
_LOOP = "alerts"


def _labels(doc: Mapping[str, Any]) -> Labels:
    return tuple(sorted((str(k), str(v)) for k, v in dict(doc).items()))


def _state_doc(state: AlertState) -> dict[str, Any]:
    return {
        "rule": state.rule,
        "labels": dict(state.labels),
        "state": state.state,
        "since": state.since,
        "value": state.value,
        "fired_at": state.fired_at,
    }


def event_id(transition: Transition) -> str:
    """The history key of a transition: a retried write replaces, never adds."""
    labels = ",".join(f"{k}={v}" for k, v in transition.labels)
    return f"{transition.rule}|{labels}|{transition.kind}|{transition.at.isoformat()}"


class AlertStore:
    """Reads and writes the alert collections of one hot store."""

    def __init__(self, hot: HotStore, retention: timedelta = timedelta(days=7)) -> None:
        """``retention``: how long the history is kept (as the KPIs are, by default)."""
        self.hot, self.retention = hot, retention

    def prepare(self) -> None:
        """Indexes for the reads of ``GET /alerts`` and for retention; idempotent."""
        self.hot.ensure_index(HISTORY, ["id"], unique=True)
        self.hot.ensure_index(HISTORY, ["at"])
        self.hot.ensure_ttl(HISTORY, "at", max(1, int(self.retention.total_seconds())))

    def load(self) -> dict[Key, AlertState]:
        """The state the last round left (empty before the first)."""
        doc = self.hot.latest(STATE, "loop")
        states = {}
        for raw in (doc or {}).get("alerts", []):
            state = AlertState(
                rule=raw["rule"],
                labels=_labels(raw.get("labels") or {}),
                state=raw["state"],
                since=raw["since"],
                value=float(raw["value"]),
                fired_at=raw.get("fired_at"),
            )
            states[state.key] = state
        return states

    def save(self, states: Mapping[Key, AlertState], evaluated_at: datetime) -> None:
        """Replace the state with this round's."""
        doc = {
            "loop": _LOOP,
            "evaluated_at": evaluated_at,
            "alerts": [_state_doc(s) for _, s in sorted(states.items())],
        }
        self.hot.upsert_many(STATE, [doc], ["loop"])

    def record(
        self, transitions: Sequence[Transition], deliveries: Sequence[Delivery | None] = ()
    ) -> None:
        """Add the round's transitions to the history, with their webhook outcome if any."""
        docs = []
        for n, t in enumerate(transitions):
            doc: dict[str, Any] = {
                "id": event_id(t),
                "rule": t.rule,
                "labels": dict(t.labels),
                "kind": t.kind,
                "at": t.at,
                "value": t.value,
                "summary": t.summary,
                "severity": t.severity,
            }
            if n < len(deliveries) and (d := deliveries[n]) is not None:
                doc["webhook"] = {"ok": d.ok, "status": d.status, "attempts": d.attempts}
            docs.append(doc)
        if docs:
            self.hot.upsert_many(HISTORY, docs, ["id"])

    def active(self) -> tuple[datetime | None, list[dict[str, Any]]]:
        """When the loop last evaluated, and the alerts pending or firing then."""
        doc = self.hot.latest(STATE, "loop")
        if doc is None:
            return None, []
        return doc.get("evaluated_at"), list(doc.get("alerts", []))

    def recent(self, since: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """Transitions at or after ``since``, newest first, at most ``limit``."""
        return self.hot.find_range(HISTORY, "at", start=since, limit=limit, descending=True)

    def sweep(self, now: datetime) -> int:
        """Delete history older than the retention (stores without TTL indexes)."""
        return self.hot.delete_before(HISTORY, "at", now - self.retention)
