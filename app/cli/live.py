"""``streamkit live``: publish Wikimedia's live RecentChange stream as shop events."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli.output import ProgressLine, echo, fail_on_error, parse_rate
from app.cli.producer_metrics import MetricsHost, MetricsPort, serve_metrics
from app.cli.wiring import check_topic, deadletter_bus, events_bus, load_settings

if TYPE_CHECKING:
    from app.live.producer import LiveProgress

DEFAULT_URL = "https://stream.wikimedia.org/v2/stream/recentchange"


def _since(value: str | None) -> dict[str, str]:
    if value is None:
        return {}
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        msg = f"--since must be an ISO 8601 time with offset, e.g. 2026-11-25T18:00:00Z: {e}"
        raise typer.BadParameter(msg) from e
    if parsed.utcoffset() is None:
        msg = "--since needs a UTC offset, e.g. 2026-11-25T18:00:00Z"
        raise typer.BadParameter(msg)
    return {"since": parsed.isoformat()}


def _progress_line(p: LiveProgress) -> str:
    s = p.stats
    return (
        f"received {p.received:,}  sent {p.sent:,}  skipped {sum(p.skipped.values()):,}  "
        f"dead-lettered {s.dead_lettered:,}  acked {s.delivered:,}  failed {s.failed:,}  "
        f"{p.recent_rate():,.1f} events/s"
    )


def _summary(p: LiveProgress, elapsed: float, reconnects: int, incomplete: int) -> list[str]:
    s = p.stats
    by_type = ", ".join(f"{k} {v:,}" for k, v in sorted(p.published.items())) or "none"
    why = ", ".join(f"{k} {v:,}" for k, v in p.skipped.most_common()) or "none"
    lines = [
        f"stopped by       {p.stopped_by}",
        f"received         {p.received:,} SSE events in {elapsed:.1f} s",
        f"to events topic  {p.sent:,} ({by_type})",
        f"skipped          {sum(p.skipped.values()):,} ({why})",
        f"redelivered      {p.redelivered:,} (same event_id again; not re-sent)",
        f"dead-lettered    {s.dead_lettered:,}",
        f"acknowledged     {s.delivered:,}",
        f"failed           {s.failed:,}",
        f"reconnects       {reconnects:,} ({incomplete:,} unfinished event(s) discarded)",
    ]
    return lines + [f"failure          {f}" for f in s.failures]


@fail_on_error
def live(
    url: Annotated[str, typer.Option(help="The EventStreams (SSE) URL.")] = DEFAULT_URL,
    rate: Annotated[
        str, typer.Option(help="At most this many events/s to the bus, or 'max'.")
    ] = "50",
    max_events: Annotated[
        int | None, typer.Option(min=1, help="Stop after N events sent to the bus.")
    ] = None,
    duration: Annotated[float | None, typer.Option(min=0.001, help="Stop after S seconds.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Start at this ISO time (EventStreams keeps ~7 days).")
    ] = None,
    bots: Annotated[bool, typer.Option(help="Include edits flagged as bots.")] = True,
    user_agent: Annotated[
        str | None, typer.Option(help="User-Agent with your contact (Wikimedia policy).")
    ] = None,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Map Wikimedia RecentChange to shop events (docs/live.md) and publish them.

    Edits are page views, new pages add-to-carts, edits that grow a page by
    500+ bytes purchases (price: byte change / 100 USD). Reconnects with
    Last-Event-ID and backoff; event ids come from the change, so a resumed
    stream does not count twice. Ctrl-C flushes and prints the summary.
    Exit code 1 when deliveries failed.
    """
    from app.live.producer import LiveProducer
    from app.live.sse import USER_AGENT, SseClient
    from app.producers.sender import EventSender

    target = parse_rate(rate)
    client = SseClient(url, params=_since(since), user_agent=user_agent or USER_AGENT)
    settings = load_settings()
    bus, deadletter = events_bus(settings), deadletter_bus(settings)
    check_topic(bus)  # fail now, naming the topic, if it does not exist
    sender = EventSender(bus, deadletter, source=f"sse:{url}")
    serve_metrics(sender, "live", metrics_port, metrics_host)
    reporter: ProgressLine[LiveProgress] = ProgressLine(_progress_line)
    producer = LiveProducer(sender, rate=target, include_bots=bots, report=reporter)
    pace = "max rate" if target is None else f"at most {target:,.0f} events/s"
    echo(f"streaming {url} to {bus.topic} ({pace})")
    started = time.monotonic()
    try:
        progress = producer.run(client.events(), max_events=max_events, duration_s=duration)
    finally:
        reporter.close()
        sender.close()
        elapsed = time.monotonic() - started
        lines = _summary(producer.progress, elapsed, client.stats.retries, client.stats.incomplete)
        for line in lines:
            echo(line)
    if progress.stats.failed:
        raise typer.Exit(1)
    if progress.stopped_by == "Ctrl-C":
        raise typer.Exit(130)
