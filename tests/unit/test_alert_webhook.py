"""The alert webhook against a real local HTTP receiver: Slack-compatible JSON, retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from app.alerts.engine import Transition
from app.alerts.webhook import Webhook, payload
from app.pipeline.backoff import Backoff
from tests.support.webhook import Receiver

FIRED = Transition(
    rule="dependency_down",
    labels=(("dependency", "hot_store"),),
    kind="firing",
    at=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
    value=0.0,
    summary="a dependency does not answer",
    severity="critical",
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def quick(sleeps: list[float]) -> Backoff:
    return Backoff(budget_s=30.0, first_s=1.0, cap_s=4.0, sleep=sleeps.append)


def test_a_firing_and_a_resolve_are_posted_as_slack_messages(receiver: Receiver) -> None:
    resolved = Transition(**{**FIRED.__dict__, "kind": "resolved", "value": 1.0})
    deliveries = Webhook(receiver.url, backoff=quick([])).send([FIRED, resolved])
    assert [(d.ok, d.status, d.attempts) for d in deliveries] == [(True, 200, 1), (True, 200, 1)]
    first, second = receiver.bodies
    assert first["text"] == (
        "[FIRING] dependency_down (dependency=hot_store): a dependency does not answer"
    )
    assert first["attachments"][0]["color"] == "#d00000"
    assert second["text"].startswith("[resolved] dependency_down")
    assert first == payload(FIRED)


def test_429_and_5xx_are_retried_with_back_off(receiver: Receiver) -> None:
    receiver.statuses = [503, 429, 200]
    sleeps: list[float] = []
    [delivery] = Webhook(receiver.url, backoff=quick(sleeps)).send([FIRED])
    assert (delivery.ok, delivery.attempts) == (True, 3) and sleeps == [1.0, 2.0]


def test_a_client_error_is_final_and_reported_not_raised(receiver: Receiver) -> None:
    receiver.statuses = [404]
    [delivery] = Webhook(receiver.url, backoff=quick([])).send([FIRED])
    assert (delivery.ok, delivery.status, delivery.attempts) == (False, 404, 1)


def test_a_receiver_that_is_down_gives_up_within_the_budget() -> None:
    sleeps: list[float] = []
    clock = iter(range(0, 1000, 5))
    backoff = Backoff(
        budget_s=12.0, first_s=1.0, cap_s=4.0, sleep=sleeps.append, clock=lambda: float(next(clock))
    )
    [delivery] = Webhook("http://127.0.0.1:9/hook", timeout_s=0.5, backoff=backoff).send([FIRED])
    assert not delivery.ok and delivery.status is None and delivery.attempts >= 2
    assert "no answer from the webhook" in delivery.error


def test_logs_name_the_host_not_the_secret_path(caplog: pytest.LogCaptureFixture) -> None:
    url = "http://127.0.0.1:9/services/T000/B000/s3cr3tT0ken"
    Webhook(url, timeout_s=0.2, backoff=Backoff(budget_s=0)).send([FIRED])
    assert "http://127.0.0.1" in caplog.text and "s3cr3tT0ken" not in caplog.text
