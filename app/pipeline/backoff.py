"""Waiting out a dependency that is down, without failing the batch.

A sink write that fails transiently (the hot store restarting, the archive's
bucket throttling) is retried with capped exponential back-off for as long as
the outage budget allows. The batch simply takes longer: Spark does not fail
it, so there is no restart loop, and the checkpoint never moves past a batch
whose writes did not all land. Past the budget the last error propagates and
the job stops with it (a supervisor restarts it; the batch runs again).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from adapters.errors import TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Retries on transient failures: ``first_s`` doubling up to ``cap_s``, within ``budget_s``.

    Attributes:
        budget_s: how long one call may keep failing before its error propagates (0: no retry).
        first_s: the first wait.
        cap_s: the longest wait between two attempts, so a recovered dependency is
            noticed within this many seconds.
    """

    budget_s: float = 600.0
    first_s: float = 0.5
    cap_s: float = 10.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def call(self, action: str, attempt: Callable[[], T]) -> T:
        """``attempt()``, retried on ``TransientError`` until it succeeds or the budget is spent."""
        started = self.clock()
        wait = self.first_s
        tries = 0
        while True:
            tries += 1
            try:
                result = attempt()
            except TransientError as e:
                waited = self.clock() - started
                if waited + wait > self.budget_s:
                    log.error(
                        "%s failed %d times in %.0f s; giving up: %s", action, tries, waited, e
                    )
                    raise
                log.warning(
                    "%s failed (%s); retry %d in %.1f s (failing %.0f s, gives up at %.0f s)",
                    action,
                    e,
                    tries,
                    wait,
                    waited,
                    self.budget_s,
                )
                self.sleep(wait)
                wait = min(wait * 2, self.cap_s)
            else:
                if tries > 1:
                    log.warning("%s succeeded after %d tries", action, tries)
                return result
