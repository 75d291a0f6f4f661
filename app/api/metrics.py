"""``/metrics``: the API's request metrics and the pipeline's health figures, for Prometheus.

Request metrics are labelled by route *template* (``/kpis``), never the raw
path, so a scanner cannot grow the label set. Pipeline figures are read from
the job's health document at scrape time by a custom collector: the job writes
them after each batch (app.pipeline.health), and Prometheus sees the current
values without the job having to serve HTTP itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.errors import StreamkitError
from adapters.ports import HotStore
from app.alerts.engine import Observations
from app.alerts.figures import read_health
from app.pipeline.documents import last_written

log = logging.getLogger(__name__)

#: Request-latency buckets (seconds): the API answers in milliseconds.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

#: Health-document numbers exported as gauges: field → (metric suffix, help).
_GAUGES = {
    "batch_id": ("batch_id", "Id of the last finished micro-batch."),
    "input_rows": ("batch_input_rows", "Records read by the last batch."),
    "input_rate": (
        "input_rows_per_second",
        "Records/s arriving, as Spark measured the last batch.",
    ),
    "processing_rate": ("processed_rows_per_second", "Records/s processed in the last batch."),
    "batch_duration_ms": ("batch_duration_seconds", "Duration of the last batch."),
    "lag_records": ("consumer_lag_records", "Records behind the end of the bus, worst partition."),
    "sink_seconds": ("sink_seconds", "Seconds the last batch spent writing its sinks."),
    "trigger_lag_ms": (
        "trigger_lag_seconds",
        "How late the last batch started against its trigger (the previous one overran).",
    ),
    "state_rows": ("state_rows", "Rows held in the job's state store (sessions, dedup keys)."),
    "state_memory_bytes": ("state_memory_bytes", "Memory the job's state store uses."),
}
#: Health-document fields in milliseconds, exported in seconds.
_MILLISECONDS = frozenset({"batch_duration_ms", "trigger_lag_ms"})


class ApiMetrics:
    """The API's registry: request counters and latency histogram, plus the pipeline collector."""

    def __init__(
        self,
        store: Callable[[], HotStore],
        figures: Callable[[dict[str, Any] | None], Observations] | None = None,
    ) -> None:
        """Read at scrape time: the job's health from ``store``, then ``figures`` of it.

        ``figures`` gives the figures the alert rules compare (:mod:`app.alerts.figures`),
        given the health document the scrape read (once).
        """
        # The *_created series double the exposition for no use on a dashboard.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "streamkit_api_requests",
            "API requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "streamkit_api_request_duration_seconds",
            "API request latency, by method and route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(PipelineCollector(store, figures))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)


class PipelineCollector(Collector):
    """The job's health and the alert rules' figures, read once per scrape.

    ``streamkit_pipeline_*`` gauges come from the job's health document; the figures the
    alert rules compare come under the rules' names, so Prometheus evaluates the rules
    generated from ``app/alerts/rules.toml`` on exactly the series ``streamkit alerts``
    computes the same way (docs/monitoring.md).
    """

    def __init__(
        self,
        store: Callable[[], HotStore],
        figures: Callable[[dict[str, Any] | None], Observations] | None = None,
    ) -> None:
        """``store`` is called at each scrape (the hot store may be opened lazily)."""
        self._store = store
        self._figures = figures

    def describe(self) -> list[Metric]:
        """Nothing up front: reading the store at registration would need it up."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The health document's figures; ``streamkit_pipeline_health_up``: was it read."""
        try:
            doc = read_health(self._store())
        except StreamkitError as e:  # the store could not even be opened
            log.warning("metrics: could not open the hot store: %s", e)
            doc = None
        up = GaugeMetricFamily(
            "streamkit_pipeline_health_up",
            "1 when the pipeline's health document was read, 0 if not (store down, no job yet).",
        )
        up.add_metric([], 1.0 if doc else 0.0)
        yield up
        if doc:
            yield from _gauges(doc)
        if self._figures is not None:
            yield from _figure_gauges(self._figures(doc))


def _figure_gauges(figures: Observations) -> Iterator[Metric]:
    """One gauge per figure, a series per label set."""
    for name, series in sorted(figures.items()):
        names = sorted({k for labels in series for k, _ in labels})
        gauge = GaugeMetricFamily(name, _FIGURE_HELP.get(name, name), labels=names)
        for labels, value in sorted(series.items()):
            gauge.add_metric([dict(labels).get(n, "") for n in names], value)
        yield gauge


_FIGURE_HELP = {
    "streamkit_pipeline_latency_p95_seconds": "P95 end-to-end latency of the newest minute.",
    "streamkit_kpi_conversion_zscore_abs": "|z| of the newest minute's conversion rate.",
    "streamkit_kpi_deadletter_share": "Dead letters over all records of the newest minute.",
    "streamkit_kpi_deadlettered": "Records dead-lettered in the newest minute.",
    "streamkit_kpi_late_dropped": "Events dropped as late (behind the watermark), newest minute.",
    "streamkit_pipeline_newest_minute_age_seconds": "Seconds since the newest minute was written.",
    "streamkit_pipeline_consumer_lag_seconds": "Age of the oldest record the job has not read.",
    "streamkit_dependency_up": "1 when the dependency answers /health's check, 0 if not.",
}


def _gauges(doc: dict[str, Any]) -> Iterator[Metric]:
    for field, (suffix, text) in _GAUGES.items():
        value = doc.get(field)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if field in _MILLISECONDS:
            value = value / 1000
        gauge = GaugeMetricFamily(f"streamkit_pipeline_{suffix}", text)
        gauge.add_metric([], float(value))
        yield gauge
    last = last_written(doc)
    if last is not None:
        age = GaugeMetricFamily(
            "streamkit_pipeline_last_write_age_seconds",
            "Seconds since the job last wrote (a batch or an idle report): its freshness.",
        )
        age.add_metric([], max(0.0, time.time() - last.timestamp()))
        yield age
    by_partition = doc.get("lag_by_partition")
    if isinstance(by_partition, dict) and by_partition:
        lag = GaugeMetricFamily(
            "streamkit_pipeline_partition_lag_records",
            "Records behind the end of the bus, per partition, as the last batch saw them.",
            labels=["partition"],
        )
        for partition, n in sorted(by_partition.items(), key=lambda kv: int(kv[0])):
            if isinstance(n, int) and not isinstance(n, bool):
                lag.add_metric([str(partition)], float(n))
        yield lag
    rows = doc.get("rows")
    if isinstance(rows, dict):
        by_kind = GaugeMetricFamily(
            "streamkit_pipeline_batch_rows",
            "Rows the last batch produced, by kind (event, late, reject, minute, session).",
            labels=["kind"],
        )
        for kind, n in sorted(rows.items()):
            if isinstance(n, int):
                by_kind.add_metric([str(kind)], float(n))
        yield by_kind
