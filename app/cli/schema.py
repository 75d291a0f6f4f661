"""``streamkit schema``: the event contract as JSON Schema, and whether a new version is safe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from adapters.errors import ConfigurationError
from app.cli.output import echo, fail_on_error
from app.events import compat
from app.events.contract import json_schema

app = typer.Typer(help="The event contract (docs/events.md).", no_args_is_help=True)


def render() -> str:
    """The JSON Schema as committed in docs/event.schema.json."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


@app.command()
@fail_on_error
def show(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print (or write) the JSON Schema of the wire format, derived from the pydantic model."""
    if out is None:
        echo(render().rstrip("\n"))
    else:
        try:
            out.write_text(render())
        except OSError as e:
            msg = f"cannot write {out}: {e.strerror}; pass --out a file in a writable directory"
            raise ConfigurationError(msg) from e
        echo(f"wrote {out}")


@app.command()
@fail_on_error
def check(
    old: Annotated[Path, typer.Argument(help="The schema readers and producers use now.")],
    new: Annotated[Path, typer.Argument(help="The schema to roll out.")],
) -> None:
    """Refuse a contract change that breaks a rolling upgrade; exit 1 naming each field.

    Producers on NEW while the job reads OLD, then the job on NEW reading what OLD producers
    wrote: only new optional fields pass both ways. The history is under schemas/ (docs/events.md).
    """
    problems = compat.check(compat.load(old), compat.load(new))
    if not problems:
        echo(f"compatible: {new} can roll out over {old}")
        return
    for problem in problems:
        typer.secho(f"incompatible: {problem}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)
