"""``streamkit alerts``: evaluation rounds over what the job stored, state kept in the hot store.

One process evaluates (docs/monitoring.md says why not the API). Each round:

1. reads the figures (:mod:`app.alerts.observe`): the trailing window of minute documents up
   to the newest, the job's health document, and ``/health``'s dependency checks;
2. evaluates the rules (:func:`app.alerts.engine.evaluate`) against the state in memory;
3. calls the webhook for what fired or resolved;
4. saves the state and appends the transitions to the history.

The hot store is one of the dependencies watched, so a round must work while it is down: the
state lives in memory between rounds (loaded once at start), what could not be saved is
saved by a later round, and the webhook does not wait for the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from adapters.errors import StreamkitError
from adapters.ports import Bus, HotStore
from app.alerts.engine import AlertState, Key, Observations, Transition, evaluate
from app.alerts.figures import read_figures
from app.alerts.rules import DEFAULT_RULES, Rule, load_rules
from app.alerts.store import AlertStore
from app.alerts.webhook import Delivery, Webhook
from app.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Round:
    """What one round saw and did."""

    at: datetime
    observations: Observations
    transitions: list[Transition]
    deliveries: list[Delivery] = field(default_factory=list)
    #: False while the hot store could not take the state (saved by a later round).
    saved: bool = True


class AlertLoop:
    """Rules, the last state, and the ports a round reads and writes."""

    def __init__(
        self,
        settings: Settings,
        hot: HotStore,
        bus: Callable[[], Bus],
        *,
        rules: Sequence[Rule] | None = None,
        webhook: Webhook | None = None,
    ) -> None:
        """``rules`` default to ``settings.alerts.rules_file`` (or the packaged file)."""
        self.settings, self.hot, self.bus = settings, hot, bus
        path = settings.alerts.rules_file
        self.rules = (
            list(rules) if rules is not None else load_rules(Path(path) if path else DEFAULT_RULES)
        )
        url = settings.alerts.webhook_url.get_secret_value()
        self.webhook = webhook if webhook is not None else (Webhook(url) if url else None)
        self.store = AlertStore(hot, timedelta(days=settings.alerts.history_days))
        self.state: dict[Key, AlertState] = {}
        #: Transitions a round could not save, each with its webhook outcome (None: not sent).
        self._unsaved: list[tuple[Transition, Delivery | None]] = []
        self._prepared = False

    def start(self) -> None:
        """Indexes, and the state the last loop left (a pending alert keeps its start).

        With the hot store down, the loop starts with no state (and says so): it is one of
        the dependencies it watches.
        """
        try:
            self.store.prepare()
            self.state = self.store.load()
            self._prepared = True
        except StreamkitError as e:
            log.warning("alerts: could not load the last state, starting without it: %s", e)

    def round(self, now: datetime) -> Round:
        """One evaluation; never raises for a dependency that is down."""
        observations = read_figures(self.settings, self.hot, self.bus, now)
        self.state, transitions = evaluate(self.rules, observations, self.state, now)
        done = Round(now, observations, transitions)
        if transitions and self.webhook is not None:
            done.deliveries = self.webhook.send(transitions)
        for t in transitions:
            log.warning("alert %s %s: %s (value %g)", t.rule, t.kind, t.summary, t.value)
        done.saved = self._save(transitions, done.deliveries, now)
        return done

    def _save(
        self, transitions: Sequence[Transition], deliveries: Sequence[Delivery], now: datetime
    ) -> bool:
        outcomes: Sequence[Delivery | None] = deliveries or [None] * len(transitions)
        pending = [*self._unsaved, *zip(transitions, outcomes, strict=True)]
        try:
            if not self._prepared:  # the store was down when the loop began
                self.store.prepare()
                self._prepared = True
            self.store.record([t for t, _ in pending], [d for _, d in pending])
            self.store.save(self.state, now)
        except StreamkitError as e:
            log.warning("alerts: could not save the state (kept for the next round): %s", e)
            self._unsaved = pending
            return False
        self._unsaved = []
        return True
