"""``--metrics-port``: a producer's counts served for Prometheus, read at scrape time."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.errors import ConfigurationError
from adapters.ports import DeliveryReport
from app.producers.metrics import serve
from app.producers.sender import SendStats


def scrape(url: str) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - a local test server
        text = answer.read().decode()
    return {
        (sample.name, sample.labels.get("producer", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_counts_are_read_at_each_scrape() -> None:
    stats = SendStats()
    url = serve(lambda: stats, "replay", 0, "127.0.0.1")
    assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
    first = scrape(url)
    assert first[("streamkit_producer_sent_total", "replay")] == 0
    stats.published, stats.dead_lettered = 120, 3
    stats.absorb(DeliveryReport(delivered=100, failed=[(b"k", "broker down")]))
    later = scrape(url)
    assert later[("streamkit_producer_sent_total", "replay")] == 120
    assert later[("streamkit_producer_dead_lettered_total", "replay")] == 3
    assert later[("streamkit_producer_delivered_total", "replay")] == 100
    assert later[("streamkit_producer_failed_total", "replay")] == 1
    assert later[("streamkit_producer_in_flight", "replay")] == 22
    assert later[("streamkit_producer_rate", "replay")] > 0


def test_a_port_in_use_names_the_fix() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"127.0.0.1:{port} is in use: choose another"):
            serve(SendStats, "live", port, "127.0.0.1")
