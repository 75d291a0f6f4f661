"""``streamkit bench``: benchmarks that print figures and write reports under bench/results/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.output import echo, exit_on_sigterm, fail_on_error
from app.settings import get_settings

app = typer.Typer(
    help="Benchmarks: figures printed and written under bench/results/<time>-<name>/.",
    no_args_is_help=True,
)


@app.command("api")
@fail_on_error
def api(
    rate: Annotated[
        float, typer.Option(min=1, max=5000, help="Requests per second (open loop).")
    ] = 200,
    seconds: Annotated[float, typer.Option(min=5, max=600, help="Seconds per phase.")] = 60,
    warmup: Annotated[
        float, typer.Option(min=0, max=300, help="Seconds of replay before loading.")
    ] = 20,
    path: Annotated[str, typer.Option(help="The request to load, path and query.")] = (
        "/kpis?minutes_back=60"
    ),
    out: Annotated[
        Path | None, typer.Option(help="Reports directory (default: bench/results).")
    ] = None,
    background_nice: Annotated[
        int,
        typer.Option(
            min=0,
            max=19,
            help="CPU priority (nice) of the write path: the job, the replay and the hot-store "
            "server. The API keeps 0. 0 runs everything at one priority.",
        ),
    ] = 10,
    no_up: Annotated[bool, typer.Option("--no-up", help="Use the running services.")] = False,
) -> None:
    """API latency under load against the real hot store, with the stream job running, then without.

    Starts the local stack, the stream job and a replay at 2,000 events/s, serves the API,
    loads it open-loop and reports p50/p95/p99 (target: p99 <= 25 ms at 200 requests/s).
    """
    from app.bench.api import RESULTS, ApiBenchOptions, bench_api
    from app.localstack.stack import LocalStack

    exit_on_sigterm()
    settings = get_settings()
    settings = settings.model_copy(
        update={"pipeline": settings.pipeline.model_copy(update={"nice": background_nice})}
    )
    if not no_up:
        LocalStack(settings, progress=echo).up()
    options = ApiBenchOptions(rate, seconds, warmup, path, out or RESULTS)
    report = bench_api(settings, options, echo)
    echo((report / "summary.md").read_text())
    echo(f"report: {report}")
