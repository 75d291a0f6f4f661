"""Printing and error handling shared by every command."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from adapters.errors import StreamkitError

P = ParamSpec("P")
R = TypeVar("R")


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
