"""``streamkit job deploy | status | stop | watch``: the stream job on a deployed cloud stack."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from adapters.errors import ConfigurationError
from app.cli.output import echo, fail_on_error
from app.cloudjob.outputs import read_outputs, required
from app.cloudjob.watch import Watch, WatchPolicy

if TYPE_CHECKING:
    from app.cloudjob.runs import CloudJob

app = typer.Typer(
    help="Start, watch and stop the stream job on a deployed stack (EMR Serverless on AWS, "
    "Dataproc Serverless on GCP). Point it at the stack's outputs: "
    "`pulumi stack output --json > outputs.json`.",
    no_args_is_help=True,
)

EnvOption = Annotated[str, typer.Option("--env", help="The stack's cloud: aws or gcp.")]
OutputsOption = Annotated[
    Path,
    typer.Option(
        "--outputs",
        exists=True,
        dir_okay=False,
        help="`pulumi stack output --json` of the stack, saved to a file.",
    ),
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        help="Service endpoint override. aws: the EMR Serverless URL (an emulator or a VPC "
        "endpoint). gcp: host:port of Dataproc (a regional or private endpoint, over TLS with "
        "Google's credentials; on 127.0.0.1 or localhost, an emulator: plain gRPC, no credentials)."
    ),
]


def _decoded(request: Any) -> Any:
    return json.loads(request) if isinstance(request, str) else request


def _job(env: str, outputs_file: Path, endpoint: str | None) -> CloudJob:
    if env not in ("aws", "gcp"):
        msg = (
            f"--env {env}: `streamkit job` knows aws (EMR Serverless) and gcp (Dataproc Serverless)"
        )
        raise ConfigurationError(msg)
    outputs = read_outputs(outputs_file)
    if env == "aws":
        from app.cloudjob.emr import EmrServerlessJob  # noqa: PLC0415 - needs boto3

        request = _decoded(required(outputs, "job_run_request", "aws"))
        return EmrServerlessJob(request, str(required(outputs, "region", "aws")), endpoint)
    from app.cloudjob.dataproc import DataprocServerlessJob  # noqa: PLC0415 - needs the gcp extra

    request = _decoded(required(outputs, "job_batch_request", "gcp"))
    if not isinstance(request, dict):
        msg = "job_batch_request is not a JSON object; redeploy the stack (infra/gcp)"
        raise ConfigurationError(msg)
    return DataprocServerlessJob(request, str(required(outputs, "project", "gcp")), endpoint)


@app.command()
@fail_on_error
def deploy(env: EnvOption, outputs: OutputsOption, endpoint: EndpointOption = None) -> None:
    """Start the job unless a run of it is active (so running it again is harmless).

    aws: a streaming job run, which EMR Serverless restarts on failure. gcp: a Dataproc
    Serverless batch, which nothing restarts: see `watch`.
    """
    job = _job(env, outputs, endpoint)
    run, started = job.deploy()
    if started:
        echo(f"started job run {run.run_id} ({run.state}) on {job.where}")
    else:
        echo(
            f"job run {run.run_id} is already {run.state}:"
            " not starting a second one on its checkpoint"
        )


@app.command()
@fail_on_error
def status(
    env: EnvOption,
    outputs: OutputsOption,
    endpoint: EndpointOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the job's runs, newest first; exit code 1 when none is active."""
    job = _job(env, outputs, endpoint)
    runs = job.runs()
    if as_json:
        echo(json.dumps([vars(r) for r in runs], default=str, indent=2))
    elif not runs:
        echo(f"no job run named {job.name} on {job.where}")
    else:
        for run in runs:
            when = f"{run.created:%Y-%m-%d %H:%M:%S}" if run.created else "-"
            echo(f"{run.run_id}  {run.state:<10} {when}  {run.details}".rstrip())
    if not any(r.active for r in runs):
        raise typer.Exit(1)


@app.command()
@fail_on_error
def stop(env: EnvOption, outputs: OutputsOption, endpoint: EndpointOption = None) -> None:
    """Cancel the job's active runs (the checkpoint stays: the next deploy resumes from it)."""
    job = _job(env, outputs, endpoint)
    cancelled = job.stop()
    if not cancelled:
        echo("no active job run")
    for run in cancelled:
        echo(f"cancelled job run {run.run_id} (was {run.state})")


@app.command()
@fail_on_error
def watch(
    env: EnvOption,
    outputs: OutputsOption,
    endpoint: EndpointOption = None,
    interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between two looks at the job.")
    ] = 60.0,
    max_restarts_per_hour: Annotated[
        int, typer.Option(min=1, help="Give up (exit 2) when the job fails again after this many.")
    ] = 3,
) -> None:
    """Restart the job when its newest run FAILED or was lost, until Ctrl-C or SIGTERM (exit 0).

    One line per change of state. Restarts back off (at once, then 30 s, 60 s, ...); after
    --max-restarts-per-hour restarts in a rolling hour, the next failure ends it with exit
    code 2. A run cancelled with `stop` is left alone. gcp: this is what restarts a failed
    Dataproc Serverless batch; keep it running somewhere always on (docs/deploy-gcp.md).
    aws: an extra net only, since EMR Serverless's streaming mode already restarts the job
    (3 attempts an hour); this deploys again once EMR has given up.
    """
    job = _job(env, outputs, endpoint)
    stop_event = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop_event.set())
    policy = WatchPolicy(interval_s=interval, max_restarts_per_hour=max_restarts_per_hour)
    echo(f"watching {job.name} on {job.where} every {interval:g} s")
    Watch(job, policy, say=_stamped, sleep=stop_event.wait, stopped=stop_event.is_set).run()
    echo("stopped watching; the job itself keeps running")


def _stamped(line: str) -> None:
    echo(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {line}")
