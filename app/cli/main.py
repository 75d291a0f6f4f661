"""The ``streamkit`` console script: one subcommand per job."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.urls import mask_url
from app.cli import bench, deadletter, job, local, package, schema
from app.cli.alerts import alerts
from app.cli.api import api
from app.cli.chaos import chaos
from app.cli.dashboard import dashboard
from app.cli.generate import generate
from app.cli.kpis import echo_minutes, kpis
from app.cli.live import live
from app.cli.output import DEBUG_ENV, echo, exit_on_sigterm, fail_on_error
from app.cli.pipeline import pipeline
from app.cli.recompute import backfill, reconcile
from app.cli.rehearse import rehearse_command
from app.cli.replay import replay
from app.cli.wiring import load_settings

app = typer.Typer(
    help="streamkit: real-time e-commerce analytics on Kafka, Spark, MongoDB and Parquet, "
    "portable from a laptop to AWS and GCP. Settings come from STREAMKIT_* variables "
    "(see `streamkit config`).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(local.app, name="local")
app.add_typer(schema.app, name="schema")
app.add_typer(deadletter.app, name="deadletter")
app.add_typer(bench.app, name="bench")
app.add_typer(package.app, name="package")
app.add_typer(job.app, name="job")
app.command("replay")(replay)
app.command("live")(live)
app.command("generate")(generate)
app.command("pipeline")(pipeline)
app.command("kpis")(kpis)
app.command("api")(api)
app.command("dashboard")(dashboard)
app.command("rehearse")(rehearse_command)
app.command("chaos")(chaos)
app.command("alerts")(alerts)
app.command("reconcile")(reconcile)
app.command("backfill")(backfill)


@app.callback()
def main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
    ] = 0,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the traceback of an error (also: STREAMKIT_DEBUG=1)."),
    ] = False,
) -> None:
    """Configure logging and error output for every command."""
    if debug:
        os.environ[DEBUG_ENV] = "1"  # read by fail_on_error, and inherited by child processes
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # librdkafka reports every refused connection while a broker restarts; only
    # its errors matter unless debugging.
    logging.getLogger("librdkafka").setLevel(logging.ERROR if verbose < 2 else logging.DEBUG)


@app.command()
@fail_on_error
def demo(
    seconds: Annotated[
        int, typer.Option(min=5, max=180, help="Seconds of traffic to replay at 2,000 events/s.")
    ] = 60,
    source: Annotated[
        Path | None,
        typer.Option(
            "--input",
            exists=True,
            dir_okay=False,
            help="Traffic file at 2,000 events/s of event time "
            "(default: fresh generated traffic, new event ids each run).",
        ),
    ] = None,
    no_up: Annotated[
        bool, typer.Option("--no-up", help="Use the running services; do not start the stack.")
    ] = False,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve", help="Keep the job, the API and the dashboard running after the checks."
        ),
    ] = False,
) -> None:
    """The whole path, live: replay → Kafka → Spark → MongoDB + Parquet → API → dashboard.

    Starts the local stack, the stream job, the API (port 8000) and the dashboard (8501),
    replays generated traffic at 2,000 events/s with event times shifted to now, waits for the
    job to catch up, prints the minute KPIs (as `streamkit kpis` does), checks that the archive
    holds exactly the events the minutes count, and opens the dashboard in headless Chromium:
    its tiles must show what GET /kpis/latest says (screenshot under .streamkit/demo/).
    """
    from app.demo import run_demo
    from app.localstack.stack import LocalStack

    exit_on_sigterm()
    settings = load_settings()
    if not no_up:
        LocalStack(settings, progress=echo).up()
    r = run_demo(settings, seconds, echo, source, serve)
    echo_minutes(r.minutes)
    echo(
        f"demo ok in {r.seconds:.0f} s: {r.replayed:,} replayed at {r.rate:,.0f} events/s "
        f"(+{r.dead_lettered} dead-lettered at the producer) → {r.counted:,} events counted in "
        f"{len(r.minutes)} minutes, {r.archived:,} archived; the dashboard's tiles match "
        "GET /kpis/latest. Look again with `streamkit kpis`, or `streamkit demo --serve`."
    )


@app.command()
@fail_on_error
def config(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the effective settings (passwords masked) and where each port points."""
    settings = load_settings()
    data = _masked(json.loads(settings.model_dump_json()))
    data["hot_store_url"] = mask_url(settings.hot_store_url.get_secret_value())
    if as_json:
        echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        echo(f"{key:<16} {value}")


def _masked(data: dict[str, Any]) -> dict[str, Any]:
    """Every URL in the settings (nested too) with its passwords and secret options masked."""
    return {
        key: _masked(value)
        if isinstance(value, dict)
        else mask_url(value)
        if isinstance(value, str) and key.endswith("url")
        else value
        for key, value in data.items()
    }


def run() -> None:
    """Entry point of the console script."""
    app()
