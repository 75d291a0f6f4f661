"""Printing and error handling shared by every command."""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
import traceback
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


#: Set to "1" by ``streamkit --debug``. An environment variable rather than a module flag:
#: the commands that run others as child processes (demo, bench, rehearse) pass it on, so
#: a child's error shows its traceback too; and ``STREAMKIT_DEBUG=1`` works without the flag.
DEBUG_ENV = "STREAMKIT_DEBUG"


def debugging() -> bool:
    """True when errors should show their traceback (``--debug`` or ``STREAMKIT_DEBUG=1``)."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def fail_on_error(command: Callable[P, R]) -> Callable[P, R]:
    """End a command that raised with a message on stderr, never a traceback unless debugging.

    A ``StreamkitError`` already names the fix: its message, exit code 2. Any
    other exception is a bug: one line naming its type, exit code 1. With
    ``--debug`` the first also prints its traceback and the second is re-raised.
    Typer's and click's own exceptions (usage errors, ``typer.Exit``), ``SystemExit``
    and ``KeyboardInterrupt`` pass through: typer shows and exits on them.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except StreamkitError as e:
            if debugging():
                traceback.print_exc()
            typer.secho(f"error: {e}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None
        except Exception as e:
            if debugging() or _is_typers(e):
                raise
            typer.secho(unexpected(e), err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None

    return wrapper


def _is_typers(error: Exception) -> bool:
    # typer vendors click (typer._click), so its exceptions are matched by where they
    # are defined: BadParameter, UsageError, Exit, Abort of typer or of click itself.
    return type(error).__module__.split(".")[0] in ("typer", "click")


_LONGEST = 300


def unexpected(error: Exception) -> str:
    """The one line shown for an exception no code path translated: a bug."""
    text = " ".join(str(error).split())  # one line, whatever the message holds
    if len(text) > _LONGEST:  # a JVM's message can hold its whole stack
        text = text[: _LONGEST - 1] + "…"
    what = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return f"error: unexpected {what} — this is a bug; rerun with --debug for the traceback"


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
