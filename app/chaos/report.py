"""The chaos report: ``summary.json`` (one row per scenario) and ``summary.md``, a table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def markdown(summary: Mapping[str, Any]) -> str:
    """The page for people: conditions, one table, and what differed where something did."""
    rows: Sequence[Mapping[str, Any]] = summary["scenarios"]
    lines = [
        f"# Chaos run, {summary['started']}",
        "",
        f"Machine: {summary['machine']}. Options: {summary['options']}.",
        "",
        "| scenario | faults injected | events in | on the topic | counted | dead letters "
        "(producer) | late dropped | closed sessions compared | differences | recovery s "
        "(median / max) | passed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        recovery = r["recovery_s"]
        lines.append(
            "| "
            + " | ".join(
                [
                    r["scenario"],
                    str(r["faults_injected"]),
                    f"{r['events_in']:,}",
                    f"{r['on_topic']:,}",
                    _n(r["counted"]),
                    f"{r['dead_letters']:,} ({r['dead_letters_by_producer']:,})",
                    _n(r["late_dropped"]),
                    _n(r["closed_sessions_compared"]),
                    _n(r["differences"]),
                    f"{recovery['median']} / {recovery['max']}" if recovery else "-",
                    "**yes**" if r["passed"] else "**no**",
                ]
            )
            + " |"
        )
    lines.append("")
    for r in rows:
        lines.append(
            f"- **{r['scenario']}**: {r['description']}; replayed at {r['replay_rate']:g} events/s."
        )
        if r["faults"]:
            lines.append(f"  Faults: {'; '.join(r['faults'])}.")
        if outage := r.get("outage"):
            lines.append(_outage_line(outage))
        if r.get("reconcile"):
            lines.append(f"  `streamkit reconcile`: {r['reconcile']}")
        if r.get("notes"):
            lines.append(f"  The job said: {' '.join(r['notes'])}")
        if r.get("problems"):
            lines.append(f"  Problems: {'; '.join(r['problems'])}.")
        if r["error"]:
            lines.append(f"  Error: {r['error']}")
        if r["difference_detail"]:
            lines += ["  Differences:", "", "  ```", *r["difference_detail"].splitlines(), "  ```"]
    return "\n".join(lines) + "\n"


def _outage_line(outage: Mapping[str, Any]) -> str:
    line = f"  Down {outage['down_s']:.1f} s."
    if outage["health_during"]:
        during = ", ".join(outage["health_during"])
        after = outage["health_after"]
        took = outage["healthy_after_s"]
        line += f" /health before: {outage['health_before']}; during: {during}; after: {after}"
        line += f" ({took:.1f} s after catching up)." if took is not None else "."
    return line


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
