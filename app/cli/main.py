"""The ``streamkit`` console script: one subcommand per job."""

from __future__ import annotations

import typer

from app.cli import local

app = typer.Typer(
    help="streamkit: real-time e-commerce analytics on Kafka, Spark, MongoDB and Parquet, "
    "portable from a laptop to AWS and GCP.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(local.app, name="local")


def run() -> None:
    """Entry point of the console script."""
    app()
