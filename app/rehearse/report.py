"""The rehearsal's report: verdict, bindings, timings, every difference (markdown, HTML, JSON)."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.rehearse.diff import FieldDiff
    from app.rehearse.run import Rehearsal

#: Differences listed per section; the rest are counted (all are in summary.json).
SHOWN = 200


def verdict(rehearsal: Rehearsal) -> str:
    """One line: PASS with what was compared, or FAIL with how much differs."""
    diff = rehearsal.diff
    what = (
        f"{diff.compared_minutes} minutes, {diff.compared_sessions} closed sessions and"
        f" {len(rehearsal.runs[0].outputs.archived_rows) if rehearsal.runs[0].outputs else 0}"
        " archive datasets compared"
    )
    if diff.identical:
        return f"PASS: zero differences ({what})"
    return f"FAIL: {diff.count} differing values ({what})"


def summary(rehearsal: Rehearsal) -> dict[str, Any]:
    """Everything in the report, as JSON-ready data."""
    diff = rehearsal.diff
    return {
        "verdict": verdict(rehearsal),
        "identical": diff.identical,
        "started": rehearsal.started.isoformat(),
        "input": str(rehearsal.input),
        "from": rehearsal.options.source,
        "to": rehearsal.options.target,
        "sides": [
            {
                "name": run.side.name,
                "bindings": run.side.bindings,
                "timings_s": {k: round(v, 2) for k, v in run.timings.items()},
                "records_replayed": run.sent,
                "records_processed": run.records,
                "batches": run.batches,
                "archived_rows": run.outputs.archived_rows if run.outputs else {},
            }
            for run in rehearsal.runs
        ],
        "compared": {"minutes": diff.compared_minutes, "sessions": diff.compared_sessions},
        "differences": {
            section: [vars(d) for d in getattr(diff, section)]
            for section in ("minutes", "sessions", "archive", "dead_letters")
        },
        "cleanup_problems": rehearsal.cleanup_problems,
    }


def markdown(rehearsal: Rehearsal) -> str:
    """The report as markdown."""
    left, right = (run.side.name for run in rehearsal.runs)
    lines = [
        f"# Rehearsal: {rehearsal.options.source} → {rehearsal.options.target}",
        "",
        f"**{verdict(rehearsal)}**",
        "",
        f"Input: `{rehearsal.input}` · started {rehearsal.started:%Y-%m-%d %H:%M:%S} UTC",
        "",
        "## Bindings",
        "",
        f"| port | {left} | {right} |",
        "|---|---|---|",
    ]
    a, b = (run.side.bindings for run in rehearsal.runs)
    lines += [f"| {port} | `{a[port]}` | `{b[port]}` |" for port in a]
    lines += ["", "## Timings and counts", "", f"| | {left} | {right} |", "|---|---:|---:|"]
    for label, value in _side_rows(rehearsal):
        lines.append(f"| {label} | {value[0]} | {value[1]} |")
    for title, section in _sections(rehearsal):
        lines += ["", f"## {title}", ""]
        if not section:
            lines.append("No differences.")
            continue
        lines += [f"| where | field | {left} | {right} |", "|---|---|---|---|"]
        lines += [
            f"| {d.where} | {d.field} | {_cell(d.left)} | {_cell(d.right)} |"
            for d in section[:SHOWN]
        ]
        if len(section) > SHOWN:
            lines.append(f"\n…and {len(section) - SHOWN} more (all in summary.json).")
    if rehearsal.cleanup_problems:
        lines += ["", "## Clean-up problems", ""]
        lines += [f"- {p}" for p in rehearsal.cleanup_problems]
    return "\n".join(lines) + "\n"


def html_page(rehearsal: Rehearsal) -> str:
    """The report as a self-contained HTML page (no scripts, no external assets)."""
    left, right = (run.side.name for run in rehearsal.runs)
    ok = rehearsal.diff.identical
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Rehearsal {_e(rehearsal.options.source)} to"
        f" {_e(rehearsal.options.target)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        ".pass{color:#186a3b}.fail{color:#a93226}code{font-size:90%}</style></head><body>",
        f"<h1>Rehearsal: {_e(rehearsal.options.source)} → {_e(rehearsal.options.target)}</h1>",
        f"<p class='{'pass' if ok else 'fail'}'><strong>{_e(verdict(rehearsal))}</strong></p>",
        f"<p>Input: <code>{_e(str(rehearsal.input))}</code></p>",
        "<h2>Bindings</h2>",
        _table(
            ["port", left, right],
            [
                [port, f"<code>{_e(a)}</code>", f"<code>{_e(b)}</code>"]
                for (port, a), b in zip(
                    rehearsal.runs[0].side.bindings.items(),
                    rehearsal.runs[1].side.bindings.values(),
                    strict=True,
                )
            ],
            escape=False,
        ),
        "<h2>Timings and counts</h2>",
        _table(["", left, right], [[label, *values] for label, values in _side_rows(rehearsal)]),
    ]
    for title, section in _sections(rehearsal):
        parts.append(f"<h2>{_e(title)}</h2>")
        if not section:
            parts.append("<p>No differences.</p>")
            continue
        rows = [[d.where, d.field, _cell(d.left), _cell(d.right)] for d in section[:SHOWN]]
        parts.append(_table(["where", "field", left, right], rows))
        if len(section) > SHOWN:
            parts.append(f"<p>…and {len(section) - SHOWN} more (all in summary.json).</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_reports(rehearsal: Rehearsal) -> None:
    """``report.md``, ``report.html`` and ``summary.json`` in the rehearsal's directory."""
    out = rehearsal.report_dir
    (out / "report.md").write_text(markdown(rehearsal))
    (out / "report.html").write_text(html_page(rehearsal))
    (out / "summary.json").write_text(json.dumps(summary(rehearsal), indent=2, default=str) + "\n")


def _sections(rehearsal: Rehearsal) -> list[tuple[str, list[FieldDiff]]]:
    diff = rehearsal.diff
    return [
        ("Minute KPIs (minute by minute)", diff.minutes),
        ("Closed sessions", diff.sessions),
        ("Archived row counts", diff.archive),
        ("Dead letters counted at publish time", diff.dead_letters),
    ]


def _side_rows(rehearsal: Rehearsal) -> list[tuple[str, tuple[str, str]]]:
    a, b = rehearsal.runs

    def pair(get: Any) -> tuple[str, str]:
        return str(get(a)), str(get(b))

    rows = [
        ("records replayed", pair(lambda r: f"{r.sent:,}")),
        ("records processed", pair(lambda r: f"{r.records:,}")),
        ("micro-batches", pair(lambda r: r.batches)),
    ]
    for step in ("prepare", "replay", "pipeline", "collect"):
        rows.append((f"{step} (s)", pair(lambda r, s=step: f"{r.timings.get(s, 0):.1f}")))
    return rows


def _cell(value: Any) -> str:
    return "—" if value is None else str(value)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _table(header: list[str], rows: list[list[str]], *, escape: bool = True) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(c) if escape else c}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"
