"""``--metrics-port`` and ``--metrics-host``, shared by the producers (replay, live)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from app.cli.output import echo

if TYPE_CHECKING:
    from app.producers.sender import EventSender

MetricsPort = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=65535,
        help="Serve the producer's counts for Prometheus on this port "
        "(http://HOST:PORT/metrics: sent, dead-lettered, acknowledged, failed, rate).",
    ),
]
MetricsHost = Annotated[
    str,
    typer.Option(
        help="The address --metrics-port listens on; 0.0.0.0 to be scraped from another host."
    ),
]


def serve_metrics(sender: EventSender, producer: str, port: int | None, host: str) -> None:
    """Start the metrics server when ``port`` is given, and say where it is."""
    if port is None:
        return
    from app.producers.metrics import serve  # noqa: PLC0415 - only with --metrics-port

    echo(f"metrics on {serve(lambda: sender.stats, producer, port, host)}")
