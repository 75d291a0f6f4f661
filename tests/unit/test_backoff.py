"""The sinks' back-off: a dependency down is waited out within the budget, then the error stands."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from adapters.errors import TerminalError, TransientError
from app.pipeline.backoff import Backoff


class FakeTime:
    """A clock that moves only when slept on; records each wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def down_until(fake: FakeTime, up_at: float) -> Callable[[], str]:
    """A call failing transiently until the fake clock reaches ``up_at``."""

    def call() -> str:
        if fake.now < up_at:
            msg = "hot store unreachable"
            raise TransientError(msg)
        return "written"

    return call


def backoff(fake: FakeTime, budget_s: float) -> Backoff:
    return Backoff(budget_s=budget_s, clock=fake.clock, sleep=fake.sleep)


def test_a_sixty_second_outage_is_waited_out_with_capped_doubling_waits() -> None:
    fake = FakeTime()
    assert backoff(fake, 600).call("hot store", down_until(fake, 60)) == "written"
    assert fake.waits[:6] == [0.5, 1, 2, 4, 8, 10]
    assert max(fake.waits) == 10  # a recovered store is noticed within 10 s
    assert 60 <= fake.now < 70


def test_past_the_budget_the_last_error_propagates(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime()
    with caplog.at_level(logging.WARNING), pytest.raises(TransientError, match="unreachable"):
        backoff(fake, 30).call("archive events", down_until(fake, 1e9))
    assert fake.now <= 30
    assert "giving up" in caplog.text and "archive events" in caplog.text


def test_a_zero_budget_fails_at_once() -> None:
    fake = FakeTime()
    with pytest.raises(TransientError):
        backoff(fake, 0).call("x", down_until(fake, 1))
    assert fake.waits == []


def test_terminal_errors_are_not_retried() -> None:
    fake = FakeTime()
    calls = []

    def refuse() -> None:
        calls.append(1)
        msg = "authentication failed"
        raise TerminalError(msg)

    with pytest.raises(TerminalError):
        backoff(fake, 600).call("hot store", refuse)
    assert calls == [1] and fake.waits == []
