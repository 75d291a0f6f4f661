"""``streamkit local``: the native local stack."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from app.cli.output import echo, fail_on_error
from app.cli.wiring import load_settings
from app.localstack.service import ServiceStatus
from app.localstack.stack import LocalStack

app = typer.Typer(
    help="Run Kafka and the MongoDB-wire server as native processes on 127.0.0.1 (no Docker).",
    no_args_is_help=True,
)


def _print(statuses: list[ServiceStatus], as_json: bool) -> None:
    if as_json:
        echo(json.dumps([{**s.__dict__, "state": s.state} for s in statuses], indent=2))
        return
    echo(f"{'SERVICE':<10} {'STATE':<10} {'ADDRESS':<17} {'PID':<8} DETAIL")
    for s in statuses:
        echo(f"{s.name:<10} {s.state:<10} {s.address:<17} {s.pid or '-'!s:<8} {s.detail}")


@app.command()
@fail_on_error
def up(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the final status as JSON.")
    ] = False,
    emulators: Annotated[
        bool,
        typer.Option(
            "--emulators",
            help="Also start the cloud emulators (moto: S3, Kinesis; a GCS emulator) "
            "the AWS and GCP bindings are tested against.",
        ),
    ] = False,
    secure_kafka: Annotated[
        bool,
        typer.Option(
            "--secure-kafka",
            help="Also serve Kafka on a SASL_SSL listener (STREAMKIT_LOCAL__KAFKA_SECURE_PORT, "
            "9094): a self-signed CA, SCRAM-SHA-512/256 and PLAIN for user streamkit. A "
            "broker running without it is restarted; once added, it stays on every later "
            "start until `local down --purge`.",
        ),
    ] = False,
) -> None:
    """Start the stack (idempotent) and wait until each service really answers.

    The first run resolves Kafka's jars with Maven and builds FerretDB with Go;
    later runs start in seconds. Topics events_raw (3 partitions) and
    events_deadletter (1 partition) are created when missing.
    """
    settings = load_settings()
    wanted = {"emulators": True} if emulators else {}
    if secure_kafka:
        wanted["secure_kafka"] = True
    if wanted:
        settings = settings.model_copy(update={"local": settings.local.model_copy(update=wanted)})
    stack = LocalStack(settings, progress=echo)
    statuses = stack.up()
    _print(statuses, as_json)
    if not as_json:
        for line in stack.kafka.client_hint():
            echo(line)
    if not all(s.healthy for s in statuses):
        raise typer.Exit(1)


@app.command()
@fail_on_error
def down(
    purge: Annotated[
        bool, typer.Option("--purge", help="Also delete the services' data, logs and checkpoints.")
    ] = False,
) -> None:
    """Stop exactly the processes `up` started (by pid), releasing their ports."""
    LocalStack(load_settings(), progress=echo).down(purge=purge)


@app.command()
@fail_on_error
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show each service: state, address, pid and live health; exit 1 if one is unhealthy."""
    statuses = LocalStack(load_settings(), progress=echo).status()
    _print(statuses, as_json)
    if not all(s.healthy for s in statuses):
        raise typer.Exit(1)
