"""``streamkit bench``: benchmarks that print figures and write reports under bench/results/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.output import echo, exit_on_sigterm, fail_on_error
from app.cli.wiring import load_settings
from app.settings import Settings

app = typer.Typer(
    help="Benchmarks, figures written under bench/results/<time>-<name>/. With no command: "
    "end to end (replay -> Kafka -> the stream job -> hot store -> API) at rate steps and a "
    "burst, in a sandbox on the local stack: latency (stored histograms, and markers read "
    "through the API), backlog, stage timings, CPU and memory; summary.json, summary.md, plots.",
    invoke_without_command=True,
)


# Options the benchmarks share.
JobEnv = Annotated[
    list[str] | None,
    typer.Option(
        "--job-env",
        help="A STREAMKIT_* setting of the job, NAME=VALUE (Spark's own settings: "
        "STREAMKIT_SPARK__CONF, a JSON object); repeatable; recorded in the report.",
    ),
]
Label = Annotated[str, typer.Option(help="A name for this run in the report.")]
Out = Annotated[Path | None, typer.Option(help="Reports directory (default: bench/results).")]
Keep = Annotated[bool, typer.Option("--keep", help="Keep the run's topics, database and files.")]
NoUp = Annotated[bool, typer.Option("--no-up", help="Use the running services.")]


@app.callback()
@fail_on_error
def e2e(
    ctx: typer.Context,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="One 60 s step at 2,000/s and a small burst, about 3 minutes."
        ),
    ] = False,
    steps: Annotated[
        str | None,
        typer.Option(
            help="Rate steps RATE:SECONDS,... (default 1000:180,2000:600,5000:300,10000:180)."
        ),
    ] = None,
    burst: Annotated[
        str | None,
        typer.Option(
            help="STEADY:S,PEAK:S,STEADY:S (default 2000:120,10000:60,2000:180); 'none' for none."
        ),
    ] = None,
    trigger: Annotated[
        float | None,
        typer.Option(min=0.05, max=60, help="The job's trigger in seconds (default: settings)."),
    ] = None,
    api_rate: Annotated[
        float, typer.Option(min=0, max=5000, help="API requests/s during --api-during (0: none).")
    ] = 200,
    api_during: Annotated[
        float, typer.Option(min=1, help="The step (events/s) during which the API is loaded.")
    ] = 2000,
    job_env: JobEnv = None,
    label: Label = "",
    out: Out = None,
    keep: Keep = False,
    no_up: NoUp = False,
) -> None:
    """End to end: replay -> Kafka -> the stream job -> hot store -> API, at rate steps and a burst.

    Runs in a sandbox on the local stack (its own topics, database and checkpoint), measures
    latency (stored histograms and markers read through the API), backlog, stage timings, CPU and
    memory, and writes summary.json, summary.md and PNG plots under bench/results/<time>-e2e/.
    Subcommands run the other benchmarks.
    """
    if ctx.invoked_subcommand is not None:
        return
    from app.bench.api import RESULTS
    from app.bench.e2e import E2eOptions, bench_e2e
    from app.bench.plan import FULL_BURST, FULL_STEPS, QUICK_BURST, QUICK_STEPS, Burst, Plan
    from app.producers.pacing import parse_profile

    exit_on_sigterm()
    try:
        rate_steps = parse_profile(steps or (QUICK_STEPS if quick else FULL_STEPS))
        burst_text = burst or (QUICK_BURST if quick else FULL_BURST)
        the_burst = None if burst_text == "none" else Burst.parse(burst_text)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    extra = dict(job_setting(item) for item in job_env or [])
    settings = stack_settings(up=not no_up)
    options = E2eOptions(
        plan=Plan.of(rate_steps, the_burst),
        api_rate=api_rate,
        api_during=api_during if api_rate else None,
        trigger_seconds=trigger,
        drain_timeout_s=180 if quick else 600,
        out=out or RESULTS,
        keep=keep,
        job_env=extra,
        label=label,
    )
    report = bench_e2e(settings, options, echo)
    show_report(report)


def stack_settings(*, up: bool) -> Settings:
    """The settings, with the local stack started unless the caller runs its own."""
    from app.localstack.stack import LocalStack

    settings = load_settings()
    if up:
        LocalStack(settings, progress=echo).up()
    return settings


def show_report(report: Path) -> None:
    """Print a report's summary.md and where it is."""
    echo((report / "summary.md").read_text())
    echo(f"report: {report}")


def job_setting(item: str) -> tuple[str, str]:
    """``--job-env NAME=VALUE`` as a pair; a usage error unless NAME is a STREAMKIT_ setting."""
    name, sep, value = item.partition("=")
    if not sep or not name.startswith("STREAMKIT_"):
        msg = f"--job-env takes STREAMKIT_NAME=VALUE, not {item!r}"
        raise typer.BadParameter(msg)
    return name, value


@app.command("backfill")
@fail_on_error
def backfill(
    events: Annotated[
        int, typer.Option(min=1_000, max=50_000_000, help="Events of generated traffic.")
    ] = 1_000_000,
    producer_runs: Annotated[
        int,
        typer.Option(
            min=1, max=9, help="Replays at --rate max; the first fills the backlog (median)."
        ),
    ] = 3,
    job_env: JobEnv = None,
    label: Label = "",
    out: Out = None,
    keep: Keep = False,
    no_up: NoUp = False,
) -> None:
    """The replay producer alone at --rate max, then `pipeline --once` over the backlog it made.

    In a sandbox on the local stack: generates the traffic, replays it as fast as Kafka takes it
    (targets: >= 50,000 events/s; >= 30,000 events/s for the backfill), accounts for every event,
    and writes summary.json and summary.md under bench/results/<time>-backfill/.
    """
    from app.bench.api import RESULTS
    from app.bench.backfill import BackfillOptions, bench_backfill

    exit_on_sigterm()
    extra = dict(job_setting(item) for item in job_env or [])
    settings = stack_settings(up=not no_up)
    options = BackfillOptions(
        events=events,
        producer_runs=producer_runs,
        out=out or RESULTS,
        keep=keep,
        job_env=extra,
        label=label,
    )
    report = bench_backfill(settings, options, echo)
    show_report(report)


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
    out: Out = None,
    background_nice: Annotated[
        int,
        typer.Option(
            min=0,
            max=19,
            help="CPU priority (nice) of the write path: the job, the replay and the hot-store "
            "server. The API keeps 0. 0 runs everything at one priority.",
        ),
    ] = 10,
    no_up: NoUp = False,
) -> None:
    """API latency under load against the real hot store, with the stream job running, then without.

    Starts the local stack, the stream job and a replay at 2,000 events/s, serves the API,
    loads it open-loop and reports p50/p95/p99 (target: p99 <= 25 ms at 200 requests/s).
    """
    from app.bench.api import RESULTS, ApiBenchOptions, bench_api
    from app.localstack.stack import LocalStack

    exit_on_sigterm()
    settings = load_settings()
    settings = settings.model_copy(
        update={"pipeline": settings.pipeline.model_copy(update={"nice": background_nice})}
    )
    if not no_up:
        LocalStack(settings, progress=echo).up()
    options = ApiBenchOptions(rate, seconds, warmup, path, out or RESULTS)
    report = bench_api(settings, options, echo)
    show_report(report)
