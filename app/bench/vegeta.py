"""HTTP load at a constant rate with vegeta (tsenart/vegeta), built from the Go module proxy.

A Python load generator on a 2-core machine shared with Spark could not
keep 200 requests/s: its own CPU starvation showed up as API latency. vegeta
is a compiled, open-loop generator (requests leave on schedule whatever the
answers do, so a server stall counts against every request it delays) and
reports HDR percentiles; it is built once into the stack's cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.localstack.tools import require, run_build

VERSION = "v12.13.0"
MODULE = "github.com/tsenart/vegeta/v12"


def binary(bin_dir: Path) -> Path:
    """The vegeta binary, built with ``go install`` on first use (about a minute)."""
    target = bin_dir / f"vegeta-{VERSION}"
    if target.exists():
        return target
    go = require("go", "install Go 1.22+ (https://go.dev/doc/install or Debian's golang-go)")
    bin_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=bin_dir) as staging:
        run_build(
            [go, "install", f"{MODULE}@{VERSION}"],
            cwd=bin_dir,
            what=f"building vegeta {VERSION}",
            fix="the Go module proxy must be reachable (GOPROXY); see README troubleshooting.",
            env={**os.environ, "GOBIN": staging},
        )
        shutil.move(str(Path(staging) / "vegeta"), target)
    return target


def attack(
    vegeta: Path,
    url: str,
    rate: float,
    seconds: float,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """GET ``url`` at ``rate``/s for ``seconds``; vegeta's JSON report (latencies in ns)."""
    target = "\n".join([f"GET {url}", *(f"{k}: {v}" for k, v in (headers or {}).items())])
    attacked = subprocess.run(  # noqa: S603 - our own build of vegeta
        [str(vegeta), "attack", f"-rate={rate:g}/s", f"-duration={seconds:g}s", "-timeout=10s"],
        input=target.encode() + b"\n",
        capture_output=True,
        check=True,
    )
    report = subprocess.run(  # noqa: S603
        [str(vegeta), "report", "-type=json"],
        input=attacked.stdout,
        capture_output=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(report.stdout)
    return result


def summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a vegeta report, in ms."""
    lat = report["latencies"]

    def ms(key: str) -> float:
        return round(float(lat[key]) / 1e6, 2)

    return {
        "requests": report["requests"],
        "achieved_rate": round(report["rate"], 1),
        "success": report["success"],
        "statuses": report["status_codes"],
        "errors": report.get("errors") or [],
        "latency_ms": {
            "p50": ms("50th"),
            "p90": ms("90th"),
            "p95": ms("95th"),
            "p99": ms("99th"),
            "max": ms("max"),
            "mean": ms("mean"),
        },
    }
