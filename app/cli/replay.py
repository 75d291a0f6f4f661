"""``streamkit replay FILE``: publish a file of events to the bus."""

from __future__ import annotations

import contextlib
import csv
import gzip
import itertools
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from adapters.errors import StreamkitError
from app.cli.output import ProgressLine, echo, fail_on_error, parse_rate
from app.cli.producer_metrics import MetricsHost, MetricsPort, serve_metrics
from app.cli.wiring import check_topic, deadletter_bus, events_bus, load_settings
from app.producers.formats import Format, FormatError, InputRecord, read
from app.producers.pacing import RateProfile, Step, parse_profile
from app.producers.replay import Replayer, ReplayProgress, Timing
from app.producers.sender import EventSender


def progress_line(p: ReplayProgress) -> str:
    """Counts so far and the rate over the last 5 s."""
    rate, _ = p.recent_rate(5.0)
    s = p.stats
    return (
        f"read {p.read:,}  sent {s.published:,}  dead-lettered {s.dead_lettered:,}  "
        f"acked {s.delivered:,}  failed {s.failed:,}  {rate:,.0f} events/s"
    )


def summary_count(output: str, label: str) -> int:
    """The number on the summary line of ``output`` that starts with ``label``; 0 if none.

    For tools that run the replay and read its summary (the benchmarks, the tests):
    ``summary_count(out, "to events topic")``.
    """
    for line in output.splitlines():
        if line.startswith(label):
            return int(line.removeprefix(label).split()[0].replace(",", ""))
    return 0


def summary_elapsed(output: str) -> dict[str, float]:
    """The summary's ``elapsed  12.3 s, 48,780.5 events/s overall`` as seconds and rate."""
    for line in output.splitlines():
        if line.startswith("elapsed"):
            seconds, _, rate = line.removeprefix("elapsed").partition(",")
            return {
                "seconds": float(seconds.split()[0]),
                "rate": float(rate.split()[0].replace(",", "")),
            }
    msg = "the replay printed no 'elapsed' line"
    raise StreamkitError(msg)


def summary(p: ReplayProgress, elapsed: float, target: float | None) -> list[str]:
    """The closing lines: where every record went, and the rate achieved."""
    s = p.stats
    rate_60, span = p.recent_rate(60.0)
    lines = [
        f"records read     {p.read:,}",
        f"to events topic  {s.published:,}",
        f"dead-lettered    {s.dead_lettered:,}",
        f"acknowledged     {s.delivered:,}",
        f"failed           {s.failed:,}",
        f"elapsed          {elapsed:.1f} s, {p.sent / max(elapsed, 1e-9):,.1f} events/s overall",
    ]
    if target is not None:
        window = f"over the last {span:.1f} s (target {target:,.0f})"
        lines.append(f"rate             {rate_60:,.1f} events/s {window}")
    lines += [f"failure          {f}" for f in s.failures]
    if p.interrupted:
        lines.append("interrupted      stopped by Ctrl-C after flushing what was sent")
    return lines


@fail_on_error
def replay(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV/JSON lines, .gz or not.")
    ],
    fmt: Annotated[
        Format, typer.Option("--format", help="native (our CSV or JSON lines), rees46, or auto.")
    ] = Format.AUTO,
    rate: Annotated[
        str, typer.Option(help="Events/s (token bucket), or 'max' for as fast as the bus takes.")
    ] = "max",
    speedup: Annotated[
        float | None,
        typer.Option(min=0.001, help="Replay at X times the original pace (instead of --rate)."),
    ] = None,
    timing: Annotated[
        str,
        typer.Option(
            help="keep: original event times; now: shift so the first event is now; "
            "send: each event happens when it is sent (load tests at any rate)."
        ),
    ] = "keep",
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after N records.")] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            help="Rates in turn, RATE:SECONDS,... (e.g. 2000:120,10000:60,2000:120), instead "
            "of --rate; stops after the last step. Each step is announced on its own line."
        ),
    ] = None,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Publish FILE to the events topic, keyed by user, stamped with ingest_ts.

    Every record reaches the events topic, or (when it cannot be framed, like
    a truncated CSV row) the dead-letter topic with a reason and its raw bytes.
    Ctrl-C flushes and prints the summary. Exit code 1 when deliveries failed.
    """
    if timing not in ("keep", "now", "send"):
        msg = "--timing must be keep, now or send"
        raise typer.BadParameter(msg)
    target = parse_rate(rate)
    if sum((speedup is not None, rate != "max", profile is not None)) > 1:
        msg = "choose one of --rate, --profile and --speedup"
        raise typer.BadParameter(msg)
    steps = _profile(profile)
    records = _records(file, fmt)
    settings = load_settings()
    bus, deadletter = events_bus(settings), deadletter_bus(settings)
    check_topic(bus)  # fail now, naming the topic, if it does not exist
    sender = EventSender(bus, deadletter, source=f"file:{file.name}")
    serve_metrics(sender, "replay", metrics_port, metrics_host)
    reporter = ProgressLine(progress_line)
    replayer = Replayer(
        sender,
        rate=target,
        speedup=speedup,
        timing=_timing(timing),
        report=reporter,
        profile=RateProfile(steps, on_step=_announce(len(steps))) if steps else None,
    )
    pace = "max rate" if target is None else f"{target:,.0f} events/s"
    if steps:
        pace = f"a profile of {len(steps)} steps, {sum(s.seconds for s in steps):g} s"
    echo(f"replaying {file} to {bus.topic} ({pace})")
    started = time.monotonic()
    try:
        with _input_errors(file):
            progress = replayer.run(records, limit=limit)
    finally:
        reporter.close()
        sender.close()
    for line in summary(progress, time.monotonic() - started, target):
        echo(line)
    if progress.stats.failed:
        raise typer.Exit(1)
    if progress.interrupted:
        raise typer.Exit(130)


def _records(file: Path, fmt: Format) -> Iterator[InputRecord]:
    """The file's records, its format checked now (by reading the first): before any service."""
    with _input_errors(file, OSError):
        records = read(file, fmt)
        first = next(records, None)
    return records if first is None else itertools.chain([first], records)


#: What reading a file that is not what its name says raises: a .gz that is not gzip or
#: is cut short, a "CSV" whose quotes never close.
_BROKEN: tuple[type[Exception], ...] = (gzip.BadGzipFile, EOFError, zlib.error, csv.Error)


@contextlib.contextmanager
def _input_errors(file: Path, *also: type[Exception]) -> Iterator[None]:
    """A file replay cannot read is a bad FILE argument, whenever it shows.

    Only the opening read passes ``OSError``: later, one may come from elsewhere
    (a closed stdout) and must not be blamed on the file.
    """
    try:
        yield
    except FormatError as e:
        raise typer.BadParameter(str(e), param_hint="FILE") from e
    except (*_BROKEN, *also) as e:
        msg = f"cannot read {file}: {e}; pass CSV or JSON lines, gzipped only if named .gz"
        raise typer.BadParameter(msg, param_hint="FILE") from e


def _timing(value: str) -> Timing:
    return "now" if value == "now" else "send" if value == "send" else "keep"


def _profile(text: str | None) -> list[Step]:
    if text is None:
        return []
    try:
        return parse_profile(text)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--profile") from e


def _announce(count: int) -> Callable[[int, Step], None]:
    """A line per step with its wall-clock start: the benchmark reads its timeline from them."""

    def announce(index: int, step: Step) -> None:
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        echo(f"step {index + 1}/{count} at {at}: {step}")

    return announce
