"""``streamkit generate``: seeded shop traffic with known faults, as a file (docs/generate.md)."""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.errors import ConfigurationError
from app.cli.output import echo, fail_on_error
from app.generate import DEFAULT_START, Options, manifest_path
from app.generate import generate as write_traffic
from app.generate.faults import Fractions
from app.generate.writer import Format

DEFAULT_EVENTS = 1_000_000
DAY_MINUTES = 24 * 60
START = DEFAULT_START.isoformat().replace("+00:00", "Z")


def _window(events: int | None, minutes: int | None, rate: int | None) -> tuple[int, int]:
    """(rows, minutes) from ``--events`` or ``--minutes`` with ``--rate``."""
    if events is not None and (minutes is not None or rate is not None):
        msg = "--events and --minutes/--rate are mutually exclusive: give a count, or a window"
        raise ConfigurationError(msg)
    if (minutes is None) != (rate is None):
        msg = "--minutes and --rate go together: rows = minutes x 60 x rate (events per second)"
        raise ConfigurationError(msg)
    if minutes is not None and rate is not None:
        return minutes * 60 * rate, minutes
    return events or DEFAULT_EVENTS, DAY_MINUTES


def _format(fmt: Format | None, out: Path | None) -> Format:
    if fmt is not None:
        return fmt
    name = out.name if out else ""
    return Format.JSONL if ".jsonl" in name or ".ndjson" in name else Format.CSV


def _start(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        msg = f"--start {text!r} is not an ISO 8601 time with offset, e.g. 2026-01-01T00:00:00Z"
        raise ConfigurationError(msg)
    return moment


@fail_on_error
def generate(
    out: Annotated[
        Path | None,
        typer.Option(
            help="File to write, gzipped when it ends in .gz (default data/events.csv.gz)."
        ),
    ] = None,
    events: Annotated[
        int | None,
        typer.Option(min=1, help=f"Rows to write, over one day (default {DEFAULT_EVENTS:,})."),
    ] = None,
    minutes: Annotated[
        int | None, typer.Option(min=1, help="Window length; with --rate instead of --events.")
    ] = None,
    rate: Annotated[
        int | None,
        typer.Option(min=1, help="Events per second (as replay --rate); minutes x 60 x rate rows."),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Same seed and knobs, same bytes.")] = 42,
    start: Annotated[str, typer.Option(help="UTC start of the window.")] = START,
    users: Annotated[
        int | None, typer.Option(min=1, help="Shoppers (default: about 4 sessions each a day).")
    ] = None,
    products: Annotated[int, typer.Option(min=1, help="Products in the catalogue.")] = 5_000,
    duplicates: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Share of rows re-sent.")
    ] = 0.01,
    out_of_order: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Share of rows seconds out of order.")
    ] = 0.02,
    late_within: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Share of rows 5-8 min late (kept).")
    ] = 0.005,
    late_beyond: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Share of rows 12+ min late (dropped).")
    ] = 0.002,
    malformed: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Share of rows broken, every reason alike.")
    ] = 0.002,
    fmt: Annotated[
        Format | None,
        typer.Option("--format", help="csv or jsonl (default: from the --out name, else csv)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write realistic, seeded shop traffic with known duplicates, disorder and malformed records.

    The rows are in publish order (what a replay sends); a manifest next to
    the file, <file>.manifest.json, counts every kind a consumer will meet.
    """
    fmt = _format(fmt, out)
    out = out or Path(f"data/events.{fmt.value}.gz")
    rows, window = _window(events, minutes, rate)
    if out.is_dir():
        msg = f"--out {out} is a directory; name a file in it, e.g. {out / 'events.csv.gz'}"
        raise ConfigurationError(msg)
    if out.exists() and not force:
        msg = f"{out} exists; pass --force to overwrite it"
        raise ConfigurationError(msg)
    options = Options.over(
        out,
        rows,
        window,
        users=users,
        seed=seed,
        fmt=fmt,
        start=_start(start),
        products=products,
        fractions=Fractions(duplicates, out_of_order, late_within, late_beyond, malformed),
    )
    began = time.perf_counter()
    try:
        manifest = write_traffic(options, progress=lambda line: echo(f"generate: {line}"))
    except OSError as e:  # every file generate touches is under --out's directory
        msg = f"cannot write {out}: {e.strerror or e}; pass --out a path in a writable directory"
        raise ConfigurationError(msg) from e
    elapsed = time.perf_counter() - began
    for line in summary(manifest, out):
        echo(line)
    echo(f"generated {rows:,} events in {elapsed:.2f} s: {rows / elapsed:,.0f} events/s")


def summary(manifest: dict[str, Any], out: Path) -> list[str]:
    """The manifest as a table for people."""
    kinds, funnel = manifest["kinds"], manifest["funnel"]
    rows = manifest["rows"]
    bad = kinds["malformed"]
    table = [
        ("valid, unique", kinds["valid_unique"]),
        ("  out of order (jitter)", kinds["out_of_order"]),
        ("  late within watermark", kinds["late_within_watermark"]),
        ("  late beyond watermark", kinds["late_beyond_watermark"]),
        ("duplicates (re-sent)", kinds["duplicates"]),
        ("malformed", sum(bad.values())),
        *((f"  {reason}", count) for reason, count in bad.items()),
    ]
    views, carts = funnel["page_view"], funnel["add_to_cart"]
    lines = [
        f"wrote {out} ({manifest['format']}{', gzip' if manifest['gzip'] else ''}): {rows:,} rows, "
        f"{out.stat().st_size / 1e6:,.1f} MB; manifest {manifest_path(out)}",
        f"{'kind':<26}{'rows':>12}{'share':>9}",
        *(f"{name:<26}{count:>12,}{100 * count / max(rows, 1):>8.2f}%" for name, count in table),
        f"funnel: {views:,} page views -> {carts:,} carts ({_pct(carts, views)} of views) -> "
        f"{funnel['purchase']:,} purchases ({_pct(funnel['purchase'], carts)} of carts); "
        f"{funnel['remove_from_cart']:,} removed from cart",
        f"revenue: USD {Decimal(manifest['revenue']):,.2f} (valid, unique purchases)",
        f"event time: {manifest['event_time']['min']} .. {manifest['event_time']['max']}",
    ]
    return lines


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "n/a"
