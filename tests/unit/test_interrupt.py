"""The first Ctrl-C only asks a producer loop to stop; the second one interrupts."""

from __future__ import annotations

import os
import signal

import pytest

from app.producers.interrupt import graceful_interrupt


def test_first_sigint_sets_the_flag_and_the_second_raises() -> None:
    before = signal.getsignal(signal.SIGINT)
    with graceful_interrupt() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(5)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            signal.sigtimedwait([], 0)  # give the handler a bytecode boundary to run at
    assert signal.getsignal(signal.SIGINT) is before
