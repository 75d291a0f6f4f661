"""The optional alert webhook: Slack-compatible JSON on firing and on resolve, with retries.

Slack's incoming webhooks (and Mattermost's, Rocket.Chat's, Teams' Slack-compatible ones)
take ``{"text": ..., "attachments": [...]}``. A delivery is retried with capped back-off
(:class:`app.pipeline.backoff.Backoff`) on a connection error, a timeout, 429 or 5xx, for a
bounded time; any other answer is final. The outcome is returned, never raised: a receiver
that is down must not stop the evaluation of alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from adapters.errors import TransientError
from app.alerts.engine import Transition
from app.pipeline.backoff import Backoff

log = logging.getLogger(__name__)

_COLORS = {"critical": "#d00000", "warning": "#e8a100", "info": "#3a7bd5"}
_RESOLVED_COLOR = "#2eb886"


def _host(url: str) -> str:
    """Where a webhook points, for logs: its path is often the secret (Slack's is)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" if parts.hostname else "(a bad URL)"


def payload(transition: Transition) -> dict[str, Any]:
    """One transition as a Slack-compatible message."""
    labels = ", ".join(f"{k}={v}" for k, v in transition.labels)
    state = "FIRING" if transition.kind == "firing" else "resolved"
    title = f"[{state}] {transition.rule}" + (f" ({labels})" if labels else "")
    return {
        "text": f"{title}: {transition.summary}",
        "attachments": [
            {
                "color": _RESOLVED_COLOR
                if transition.kind == "resolved"
                else _COLORS.get(transition.severity, _COLORS["warning"]),
                "fields": [
                    {"title": "rule", "value": transition.rule, "short": True},
                    {"title": "severity", "value": transition.severity, "short": True},
                    {"title": "value", "value": f"{transition.value:g}", "short": True},
                    {"title": "at", "value": transition.at.isoformat(), "short": True},
                ],
            }
        ],
    }


@dataclass(frozen=True)
class Delivery:
    """How one call ended: ``ok``, with the final status (None: no answer) and attempts."""

    ok: bool
    status: int | None
    attempts: int
    error: str = ""


class _Retry(TransientError):
    """An answer worth another attempt (429, 5xx, no answer)."""


class Webhook:
    """Posts transitions to one URL."""

    def __init__(self, url: str, *, timeout_s: float = 5.0, backoff: Backoff | None = None):
        """``backoff`` bounds the retries of one delivery (default: 60 s in all)."""
        self.url, self.timeout_s = url, timeout_s
        self.backoff = backoff or Backoff(budget_s=60.0, first_s=1.0, cap_s=10.0)

    def send(self, transitions: Sequence[Transition]) -> list[Delivery]:
        """Deliver each transition in turn; the outcome of each."""
        with httpx.Client(timeout=self.timeout_s) as client:
            return [self._deliver(client, t) for t in transitions]

    def _deliver(self, client: httpx.Client, transition: Transition) -> Delivery:
        attempts = 0
        body = payload(transition)

        def attempt() -> int:
            nonlocal attempts
            attempts += 1
            try:
                status = client.post(self.url, json=body).status_code
            except httpx.HTTPError as e:
                msg = f"no answer from the webhook: {type(e).__name__}"
                raise _Retry(msg) from e
            if status == 429 or status >= 500:
                msg = f"the webhook answered {status}"
                raise _Retry(msg)
            return status

        try:
            status = self.backoff.call(f"alert webhook ({transition.rule})", attempt)
        except _Retry as e:
            log.error("alert webhook to %s: %s; giving up", _host(self.url), e)
            return Delivery(ok=False, status=None, attempts=attempts, error=str(e))
        ok = 200 <= status < 300
        if not ok:
            log.error("alert webhook to %s answered %d; not retried", _host(self.url), status)
        return Delivery(ok=ok, status=status, attempts=attempts, error="" if ok else str(status))
