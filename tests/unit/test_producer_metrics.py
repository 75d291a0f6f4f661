"""``--metrics-port``: a producer's counts served for Prometheus, read at scrape time."""

from __future__ import annotations

import socket

import pytest

from adapters.errors import ConfigurationError
from adapters.ports import DeliveryReport
from app.producers.metrics import serve
from app.producers.sender import SendStats
from tests.support.prometheus import producer_samples


def test_the_counts_are_read_at_each_scrape() -> None:
    stats = SendStats()
    url = serve(lambda: stats, "replay", 0, "127.0.0.1")
    assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
    first = producer_samples(url, "replay")
    assert first["streamkit_producer_sent_total"] == 0
    stats.published, stats.dead_lettered = 120, 3
    stats.absorb(DeliveryReport(delivered=100, failed=[(b"k", "broker down")]))
    later = producer_samples(url, "replay")
    assert later["streamkit_producer_sent_total"] == 120
    assert later["streamkit_producer_dead_lettered_total"] == 3
    assert later["streamkit_producer_delivered_total"] == 100
    assert later["streamkit_producer_failed_total"] == 1
    assert later["streamkit_producer_in_flight"] == 22
    assert later["streamkit_producer_rate"] > 0


def test_a_port_in_use_names_the_fix() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"127.0.0.1:{port} is in use: choose another"):
            serve(SendStats, "live", port, "127.0.0.1")
