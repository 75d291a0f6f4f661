"""``streamkit schema``: the event contract as JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from adapters.errors import ConfigurationError
from app.cli.output import echo, fail_on_error
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
