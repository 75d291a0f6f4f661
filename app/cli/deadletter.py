"""``streamkit deadletter``: what the dead-letter topic holds, by reason and minute; the records."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from datetime import datetime
from typing import Annotated

import typer

from adapters.errors import ConfigurationError, StreamkitError
from app.cli.kpis import parse_time
from app.cli.output import echo, fail_on_error
from app.cli.wiring import deadletter_bus, load_settings, naming
from app.deadletter.letters import UNREADABLE, Entry, counts, distinct, parse
from app.events.rejects import Reason
from app.pipeline.documents import iso
from app.topics import keeps_history, read_topic

app = typer.Typer(
    help="Dead-letter triage: counts by reason and minute, and the records (docs/operations.md).",
    no_args_is_help=True,
)

_REASONS = sorted([r.value for r in Reason] + [UNREADABLE])
Wait = Annotated[
    float,
    typer.Option(
        "--wait", min=0.1, help="Stop reading once nothing has come for this many seconds."
    ),
]
Since = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only dead letters rejected at or after this ISO 8601 time (UTC if no offset).",
    ),
]


def _read(since: str | None, wait: float) -> tuple[str, list[Entry], int]:
    """The topic's distinct entries from ``since`` on, its URL, and how many records it held."""
    start = parse_time("--since", since) if since else None
    settings = load_settings()
    bus = deadletter_bus(settings)
    try:
        if not keeps_history(bus):
            msg = (
                "this dead-letter bus cannot be read from its beginning: a new Pub/Sub "
                "subscription sees only what is published after it is made. Read the job's "
                "`rejects` archive dataset instead (docs/operations.md)"
            )
            raise ConfigurationError(msg)
        with naming("STREAMKIT_DEADLETTER_URL"):
            messages = read_topic(
                bus, progress=lambda m: typer.echo(f"deadletter | {m}", err=True), idle_s=wait
            )
    finally:
        with contextlib.suppress(StreamkitError):  # never hide the read's own error
            bus.close()
    return settings.deadletter_url, distinct(parse(messages), start), len(messages)


@app.command()
@fail_on_error
def stats(
    since: Since = None,
    wait: Wait = 5.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per minute and reason, JSON lines.")
    ] = False,
) -> None:
    """Count dead letters by minute of rejection and reason.

    Reads STREAMKIT_DEADLETTER_URL from its beginning. The topic is at-least-once (a batch
    run again after a crash re-sends its letters), so these are distinct dead_letter_ids. A
    record that is not a dead letter counts as "unreadable", never dropped.
    """
    where, entries, records = _read(since, wait)
    found = counts(entries)
    if as_json:
        for c in found:
            echo(
                json.dumps({"minute": iso(c.minute), "reason": c.reason, "dead_letters": c.letters})
            )
        return
    echo(f"{len(entries):,} distinct dead letters ({records:,} records) on {where}")
    if not found:
        return
    width = max(len(c.reason) for c in found)
    echo(f"{'minute (UTC)':<16}  {'reason':<{width}}  dead letters")
    for c in found:
        echo(f"{c.minute:%Y-%m-%d %H:%M}  {c.reason:<{width}}  {c.letters:>12,}")
    totals = Counter(e.reason for e in entries)
    echo("by reason: " + ", ".join(f"{r} {n:,}" for r, n in totals.most_common()))


@app.command()
@fail_on_error
def show(
    reason: Annotated[
        str | None,
        typer.Option("--reason", help=f"Only this reason: {', '.join(_REASONS)}."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 20,
    since: Since = None,
    raw: Annotated[
        bool, typer.Option("--raw", help="Print each record's bytes exactly, as base64.")
    ] = False,
    wait: Wait = 5.0,
) -> None:
    """Show dead letters: reason, message, where the record came from, and its payload.

    The payload is a text preview (lossy, truncated) unless --raw. Distinct dead_letter_ids,
    oldest first, read from STREAMKIT_DEADLETTER_URL.
    """
    if reason is not None and reason not in _REASONS:
        msg = f"--reason {reason!r} is not a reason; use one of {', '.join(_REASONS)}"
        raise typer.BadParameter(msg)
    _, entries, _ = _read(since, wait)
    chosen = [e for e in entries if reason is None or e.reason == reason]
    for entry in chosen[:limit]:
        for line in _describe(entry, raw):
            echo(line)
    shown = min(limit, len(chosen))
    typer.echo(f"{shown:,} of {len(chosen):,} shown", err=True)


def _describe(entry: Entry, raw: bool) -> list[str]:
    letter, at = entry.letter, _stamp(entry.at)
    if letter is None:
        where = f"{entry.message.partition}/{entry.message.offset}"
        payload = entry.message.value.decode("utf-8", errors="replace")[:200]
        return [
            f"{at}  {UNREADABLE}  at {where} of the dead-letter topic",
            f"  {entry.problem}",
            f"  raw: {payload}",
        ]
    payload = letter.raw_b64 if raw else letter.raw_preview
    return [
        f"{at}  {letter.reason.value}  {letter.source} {letter.source_position}"
        f"  id {letter.dead_letter_id}",
        f"  {letter.message}",
        f"  raw{' (base64)' if raw else ''}: {payload}",
    ]


def _stamp(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S}Z"
