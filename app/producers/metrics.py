"""A producer's counts on ``/metrics`` for Prometheus, when run with ``--metrics-port``.

The counts are the ones the progress line prints (:class:`~app.producers.sender.SendStats`),
read at scrape time by a custom collector, so nothing is counted twice and the send loop
pays nothing per record. The server is prometheus_client's own, on a daemon thread; it is
imported only when asked for, so a producer without ``--metrics-port`` needs no
``prometheus-client`` (it comes with the ``api`` extra).
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from adapters.errors import ConfigurationError

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from app.producers.sender import SendStats

#: Counters: SendStats field → (metric name without ``_total``, help).
_COUNTERS = {
    "published": ("streamkit_producer_sent", "Records handed to the events topic."),
    "dead_lettered": (
        "streamkit_producer_dead_lettered",
        "Records that could not be framed, handed to the dead-letter topic with a reason.",
    ),
    "delivered": (
        "streamkit_producer_delivered",
        "Records the bus acknowledged (both topics).",
    ),
    "failed": ("streamkit_producer_failed", "Records the bus reported failed (both topics)."),
}


class ProducerCollector:
    """The running counts of one producer, labelled by ``producer`` (replay, live)."""

    def __init__(self, stats: Callable[[], SendStats], producer: str) -> None:
        """``stats`` is called at each scrape: the sender's counts as they are then."""
        self._stats = stats
        self._producer = producer

    def describe(self) -> list[Metric]:
        """The families this collector yields (so the registry can check names up front)."""
        return list(self.collect())

    def collect(self) -> Iterator[Metric]:
        """Counters of what went where, records in flight, and the rate since the start."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily  # noqa: PLC0415

        stats = self._stats()
        for field, (name, text) in _COUNTERS.items():
            counter = CounterMetricFamily(name, text, labels=["producer"])
            counter.add_metric([self._producer], float(getattr(stats, field)))
            yield counter
        in_flight = GaugeMetricFamily(
            "streamkit_producer_in_flight",
            "Records handed over and not yet acknowledged or failed.",
            labels=["producer"],
        )
        in_flight.add_metric([self._producer], float(stats.in_flight))
        yield in_flight
        rate = GaugeMetricFamily(
            "streamkit_producer_rate",
            "Records handed over per second since the producer started.",
            labels=["producer"],
        )
        rate.add_metric([self._producer], stats.rate())
        yield rate


def serve(stats: Callable[[], SendStats], producer: str, port: int, host: str) -> str:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread; the address, for the log.

    Raises ``ConfigurationError`` naming the fix when ``prometheus-client`` is missing or the
    port cannot be bound.
    """
    try:
        from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415
    except ImportError as e:
        msg = (
            "--metrics-port needs prometheus-client: "
            "pip install 'streamkit[api]' (or run without --metrics-port)"
        )
        raise ConfigurationError(msg) from e
    registry = CollectorRegistry()
    registry.register(ProducerCollector(stats, producer))
    try:
        server, _ = start_http_server(port, addr=host, registry=registry)
    except OSError as e:
        reason = "is in use" if e.errno == errno.EADDRINUSE else f"cannot be bound ({e.strerror})"
        msg = f"metrics port {host}:{port} {reason}: choose another --metrics-port"
        raise ConfigurationError(msg) from e
    return f"http://{host}:{server.server_port}/metrics"
