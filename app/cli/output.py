"""Printing and error handling shared by every command."""

from __future__ import annotations

import functools
import signal
import sys
import time
from collections.abc import Callable
from typing import Generic, ParamSpec, TypeVar

import typer

from adapters.errors import StreamkitError

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def echo(message: str) -> None:
    """Progress and results go to stdout, flushed at once so long steps show live."""
    typer.echo(message)


def fail_on_error(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a ``StreamkitError`` into a one-paragraph message and exit code 2, no traceback.

    Our errors already name the fix; a traceback would bury it. Anything else
    is a bug and keeps its traceback.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except StreamkitError as e:
            typer.secho(f"error: {e}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None

    return wrapper


def exit_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit``, so ``finally`` blocks stop the children a command started.

    Python's default SIGTERM ends the process at once, leaving its background
    jobs (the stream job, the API) running in their own process groups.
    """
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def parse_rate(value: str) -> float | None:
    """A ``--rate`` value: ``max`` → None (unpaced), else a positive number of events/s."""
    if value.lower() == "max":
        return None
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if rate <= 0:
        msg = f"--rate must be a positive number of events/s or 'max', not {value!r}"
        raise typer.BadParameter(msg)
    return rate


class ProgressLine(Generic[T]):
    """One progress line: rewritten in place on a terminal, every few seconds in a log."""

    def __init__(self, render: Callable[[T], str], every_s: float = 5.0) -> None:
        self.render = render
        self.tty = sys.stdout.isatty()
        self.every_s = 0.0 if self.tty else every_s
        self._last = 0.0

    def __call__(self, progress: T) -> None:
        """Show ``progress``, unless the last line was too recent for a log."""
        now = time.monotonic()
        if now - self._last < self.every_s:
            return
        self._last = now
        line = self.render(progress)
        if self.tty:
            sys.stdout.write("\r" + line + "   ")
            sys.stdout.flush()
        else:
            echo(line)

    def close(self) -> None:
        """End the in-place line."""
        if self.tty:
            sys.stdout.write("\n")
