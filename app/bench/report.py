"""The end-to-end benchmark's verdicts against the issue's targets, and its markdown summary."""

from __future__ import annotations

from typing import Any

#: The targets on a 2-core machine with the full local stack (issue 7).
P95_TARGET_MS = 850.0
DRAIN_TARGET_S = 60.0


def _step(summary: dict[str, Any], rate: float) -> dict[str, Any] | None:
    return next((p for p in summary["phases"] if p["kind"] == "step" and p["rate"] == rate), None)


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target this run measured: what it asks, what was measured, met or by how much."""
    zero_loss = summary["accounts"]["zero_loss"]
    out: list[dict[str, Any]] = []
    if (step := _step(summary, 2_000)) is not None:
        p95 = step["latency_ms"]["p95"]
        met = p95 is not None and p95 <= P95_TARGET_MS and bool(step["lag"]["flat"]) and zero_loss
        by = "" if p95 is None else f"P95 {p95:,.0f} ms ({p95 / P95_TARGET_MS:.1f}x the target)"
        out.append(
            {
                "target": "2,000 events/s: P95 end-to-end <= 850 ms, zero loss, flat lag",
                "measured": f"{by}; lag: {step['lag']['why']}; zero loss: {zero_loss}",
                "met": met,
                "seconds": step["seconds"],
            }
        )
    if (step := _step(summary, 5_000)) is not None:
        p95 = step["latency_ms"]["p95"]
        out.append(
            {
                "target": "5,000 events/s: flat lag, zero loss; P95 reported",
                "measured": f"lag: {step['lag']['why']}; P95 {p95} ms; zero loss: {zero_loss}",
                "met": bool(step["lag"]["flat"]) and zero_loss,
                "seconds": step["seconds"],
            }
        )
    if (burst := summary.get("burst")) is not None:
        seconds = burst["seconds"]
        out.append(
            {
                "target": "burst: zero loss, back to steady within 60 s",
                "measured": (f"drained in {seconds} s" if seconds is not None else "never drained")
                + f" (peak backlog {burst.get('peak_lag'):,})",
                "met": seconds is not None and seconds <= DRAIN_TARGET_S and zero_loss,
            }
        )
    return out


def markdown(summary: dict[str, Any]) -> str:
    """The report as a markdown page."""
    m, c, a = summary["machine"], summary["conditions"], summary["accounts"]
    lines = [
        f"# End-to-end benchmark, {summary['at']}"
        + (f" ({summary['label']})" if summary["label"] else ""),
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, {m['os']}. "
        f"Hot store: {c['hot_store_server']}. Job: trigger {c['trigger_seconds']:g} s, "
        f"at most {c['max_records_per_batch']:,} records a batch, Spark `{c['spark_master']}`"
        + (f", {c['job_env']}" if c["job_env"] else "")
        + f". Profile (rate:seconds): `{summary['profile']}`.",
        "",
        "End-to-end latency is the producer's `ingest_ts` to the commit of the hot-store write "
        "that holds the event (docs/kpis.md), from the minutes' stored histograms (upper bucket "
        "bounds, so up to 20 % high). Markers are read back through `GET /kpis` (the API's "
        f"{c['api_cache_s']:g} s cache included): what a dashboard sees.",
        "",
        "| phase | s | published/s | committed/s | P50 ms | P95 ms | P99 ms "
        "| marker P50/P95/P99 ms | markers seen | lag | batch ms (median) | oldest wait ms "
        "| job CPU % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in summary["phases"]:
        lat, mk, st = p["latency_ms"], p["marker_latency_ms"], p["stages"]
        batch = st.get("spark_ms", {}).get("triggerExecution")
        job = p["usage"].get("job", {}).get("cpu_mean")
        flat = {True: "flat", False: "growing", None: "?"}[p["lag"]["flat"]]
        lines.append(
            "| "
            + " | ".join(
                str(x)
                for x in (
                    p["name"],
                    p["seconds"],
                    _n(p["throughput"]["published_per_s"]),
                    _n(p["throughput"]["committed_per_s"]),
                    _n(lat["p50"]),
                    _n(lat["p95"]),
                    _n(lat["p99"]),
                    f"{_n(mk['p50'])} / {_n(mk['p95'])} / {_n(mk['p99'])}",
                    f"{mk['seen']}/{mk['sent']}",
                    f"{flat} (max {_n(p['lag'].get('max'))})",
                    _n(batch),
                    _n(st.get("oldest_record_wait_ms")),
                    _n(job),
                )
            )
            + " |"
        )
    lines += [
        "",
        f"Records: {a['replayed']:,} replayed + {a['markers']:,} markers; {a['on_topic']:,} on the "
        f"topic, {a['committed']:,} committed by the job ({a['uncommitted']:,} not yet); of those "
        f"{a['counted']:,} counted, {a['archived']:,} archived, {a['late_dropped']:,} late, "
        f"{a['dead_lettered']:,} dead-lettered, {a['lost']:,} lost. Zero loss: **{a['zero_loss']}**"
        + (
            ""
            if summary["drained"]
            else " (the job had not drained the backlog when the run ended)"
        )
        + ".",
        "",
        "Sustained rate (highest step with flat lag): "
        f"**{_n(summary['sustained_rate'])} events/s**.",
    ]
    if (burst := summary.get("burst")) is not None:
        drained = (
            f"drained {burst['seconds']} s after the peak ended"
            if burst["seconds"] is not None
            else "never drained before the run ended"
        )
        lines.append(f"Burst: {drained} (peak backlog {_n(burst.get('peak_lag'))} records).")
    if (api := summary.get("api")) is not None:
        if "error" in api:
            lines.append(f"API load failed: {api['error']}")
        else:
            lat = api["latency_ms"]
            lines.append(
                f"API under {api['rate']:.0f} requests/s for {api['seconds']:.0f} s during "
                f"{api['during']}: p50 {lat['p50']} ms, p95 {lat['p95']} ms, "
                f"p99 **{lat['p99']} ms**, statuses {api['statuses']}."
            )
    lines += ["", "## Stages (medians per batch, ms)", ""]
    lines += [
        "| phase | batches | rows | "
        + " | ".join(_STAGES)
        + " | sinks: dead letters / hot store / archive |"
    ]
    lines += ["|---" * (len(_STAGES) + 4) + "|"]
    for p in summary["phases"]:
        st = p["stages"]
        if not st.get("batches"):
            continue
        spark, sinks = st["spark_ms"], st["sink_ms"]
        sink = " / ".join(_n(sinks.get(k)) for k in ("dead_letters", "hot_store", "archive"))
        cells = [p["name"], st["batches"], _n(st["input_rows_median"])]
        cells += [_n(spark.get(k)) for k in _STAGES] + [sink]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    laps = [p for p in summary["phases"] if p.get("operator_ms")]
    if laps:
        names = list(laps[0]["operator_ms"])
        lines += ["", "## Inside the stream operator (medians per batch: ms; sizes)", ""]
        lines += ["| phase | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for p in laps:
            cells = [_n(p["operator_ms"].get(n)) for n in names]
            lines.append(f"| {p['name']} | " + " | ".join(cells) + " |")
    lines += ["", "## CPU (% of one core, mean) and memory (MiB, peak) per service", ""]
    services = sorted({s for p in summary["phases"] for s in p["usage"]})
    lines += ["| phase | " + " | ".join(services) + " |", "|---" * (len(services) + 1) + "|"]
    for p in summary["phases"]:
        u = p["usage"]
        cells = [
            f"{_n(u[s]['cpu_mean'])} % · {_n(u[s]['rss_peak_mib'])}" if s in u else ""
            for s in services
        ]
        lines.append(f"| {p['name']} | " + " | ".join(cells) + " |")
    if summary["targets"]:
        lines += ["", "## Targets", ""]
        for t in summary["targets"]:
            lines.append(
                f"- {'met' if t['met'] else '**missed**'}: {t['target']} — {t['measured']}"
            )
    lines += ["", "Plots: " + ", ".join(f"[{p}]({p})" for p in summary["plots"]), ""]
    return "\n".join(lines)


_STAGES = (
    "latestOffset",
    "queryPlanning",
    "addBatch",
    "walCommit",
    "commitOffsets",
    "triggerExecution",
)


def _n(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int | float) else str(value)
