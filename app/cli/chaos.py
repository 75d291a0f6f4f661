"""``streamkit chaos``: faults injected into the local stack, the output judged by an oracle."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from app.cli.bench import JobEnv, Keep, NoUp, Out, job_setting, show_report, stack_settings
from app.cli.output import exit_on_sigterm, fail_on_error


@fail_on_error
def chaos(
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="The CI subset: smaller traffic; one job kill, one broker kill, the hot store "
            "down 30 s, the floods, a changed query; about 10 minutes.",
        ),
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Run only this scenario (job-kills, broker-kill, hot-store-down, archive-down, "
            "floods, changed-query); repeatable.",
        ),
    ] = None,
    kills: Annotated[
        int, typer.Option(min=0, max=200, help="Random kill -9s of the job (full run).")
    ] = 20,
    events: Annotated[
        int, typer.Option(min=1_000, help="Events of generated traffic per scenario (full run).")
    ] = 120_000,
    rate: Annotated[
        float, typer.Option(min=1, help="Events/s the replay publishes while faults happen.")
    ] = 1_000.0,
    seed: Annotated[int, typer.Option(help="Seed of the traffic and of the fault moments.")] = 42,
    hot_store_down: Annotated[
        float, typer.Option(min=1, help="Seconds the hot store stays down (full run).")
    ] = 60.0,
    archive_down: Annotated[
        float, typer.Option(min=1, help="Seconds every archive write fails.")
    ] = 30.0,
    recovery_limit: Annotated[
        float, typer.Option(min=1, help="Seconds a recovery may take before the row fails.")
    ] = 60.0,
    job_env: JobEnv = None,
    out: Out = None,
    keep: Keep = False,
    no_up: NoUp = False,
) -> None:
    """Inject faults while data flows, let the job recover, compare every output with the oracle.

    Each scenario runs in its own sandbox on the local stack (topics, database, checkpoint,
    archive; removed afterwards unless --keep): seeded traffic is replayed by the real
    producer while the faults happen; then every minute KPI, closed session, archive count and
    dead letter is compared with an independent computation (docs/reliability.md). Writes
    summary.json and summary.md under bench/results/<time>-chaos/; exits 1 when a scenario fails.
    """
    from app.bench.api import RESULTS
    from app.chaos.run import run_chaos
    from app.chaos.scenarios import ChaosOptions

    exit_on_sigterm()
    settings = stack_settings(up=not no_up)
    options = ChaosOptions(
        events=events,
        rate=rate,
        kills=kills,
        seed=seed,
        hot_store_down_s=hot_store_down,
        archive_down_s=archive_down,
        recovery_limit_s=recovery_limit,
        only=tuple(only or ()),
        out=out or RESULTS,
        keep=keep,
        job_env=dict(job_setting(item) for item in job_env or []),
    )
    report = run_chaos(settings, options, quick=quick, progress=typer.echo)
    show_report(report)
    if not json.loads((report / "summary.json").read_text())["passed"]:
        typer.secho(f"error: a scenario failed; see {report / 'summary.md'}", err=True, fg="red")
        raise typer.Exit(1)
