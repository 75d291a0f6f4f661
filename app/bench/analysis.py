"""From what the benchmark recorded to the figures of each phase.

Inputs: the phases with their wall-clock bounds (from the replay's step lines), the per-second
samples (:mod:`app.bench.sampler`), the markers (:mod:`app.bench.probe`), the job's progress log
(one JSON line per batch) and the minute documents of the hot store. Every figure of a phase
comes from its own stretch of time:

* **end-to-end latency** (the definition of docs/kpis.md) from the minutes' stored histograms,
  merged over the minutes whose middle falls in the phase (the traffic's event time is its send
  time, so a minute's events were sent during that minute);
* **markers**: the latencies of the markers sent during the phase;
* **lag**: flat or not (:func:`app.bench.lag.flatness`), over the phase's samples;
* **stages**: medians over the batches whose trigger fired during the phase, of Spark's phases
  and of each sink, and of the wait of a batch's oldest record (from the moment the topic's end
  passed the batch's first offset, interpolated between samples, to the trigger);
* **usage**: each service's mean and peak CPU, and peak memory.
"""

from __future__ import annotations

import bisect
import itertools
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.bench.lag import LagSample, drain_seconds, flatness
from app.bench.markers import nearest_rank
from app.bench.plan import Kind, Phase
from app.bench.sampler import Sample
from app.pipeline import latency

QUANTILES = (0.50, 0.95, 0.99)


@dataclass(frozen=True)
class Timed:
    """A phase with its wall-clock bounds (epoch seconds)."""

    phase: Phase
    start: float
    end: float


def json_lines(path: Path) -> list[dict[str, Any]]:
    """A JSON-lines file the job wrote (progress log, operator profile); empty if it has none."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def timeline(phases: Sequence[Phase], starts: Sequence[float], traffic_end: float) -> list[Timed]:
    """Each phase's bounds from the moments the replay announced them; the last ends with it."""
    if len(starts) != len(phases):
        msg = f"the replay announced {len(starts)} of {len(phases)} phases; see its log"
        raise ValueError(msg)
    ends = [*starts[1:], traffic_end]
    return [Timed(p, s, e) for p, s, e in zip(phases, starts, ends, strict=True)]


def within(samples: Sequence[Sample], start: float, end: float) -> list[Sample]:
    """The samples taken in ``[start, end)``."""
    return [s for s in samples if start <= s.at < end]


def histogram_latency(
    minutes: Iterable[Mapping[str, Any]], start: float, end: float
) -> dict[str, Any]:
    """Percentiles of the merged histograms of the minutes inside ``[start, end)``.

    A histogram covers a whole minute and cannot be split: a minute that straddles two phases
    would mix their traffic (a minute half in a 10,000/s burst is mostly burst). So only minutes
    wholly inside the phase count; a phase that holds no whole minute (a 60 s burst seldom
    does) takes the minutes it overlaps by more than half, and says so (``whole: false``).
    """
    docs = [d for d in minutes if d.get("latency")]
    inside = [d for d in docs if start <= epoch(d["minute"]) and epoch(d["minute"]) + 60 <= end]
    whole = bool(inside)
    if not inside:
        inside = [d for d in docs if _overlap(epoch(d["minute"]), start, end) > 30]
    merged: dict[str, int] = {}
    for doc in inside:
        merged = latency.merge(merged, doc["latency"])
    top = max((latency.bucket_index(b) for b in merged), default=None)
    return {
        **latency.percentiles(merged, QUANTILES),
        "max_bucket": None if top is None else latency.upper_bound_ms(top),
        "count": latency.count(merged),
        "minutes": len(inside),
        "whole": whole,
    }


def _overlap(minute: float, start: float, end: float) -> float:
    """Seconds of the minute starting at ``minute`` that fall in ``[start, end)``."""
    return max(0.0, min(minute + 60, end) - max(minute, start))


def marker_latency(
    markers: Sequence[tuple[float, float | None]], start: float, end: float
) -> dict[str, Any]:
    """Percentiles (ms) of the markers sent in ``[start, end)``, and how many were never seen."""
    sent = [lat for at, lat in markers if start <= at < end]
    seen = [lat * 1000 for lat in sent if lat is not None]
    ranks = nearest_rank(seen, QUANTILES)
    return {
        **{k: None if v is None else round(v) for k, v in ranks.items()},
        "max": round(max(seen)) if seen else None,
        "sent": len(sent),
        "seen": len(seen),
    }


def lag_verdict(samples: Sequence[Sample], phase: Timed) -> dict[str, Any]:
    """Whether the job kept up with the phase's rate, with the figures that decided."""
    lags = [LagSample(s.at - phase.start, s.lag) for s in within(samples, phase.start, phase.end)]
    if len(lags) < 4:
        return {"flat": None, "why": f"{len(lags)} samples: too short to judge", "max": None}
    verdict = flatness(lags, phase.phase.rate)
    return {
        "flat": verdict.flat,
        "slope_per_s": round(verdict.slope, 1),
        "final": verdict.final,
        "max": max(s.records for s in lags),
        "why": verdict.why,
    }


def throughput(samples: Sequence[Sample], start: float, end: float) -> dict[str, float | None]:
    """Records/s published and committed over the phase (first to last sample)."""
    inside = within(samples, start, end)
    if len(inside) < 2 or inside[-1].at <= inside[0].at:
        return {"published_per_s": None, "committed_per_s": None}
    span = inside[-1].at - inside[0].at
    return {
        "published_per_s": round((inside[-1].published - inside[0].published) / span, 1),
        "committed_per_s": round((inside[-1].committed - inside[0].committed) / span, 1),
    }


