"""``streamkit rehearse``: prove a move between binding sets changes no number."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.output import echo, exit_on_sigterm, fail_on_error
from app.cli.wiring import load_settings
from app.producers.formats import Format
from app.rehearse.sides import KINDS
from app.settings import PROJECT_ROOT

_KIND_HELP = "local (Kafka, MongoDB-wire, Parquet on disk), aws or gcp."


def _kind(value: str) -> str:
    if value not in KINDS:
        msg = f"{value!r} is not a binding set; choose {', '.join(KINDS)}"
        raise typer.BadParameter(msg)
    return value


@fail_on_error
def rehearse_command(
    to: Annotated[str, typer.Option("--to", callback=_kind, help=f"Target: {_KIND_HELP}")],
    source: Annotated[
        str, typer.Option("--from", callback=_kind, help=f"Source: {_KIND_HELP}")
    ] = "local",
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input",
            exists=True,
            dir_okay=False,
            help="A file `replay` reads (default: generated data, seeded).",
        ),
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="The input's format: native, rees46 or auto.")
    ] = Format.AUTO,
    events: Annotated[
        int, typer.Option(min=100, help="Generated events (without --input).")
    ] = 20_000,
    minutes: Annotated[int, typer.Option(min=1, help="Generated minutes of traffic.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 42,
    from_env: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="STREAMKIT_* file of real endpoints for the source (default: local stack).",
        ),
    ] = None,
    to_env: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="STREAMKIT_* file of real endpoints for the target, e.g. a stack's outputs.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Where report directories go.")] = PROJECT_ROOT
    / "rehearsals",
    keep: Annotated[
        bool, typer.Option(help="Keep the topics, streams, buckets and databases made.")
    ] = False,
) -> None:
    """Replay one data set through two binding sets, run the job on each, diff every number.

    Offline, the cloud side runs on the emulators of `streamkit local up
    --emulators` (Kinesis and S3 on moto, Pub/Sub on pstest, GCS on the GCS
    emulator; the hot store is a database of its own on the local server).
    Compared: minute KPIs (latency aside), closed sessions and the archive's
    row counts. Writes report.md, report.html and summary.json; exit code 0
    when nothing differs, 1 when something does.
    """
    exit_on_sigterm()
    # Imported here: the run pulls in Spark's Python side, which other commands never need.
    from app.rehearse.run import RehearsalOptions, rehearse  # noqa: PLC0415

    options = RehearsalOptions(
        source=source,  # type: ignore[arg-type]
        target=to,  # type: ignore[arg-type]
        out_dir=out,
        input=input_file,
        fmt=fmt,
        events=events,
        minutes=minutes,
        seed=seed,
        source_env=from_env,
        target_env=to_env,
    )
    result = rehearse(load_settings(), options, echo)
    from app.rehearse.report import verdict  # noqa: PLC0415 - CLI output only

    echo(verdict(result))
    echo(f"report: {result.report_dir / 'report.md'} (and report.html, summary.json)")
    for problem in result.cleanup_problems:
        echo(f"warning: not cleaned up: {problem}")
    if not result.diff.identical:
        raise typer.Exit(1)
