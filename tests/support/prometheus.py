"""Reading a Prometheus endpoint the way Prometheus does, for the metrics tests."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def producer_samples(url: str, producer: str) -> dict[str, float]:
    """The samples of ``url`` labelled ``producer=…``, by sample name (``…_total`` included)."""
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - a local test server
        text = answer.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("producer") == producer
    }