def usage(samples: Sequence[Sample], start: float, end: float) -> dict[str, dict[str, float]]:
    """Per service: mean and peak CPU (% of one core), peak RSS (MiB)."""
    per: dict[str, list[tuple[float, float]]] = {}
    for sample in within(samples, start, end):
        for name, u in sample.usage.items():
            per.setdefault(name, []).append((u.cpu_percent, u.rss_mib))
    return {
        name: {
            "cpu_mean": round(statistics.fmean(c for c, _ in values), 1),
            "cpu_peak": round(max(c for c, _ in values), 1),
            "rss_peak_mib": round(max(r for _, r in values), 1),
        }
        for name, values in sorted(per.items())
    }


def stages(
    batches: Sequence[Mapping[str, Any]], samples: Sequence[Sample], start: float, end: float
) -> dict[str, Any]:
    """Medians over the phase's batches: Spark's phases, each sink, the oldest record's wait."""
    inside = [b for b in batches if start <= epoch(b["trigger_at"]) < end and b["input_rows"]]
    if not inside:
        return {"batches": 0}
    spark: dict[str, list[float]] = {}
    sinks: dict[str, list[float]] = {}
    for b in inside:
        for name, ms in b["durations_ms"].items():
            spark.setdefault(name, []).append(float(ms))
        for name, seconds in b.get("sink_stages", {}).items():
            sinks.setdefault(name, []).append(seconds * 1000)
    # Each batch starts where the one before it in the log ended; the sample series once.
    ordered = sorted(batches, key=lambda b: b["batch_id"])
    first_offset = {b["batch_id"]: _offset_total(a) for a, b in itertools.pairwise(ordered)}
    published = [s.published for s in samples]
    waits = [
        w
        for b in inside
        if b["batch_id"] in first_offset
        and (w := _wait_ms(b, first_offset[b["batch_id"]], published, samples)) is not None
    ]
    return {
        "batches": len(inside),
        "input_rows_median": statistics.median(b["input_rows"] for b in inside),
        "spark_ms": {k: round(statistics.median(v)) for k, v in sorted(spark.items())},
        "sink_ms": {k: round(statistics.median(v)) for k, v in sorted(sinks.items())},
        "oldest_record_wait_ms": round(statistics.median(waits)) if waits else None,
    }


def operator(laps: Sequence[Mapping[str, Any]], start: float, end: float) -> dict[str, Any]:
    """Medians of the stream operator's own timings (ms) and sizes over the phase's batches."""
    inside = [lap for lap in laps if start <= lap["at"] < end and lap.get("rows")]
    if not inside:
        return {}
    names = [k for k in inside[-1] if k != "at"]
    return {
        name: round(statistics.median(float(lap.get(name, 0)) for lap in inside), 1)
        for name in names
    }


def oldest_wait_ms(
    batch: Mapping[str, Any], batches: Sequence[Mapping[str, Any]], samples: Sequence[Sample]
) -> float | None:
    """From the publishing of the batch's first record to its trigger, in ms.

    The batch starts where the previous one (in the progress log) ended; the moment the topic's
    end passed that offset is interpolated between the two samples around it.
    """
    previous = [b for b in batches if b["batch_id"] < batch["batch_id"]]
    if not previous:
        return None
    first = _offset_total(max(previous, key=lambda b: b["batch_id"]))
    return _wait_ms(batch, first, [s.published for s in samples], samples)


def _wait_ms(
    batch: Mapping[str, Any], first: int, published: Sequence[int], samples: Sequence[Sample]
) -> float | None:
    """:func:`oldest_wait_ms` for a batch starting at offset total ``first``."""
    i = bisect.bisect_right(published, first)
    if i == 0 or i == len(samples):
        return None
    before, after = samples[i - 1], samples[i]
    share = (first - before.published) / max(after.published - before.published, 1)
    at = before.at + share * (after.at - before.at)
    return (epoch(batch["trigger_at"]) - at) * 1000


def drain(samples: Sequence[Sample], timed: Sequence[Timed]) -> dict[str, Any] | None:
    """The burst's drain time: from the peak's end until the lag is back to its steady level."""
    peak = next((t for t in timed if t.phase.kind is Kind.BURST_PEAK), None)
    if peak is None:
        return None
    lags = [LagSample(s.at, s.lag) for s in samples]
    try:
        seconds = drain_seconds(lags, peak.start, peak.end, steady_rate=timed[0].phase.rate)
    except ValueError as e:
        return {"seconds": None, "why": str(e)}
    during = [s.lag for s in samples if peak.start <= s.at <= peak.end + 120]
    return {
        "seconds": None if seconds is None else round(seconds, 1),
        "peak_lag": max(during, default=None),
        "why": "drained" if seconds is not None else "lag never came back before the end",
    }


def _offset_total(batch: Mapping[str, Any]) -> int:
    """Records up to (exclusive) the batch's end offsets, over the partitions of its one source."""
    total = 0
    for source in batch.get("end_offsets") or []:
        for partitions in source.values():
            total += sum(int(o) for o in partitions.values())
    return total


def minute_p95(doc: Mapping[str, Any]) -> float | None:
    """A minute document's stored P95 latency in ms (None when nothing was timed)."""
    return latency.percentiles(doc.get("latency") or {}, (0.95,))["p95"]


def epoch(value: Any) -> float:
    """Epoch seconds of a datetime or an ISO 8601 string."""
    if isinstance(value, datetime):
        return value.timestamp()
    text = str(value).replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()
