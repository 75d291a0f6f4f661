"""``streamkit deadletter``: what the dead-letter topic holds, by reason and minute; the records."""

from __future__ import annotations

import base64
import contextlib
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from adapters.errors import ConfigurationError, StreamkitError
from adapters.ports import HotStore
from app.cli.kpis import parse_time
from app.cli.output import echo, fail_on_error
from app.cli.wiring import deadletter_bus, events_bus, hot_store, load_settings, naming
from app.deadletter.letters import UNREADABLE, Entry, counts, distinct, parse
from app.deadletter.replay import Outcome, load_fix
from app.deadletter.replay import replay as do_replay
from app.events.rejects import Reason
from app.pipeline.documents import HEALTH, iso
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
ReasonOption = Annotated[
    str | None,
    typer.Option("--reason", help=f"Only this reason: {', '.join(_REASONS)}."),
]
Since = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only dead letters rejected at or after this ISO 8601 time (UTC if no offset).",
    ),
]


def _check_reason(reason: str | None) -> None:
    if reason is not None and reason not in _REASONS:
        msg = f"--reason {reason!r} is not a reason; use one of {', '.join(_REASONS)}"
        raise typer.BadParameter(msg)


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
    reason: ReasonOption = None,
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
    _check_reason(reason)
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
        value = entry.message.value
        payload = (
            base64.b64encode(value).decode()
            if raw
            else value.decode("utf-8", errors="replace")[:200]
        )
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


@app.command()
@fail_on_error
def replay(
    reason: ReasonOption = None,
    since: Since = None,
    fix: Annotated[
        Path | None,
        typer.Option(
            "--fix",
            help="A Python file defining fix(raw: bytes, dead_letter) -> bytes | None, applied "
            "to each record first (None leaves it dead).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be replayed; publish nothing.")
    ] = False,
    late_out: Annotated[
        Path | None,
        typer.Option(
            "--late-out",
            help="Where events older than the job's watermark are written (JSON lines). "
            "Default: deadletter-too-late-<time>.jsonl here.",
        ),
    ] = None,
    ignore_watermark: Annotated[
        bool,
        typer.Option(
            "--ignore-watermark",
            help="Replay even without the job's watermark (no health report in the hot store).",
        ),
    ] = False,
    wait: Wait = 5.0,
) -> None:
    """Re-publish dead letters to the events topic, each at most once, optionally fixed.

    Each replayed dead_letter_id is recorded in the hot store (deadletter_replays) once its
    event is acknowledged, and skipped by later replays; an event that gets in twice is dropped
    by the job's event_id dedup. A record the contract still refuses is not published but
    reported; an event older than the job's watermark (which the job would drop as late) is
    written to --late-out instead, and recorded too. Exits 1 when a fix raised or a publish
    was not acknowledged.
    """
    _check_reason(reason)
    fixer = load_fix(fix) if fix is not None else None
    settings = load_settings()
    replays = hot_store(settings)  # the job's watermark, then the replay records
    try:
        watermark = None if ignore_watermark else _watermark(replays)
        _, entries, _ = _read(since, wait)
        chosen = [
            e for e in entries if e.letter is not None and (reason is None or e.reason == reason)
        ]
        events = events_bus(settings)
        try:
            # Errors name their own (masked) URL: bus or hot store, either may fail here.
            outcome = do_replay(
                chosen,
                events=events,
                replays=replays,
                watermark=watermark,
                fix=fixer,
                dry_run=dry_run,
                late_out=late_out,
                progress=lambda m: typer.echo(f"deadletter | {m}", err=True),
            )
        finally:
            with contextlib.suppress(StreamkitError):
                events.close()
    finally:
        with contextlib.suppress(StreamkitError):
            replays.close()
    _report(outcome, len(chosen), dry_run, watermark)
    if outcome.fix_failed or outcome.not_acknowledged:
        raise typer.Exit(1)


def _watermark(store: HotStore) -> datetime:
    """The job's watermark from its health report; an error naming the way out without one."""
    with naming("STREAMKIT_HOT_STORE_URL"):
        doc = store.latest(HEALTH, "job")
    mark = (doc or {}).get("watermark")
    if not isinstance(mark, datetime):
        msg = (
            "the job's watermark is unknown (no health report with a watermark in the hot "
            "store): start `streamkit pipeline` first, or pass --ignore-watermark to replay "
            "without checking which events the job would drop as late"
        )
        raise ConfigurationError(msg)
    return mark.astimezone(UTC)


def _report(outcome: Outcome, chosen: int, dry_run: bool, watermark: datetime | None) -> None:
    verb = "would replay" if dry_run else "replayed"
    echo(f"{verb} {len(outcome.published):,} of {chosen:,} dead letters")
    if outcome.already_replayed:
        echo(f"skipped {len(outcome.already_replayed):,} replayed or set aside before")
    if outcome.left_dead:
        echo(f"left {len(outcome.left_dead):,} dead: the fix returned None")
    if outcome.still_invalid:
        reasons = Counter(why for _, why in outcome.still_invalid)
        listed = ", ".join(f"{r} {n:,}" for r, n in reasons.most_common())
        echo(f"not replayed, still refused by the contract: {listed}")
    for dead_letter_id, why in outcome.fix_failed:
        typer.secho(f"fix failed on {dead_letter_id}: {why}", err=True, fg=typer.colors.RED)
    for dead_letter_id, why in outcome.not_acknowledged:
        typer.secho(f"not acknowledged: {dead_letter_id}: {why}", err=True, fg=typer.colors.RED)
    if outcome.too_late:
        where = f"written to {outcome.late_file}" if outcome.late_file else "would be set aside"
        echo(
            f"{len(outcome.too_late):,} events are older than the job's watermark "
            f"{iso(watermark) if watermark else '-'} and would be dropped as late: {where}; "
            "add them with `streamkit backfill --from T1 --to T2 --events FILE`, T1 and T2 "
            "spanning their minutes"
        )
