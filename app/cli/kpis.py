"""``streamkit kpis``: the minute KPIs in the hot store, as a table or JSON lines."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from adapters.errors import StreamkitError
from app.cli.output import echo, fail_on_error
from app.cli.wiring import hot_store, load_settings, naming
from app.pipeline.documents import KPI_MINUTES, duration, iso, minute_view, percent

#: The window shown when --from is not given: this long before --to.
DEFAULT_WINDOW = timedelta(minutes=60)

_ISO_EXAMPLE = "2026-11-25T18:00:00Z, 2026-11-25T19:00:00+01:00 or 2026-11-25T18:00 (UTC)"

#: Table columns: heading, and how to show a minute's API view in it.
_COLUMNS: tuple[tuple[str, Callable[[Mapping[str, Any]], str]], ...] = (
    ("minute (UTC)", lambda v: v["minute"][:16].replace("T", " ")),
    ("events", lambda v: f"{v['events']:,}"),
    ("views", lambda v: f"{v['page_views']:,}"),
    ("carts", lambda v: f"{v['add_to_carts']:,}"),
    ("purchases", lambda v: f"{v['purchases']:,}"),
    ("revenue", lambda v: v["revenue"]),
    ("aov", lambda v: v["aov"] or "-"),
    ("conversion", lambda v: percent(v["conversion_rate"], "-")),
    ("sessions", lambda v: f"{v['sessions']:,}"),
    ("late", lambda v: f"{v['late_dropped']:,}"),
    ("dead", lambda v: f"{v['deadlettered']:,}"),
    ("final", lambda v: "yes" if v["final"] else "no"),
    ("p95 latency", lambda v: duration(v["latency_ms"]["p95"], "-")),
)


@fail_on_error
def kpis(
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First minute to show (inclusive), ISO 8601; no offset means UTC. "
            "Default: 60 minutes before --to.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="End of the range (exclusive), ISO 8601. Default: now."),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="One JSON document per minute (the API's shape), JSON lines."),
    ] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Show at most the first N minutes of the range.")
    ] = None,
) -> None:
    """Show the per-minute KPIs the stream job wrote to the hot store.

    Reads collection kpi_minutes from STREAMKIT_HOT_STORE_URL, minutes with
    --from <= minute < --to, earliest first. Money is exact (decimal strings),
    rates and AOV are derived on read, latency is the p95 of end-to-end
    latency (docs/kpis.md).
    """
    last = datetime.now(UTC) if end is None else parse_time("--to", end)
    first = last - DEFAULT_WINDOW if start is None else parse_time("--from", start)
    if first >= last:
        msg = f"--from ({iso(first)}) must be before --to ({iso(last)})"
        raise typer.BadParameter(msg)
    views = [minute_view(doc) for doc in read_minutes(first, last, limit)]
    if not views:
        note = f"no minutes between {iso(first)} and {iso(last)} in {KPI_MINUTES}"
        typer.echo(note, err=as_json)  # keep stdout pure JSON lines
        return
    if as_json:
        for view in views:
            echo(json.dumps(view, allow_nan=False))
        return
    echo(f"{len(views)} minute(s) from {iso(first)} to {iso(last)}")
    for line in table(views):
        echo(line)


def echo_minutes(documents: Iterable[Mapping[str, Any]]) -> None:
    """Print stored minute documents as the ``streamkit kpis`` table does (for the demo)."""
    views = [minute_view(doc) for doc in documents]
    for line in table(views) if views else []:
        echo(line)


def parse_time(option: str, value: str) -> datetime:
    """An ISO 8601 time as aware UTC; naive means UTC. BadParameter naming the format."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        msg = f"{option} {value!r} is not an ISO 8601 time; expected e.g. {_ISO_EXAMPLE}"
        raise typer.BadParameter(msg) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def read_minutes(first: datetime, last: datetime, limit: int | None) -> list[dict[str, Any]]:
    """Stored minute documents with ``first <= minute < last``, earliest first."""
    store = hot_store(load_settings())
    try:
        with naming("STREAMKIT_HOT_STORE_URL"):
            return store.find_range(KPI_MINUTES, "minute", first, last, limit=limit)
    finally:
        with contextlib.suppress(StreamkitError):  # never hide the read's own error
            store.close()


def table(views: Sequence[dict[str, Any]]) -> list[str]:
    """Aligned lines: a heading, then one row per minute; numbers right-aligned."""
    rows = [[show(v) for _, show in _COLUMNS] for v in views]
    heads = [head for head, _ in _COLUMNS]
    widths = [max(len(c) for c in column) for column in zip(heads, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    return [line(heads), *(line(r) for r in rows)]
