"""``streamkit job deploy | status | stop``: the stream job on a deployed cloud stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from adapters.errors import ConfigurationError
from app.cli.output import echo, fail_on_error
from app.cloudjob.outputs import read_outputs, required

if TYPE_CHECKING:
    from app.cloudjob.emr import EmrServerlessJob

app = typer.Typer(
    help="Start, watch and stop the stream job on a deployed stack (EMR Serverless). "
    "Point it at the stack's outputs: `pulumi stack output --json > outputs.json`.",
    no_args_is_help=True,
)

EnvOption = Annotated[str, typer.Option("--env", help="The stack's cloud: aws.")]
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
    typer.Option(help="EMR Serverless endpoint override (an emulator or a VPC endpoint)."),
]


def _job(env: str, outputs_file: Path, endpoint: str | None) -> EmrServerlessJob:
    if env != "aws":
        msg = (
            f"--env {env}: only aws is supported by `streamkit job`; on GCP the Dataproc Serverless"
            " batch is created and removed by the stack itself (infra/gcp, docs/deploy-gcp.md)"
        )
        raise ConfigurationError(msg)
    from app.cloudjob.emr import EmrServerlessJob  # noqa: PLC0415 - needs boto3

    outputs = read_outputs(outputs_file)
    request = required(outputs, "job_run_request", "aws")
    if isinstance(request, str):
        request = json.loads(request)
    return EmrServerlessJob(request, str(required(outputs, "region", "aws")), endpoint)


@app.command()
@fail_on_error
def deploy(env: EnvOption, outputs: OutputsOption, endpoint: EndpointOption = None) -> None:
    """Start the job (streaming mode: EMR Serverless restarts it on failure), unless it runs."""
    job = _job(env, outputs, endpoint)
    run, started = job.deploy()
    if started:
        echo(f"started job run {run.run_id} ({run.state}) on application {job.application_id}")
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
        echo(json.dumps([{**vars(r), "active": r.active} for r in runs], default=str, indent=2))
    elif not runs:
        echo(f"no job run named {job.name} on application {job.application_id}")
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
