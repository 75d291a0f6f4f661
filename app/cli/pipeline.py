"""``streamkit pipeline``: run the stream job (continuously, or ``--once``)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from app.cli.output import echo, fail_on_error
from app.cli.wiring import check_ports, load_settings


def remove_checkpoint(location: str) -> None:
    """Delete a checkpoint on disk, S3 or GCS (nothing to do when it is not there)."""
    from adapters.filesystems import open_filesystem  # noqa: PLC0415 - needs pyarrow

    filesystem, path = open_filesystem(location)
    if filesystem.get_file_info(path).type.name != "NotFound":
        filesystem.delete_dir(path)


@fail_on_error
def pipeline(
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Process everything on the bus now, then exit (available-now trigger)."
        ),
    ] = False,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="Delete the job's checkpoint first: reprocess the bus from its beginning "
            "(minute documents are overwritten and archive files of the same batches replaced; "
            "closed sessions already stored are kept, since a closed session never changes: "
            "drop the sessions collection to write them afresh).",
        ),
    ] = False,
) -> None:
    """Run the stream job: validate, dedup, sessionize, 1-minute KPIs to the hot store and archive.

    Reads STREAMKIT_BUS_URL, writes STREAMKIT_HOT_STORE_URL and STREAMKIT_ARCHIVE_URL, rejects go
    to STREAMKIT_DEADLETTER_URL; the checkpoint is under STREAMKIT_CHECKPOINT_DIR. Prints a line per
    batch (rows in and out, rates, lag). Start the local stack first: `streamkit local up`.
    """
    from app.pipeline.job import checkpoint_of, run

    settings = load_settings()
    check_ports(settings)  # a bad URL or a stopped broker: say so now, not after Spark starts
    if settings.pipeline.nice:
        os.nice(settings.pipeline.nice)  # before Spark starts: its JVM inherits the priority
    if reset:
        remove_checkpoint(checkpoint_of(settings))
        echo(f"checkpoint {checkpoint_of(settings)} removed")
    summary = run(settings, once=once, out=echo)
    echo(
        f"pipeline stopped: {summary.batches:,} batches, {summary.rows:,} records in "
        f"{summary.seconds:.1f} s"
    )
