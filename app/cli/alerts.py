"""``streamkit alerts``: evaluate the alert rules every few seconds (or once), notify, record."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from app.cli.output import echo, exit_on_sigterm, fail_on_error
from app.cli.wiring import events_bus, hot_store, load_settings


@fail_on_error
def alerts(
    once: Annotated[
        bool,
        typer.Option("--once", help="Evaluate one round and exit (for a scheduler)."),
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            min=0.2, help="Seconds between rounds (default STREAMKIT_ALERTS__INTERVAL_S, 10)."
        ),
    ] = None,
) -> None:
    """Evaluate the alert rules against what the job stored; call the webhook; keep history.

    Rules: STREAMKIT_ALERTS__RULES_FILE (default app/alerts/rules.toml). Reads the hot store
    (STREAMKIT_HOT_STORE_URL) and checks the bus as /health does; keeps each alert's state and
    the history of what fired and resolved in the hot store, where GET /alerts will read them.
    Calls STREAMKIT_ALERTS__WEBHOOK_URL (Slack-compatible) on firing and on resolve. Prints a
    line per round; Ctrl-C stops. docs/monitoring.md.
    """
    from app.alerts.loop import AlertLoop  # noqa: PLC0415 - keeps `streamkit --help` fast

    exit_on_sigterm()
    settings = load_settings()
    hot = hot_store(settings)
    loop = AlertLoop(settings, hot, lambda: events_bus(settings))
    every = interval or settings.alerts.interval_s
    echo(
        f"alerts   | {len(loop.rules)} rules, a round every {every:g} s"
        + (", webhook on" if loop.webhook else ", no webhook")
    )
    loop.start()
    try:
        while True:
            started = time.monotonic()
            done = loop.round(datetime.now(UTC))
            firing = sum(1 for s in loop.state.values() if s.state == "firing")
            pending = len(loop.state) - firing
            changes = ", ".join(f"{t.rule} {t.kind}" for t in done.transitions) or "no change"
            saved = "" if done.saved else " (not saved: the hot store is down)"
            echo(f"alerts   | {firing} firing, {pending} pending; {changes}{saved}")
            if once:
                return
            time.sleep(max(0.0, every - (time.monotonic() - started)))
    except KeyboardInterrupt:
        echo("alerts   | stopped")
    finally:
        hot.close()
