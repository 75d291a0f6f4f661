"""The end-to-end benchmark's PNG plots: latency, lag and throughput over time.

matplotlib (the ``bench`` extra) draws them off-screen (the Agg backend: no display needed).
Time is seconds since the traffic started, and each phase is a shaded band with its name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.bench.analysis import Timed
from app.bench.sampler import Sample


def draw(
    out: Path,
    timed: Sequence[Timed],
    samples: Sequence[Sample],
    markers: Sequence[tuple[float, float | None]],
    minutes: Sequence[tuple[float, float | None]],
) -> list[Path]:
    """Write ``latency.png``, ``lag.png`` and ``throughput.png`` into ``out``; their paths.

    ``minutes`` holds (middle of the minute, its stored P95 in ms) for the latency plot.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = timed[0].start if timed else (samples[0].at if samples else 0.0)
    paths = []

    fig, ax = plt.subplots(figsize=(11, 4))
    seen = [(at - t0, lat * 1000) for at, lat in markers if lat is not None]
    if seen:
        ax.plot(*zip(*seen, strict=True), ".", markersize=3, label="marker (through the API)")
    stored = [(mid - t0, p95) for mid, p95 in minutes if p95 is not None]
    if stored:
        ax.step(*zip(*stored, strict=True), where="mid", label="minute P95 (stored histogram)")
    ax.set_yscale("log")
    _finish(ax, timed, t0, "end-to-end latency (ms)")
    paths.append(_save(fig, out / "latency.png"))

    fig, ax = plt.subplots(figsize=(11, 4))
    ax.plot([s.at - t0 for s in samples], [s.lag for s in samples], label="backlog (records)")
    _finish(ax, timed, t0, "records published, not committed")
    paths.append(_save(fig, out / "lag.png"))

    fig, ax = plt.subplots(figsize=(11, 4))
    for label, rates in (
        ("published/s", _rates(samples, "published")),
        ("committed/s", _rates(samples, "committed")),
    ):
        ax.plot([at - t0 for at, _ in rates], [r for _, r in rates], label=label, linewidth=0.8)
    _finish(ax, timed, t0, "records per second (5 s average)")
    paths.append(_save(fig, out / "throughput.png"))
    plt.close("all")
    return paths


def _rates(samples: Sequence[Sample], field: str, window: int = 5) -> list[tuple[float, float]]:
    """A moving rate of ``field`` over ``window`` samples."""
    out = []
    for i in range(window, len(samples)):
        a, b = samples[i - window], samples[i]
        if b.at > a.at:
            out.append((b.at, (getattr(b, field) - getattr(a, field)) / (b.at - a.at)))
    return out


def _finish(ax: Any, timed: Sequence[Timed], t0: float, ylabel: str) -> None:
    for i, t in enumerate(timed):
        ax.axvspan(t.start - t0, t.end - t0, alpha=0.08 if i % 2 else 0.16, color="tab:gray")
        ax.text(t.start - t0, 1.0, t.phase.name, transform=ax.get_xaxis_transform(),
                fontsize=7, va="bottom", rotation=20)  # fmt: skip
    ax.set_xlabel("seconds since the traffic started")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
