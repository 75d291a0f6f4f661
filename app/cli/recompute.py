"""``streamkit reconcile`` and ``backfill``: the archive's batches through the job's operator.

Both read the whole archive (events, late events, refused records) and run the stream job's
transform over it batch by batch (:mod:`app.recompute`), then compare (reconcile) or write
(backfill) the minutes and sessions of ``[--from, --to)``.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from adapters.errors import ConfigurationError, StreamkitError
from adapters.urls import mask_url
from app import bootstrap
from app.cli.kpis import parse_time
from app.cli.output import echo, fail_on_error
from app.cli.wiring import hot_store, load_settings, naming
from app.pipeline.documents import HEALTH
from app.recompute.arrivals import Placed, place, read_events
from app.recompute.inputs import ArchivedBatch
from app.recompute.rerun import Recomputed

From = Annotated[
    str,
    typer.Option(
        "--from", help="First minute of the range, ISO 8601 (UTC if no offset).", show_default=False
    ),
]
To = Annotated[
    str,
    typer.Option(
        "--to",
        help="End of the range (exclusive), ISO 8601 (UTC if no offset).",
        show_default=False,
    ),
]


def _range(first: str, last: str) -> tuple[datetime, datetime]:
    start, end = parse_time("--from", first), parse_time("--to", last)
    if end <= start:
        msg = f"--to {last!r} is not after --from {first!r}"
        raise typer.BadParameter(msg)
    return start, end


def _progress(message: str) -> None:
    typer.echo(f"recompute | {message}", err=True)


def _recompute(
    add: Callable[[list[ArchivedBatch]], list[ArchivedBatch]] | None = None,
) -> Recomputed:
    """The archive of STREAMKIT_ARCHIVE_URL, recomputed by the job's operator.

    ``add`` may change the batches first (a backfill's added events).
    """
    from app.recompute.inputs import archived_batches  # noqa: PLC0415 - pyarrow, Spark
    from app.recompute.rerun import recompute  # noqa: PLC0415
    from app.spark.session import build_session  # noqa: PLC0415

    settings = load_settings()
    with naming("STREAMKIT_ARCHIVE_URL"):
        archive = bootstrap.archive(settings)
        batches = archived_batches(archive, _progress)
    if not batches:
        msg = (
            f"the archive {mask_url(settings.archive_url)} holds no events, late events or refused "
            "records: nothing to recompute (is STREAMKIT_ARCHIVE_URL the job's?)"
        )
        raise ConfigurationError(msg)
    _progress(f"{len(batches):,} batches, {batches[0].batch_id} to {batches[-1].batch_id}")
    if add is not None:
        batches = add(batches)
    spark = build_session(
        "streamkit-recompute",
        settings=settings,
        progress=_progress,
        extra_conf={"spark.sql.shuffle.partitions": "1"},
    )
    with tempfile.TemporaryDirectory(prefix="streamkit-recompute-") as workdir:
        return recompute(spark, batches, Path(workdir), _progress)


@fail_on_error
def reconcile(
    first: From,
    last: To,
    show: Annotated[
        int, typer.Option("--show", min=0, help="Print at most this many differences.")
    ] = 50,
) -> None:
    """Compare the hot store's minutes and sessions with a recomputation from the archive.

    Runs the stream job's own operator over every batch the archive holds (events, late
    events and refused records, batch by batch), then compares each minute document of the
    range (its counts and final flag; not the latency histogram or the watermark it was
    written at) and each session that started in it. Exits 1 when any differs. Documents the
    job wrote after the archive's last batch are listed as ahead, not compared.
    """
    from app.recompute.reconcile import reconcile as compare  # noqa: PLC0415

    start, end = _range(first, last)
    recomputed = _recompute()
    store = hot_store(load_settings())
    try:
        with naming("STREAMKIT_HOT_STORE_URL"):
            health = store.latest(HEALTH, "job") or {}
            done = health.get("batch_id")
            job_batch = int(done) if isinstance(done, int) else None
            found = compare(store, recomputed, start, end, job_batch=job_batch)
    finally:
        with contextlib.suppress(StreamkitError):
            store.close()
    echo(
        f"compared {found.compared_minutes:,} minutes and {found.compared_sessions:,} sessions "
        f"of [{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) UTC with {recomputed.batches:,} "
        "archived batches"
    )
    if found.ahead:
        echo(f"{len(found.ahead):,} written after the archive's last batch, not compared")
    differences = found.minutes + found.sessions
    for d in differences[:show]:
        echo(f"  {d.where}  {d.field}: hot store {d.left!r}, archive {d.right!r}")
    if len(differences) > show:
        echo(f"  … {len(differences) - show:,} more")
    if not found.compared_minutes and not found.compared_sessions:
        echo("nothing to compare: no minute or session in the range, stored or recomputed")
        return
    if found.identical:
        echo("reconciled: the hot store matches the archive")
        return
    echo(
        f"DIFFERENT: {len(found.differing_minutes):,} minutes and "
        f"{len({d.where for d in found.sessions}):,} sessions differ; "
        "`streamkit backfill` with the same range rewrites them from the archive"
    )
    raise typer.Exit(1)


@fail_on_error
def backfill(
    first: From,
    last: To,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events",
            help="Events too late for the stream to add (JSON lines: events, or the records "
            "`deadletter replay --late-out` writes); each joins the first archived batch "
            "that reached its time, and is archived there.",
        ),
    ] = None,
) -> None:
    """Recompute the range's minutes and sessions from the archive and write them back.

    The stream job's own operator runs over every batch the archive holds; each minute
    document of the range is replaced (one upsert per minute), sessions that started in it
    are rewritten with their per-minute sums, and the archive's kpi_minutes and sessions
    files of the batches that closed them are rewritten under the same batch ids. The
    latency histograms are kept as stored. Run `streamkit reconcile` afterwards to check.
    """
    from app.recompute.backfill import backfill as write  # noqa: PLC0415

    start, end = _range(first, last)
    placed: list[Placed] = []

    def add(batches: list[ArchivedBatch]) -> list[ArchivedBatch]:
        assert events is not None
        found, refused = read_events(events)
        outside = [e.event_id for e in found if not start <= e.event_time < end]
        placed.append(place(batches, [e for e in found if start <= e.event_time < end]))
        _report_added(events, placed[0], refused, outside)
        if refused:
            raise typer.Exit(1)
        return placed[0].batches

    recomputed = _recompute(add if events is not None else None)
    settings = load_settings()
    store = hot_store(settings)
    try:
        with naming("STREAMKIT_ARCHIVE_URL"):
            archive = bootstrap.archive(settings)
        with naming("STREAMKIT_HOT_STORE_URL"):
            done = write(store, archive, recomputed, start, end)
    finally:
        with contextlib.suppress(StreamkitError):
            store.close()
    echo(
        f"backfilled [{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) UTC: {done.minutes:,} "
        f"minutes, {done.sessions:,} sessions ({done.session_minutes:,} session-minute sums), "
        f"archive files of {len(done.archive_batches):,} batches rewritten"
    )
    if placed and placed[0].added:
        echo(
            f"{placed[0].added:,} added events archived in the batches they joined. The job "
            "keeps each minute's counts for 7 days of event time and rewrites a minute from "
            "them when a later record touches it, without the added events: `streamkit "
            "reconcile` then flags that minute, and this backfill without --events (the "
            "archive has them now) puts them back"
        )
    if done.sessions_removed:
        echo(f"{done.sessions_removed:,} stored sessions the recomputation no longer has removed")
    if done.stored_only:
        listed = ", ".join(f"{m:%Y-%m-%d %H:%M}" for m in done.stored_only[:10])
        echo(
            f"{len(done.stored_only):,} stored minutes have no events in the archive and were "
            f"left as they are: {listed}"
        )


def _report_added(path: Path, placed: Placed, refused: list[str], outside: list[str]) -> None:
    echo(f"{path}: {placed.added:,} events to add")
    if placed.already_archived:
        echo(f"  {len(placed.already_archived):,} already in the archive, left out")
    if placed.too_new:
        echo(
            f"  {len(placed.too_new):,} newer than every archived event, left out: they are "
            "not late; publish them to the events topic (streamkit replay)"
        )
    if outside:
        echo(f"  {len(outside):,} outside --from/--to, left out: widen the range to add them")
    for why in refused[:20]:
        echo(f"  refused, {why}")
    if refused:
        echo(f"  {len(refused):,} refused by the contract: nothing written; mend or remove them")
