"""``promtool`` on the Docker stack's Prometheus files, and Prometheus against ``streamkit alerts``.

``promtool`` is built from the Go module proxy by ``infra/local/promtool`` (a few minutes the
first time, cached after). Beyond ``check rules`` and ``check config``, the last test feeds the
same series to Prometheus (``promtool test rules``) and to the loop's evaluation round
(:func:`app.alerts.engine.evaluate`) and requires both to fire exactly the same alerts at every
step: the generated rules mean what ``rules.toml`` means.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.alerts.engine import AlertState, Key, Labels, evaluate
from app.alerts.rules import PROMETHEUS_RULES, Rule, load_rules

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "infra" / "local" / "promtool"
CONFIG = ROOT / "infra" / "local" / "prometheus" / "prometheus.yml"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

#: Steps of one minute each; Prometheus's test evaluates the rules once a minute too.
STEPS = 12
STEP = timedelta(minutes=1)


@pytest.fixture(scope="module")
def promtool() -> Path:
    done = subprocess.run(  # noqa: S603 - the project's own script
        [str(INSTALLER)], capture_output=True, text=True, timeout=1100, check=False
    )
    assert done.returncode == 0, f"{INSTALLER.name} failed:\n{done.stderr[-3000:]}"
    return Path(done.stdout.strip().splitlines()[-1])


def run(promtool: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the built promtool
        [str(promtool), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_generated_rules_pass_promtool_check(promtool: Path) -> None:
    done = run(promtool, "check", "rules", str(PROMETHEUS_RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(load_rules())} rules found" in done.stdout


def test_the_prometheus_config_passes_promtool_check(promtool: Path) -> None:
    done = run(promtool, "check", "config", str(CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_rejects_a_broken_rule(promtool: Path, tmp_path: Path) -> None:
    # The checker must be able to say no.
    broken = tmp_path / "rules.yml"
    broken.write_text(PROMETHEUS_RULES.read_text().replace(" > 2\n", " >> 2\n", 1))
    done = run(promtool, "check", "rules", str(broken))
    assert done.returncode != 0


def pattern(rule: Rule, step: int, labels: Labels) -> float | None:
    """A series that holds, stops, holds again and disappears: every transition of a rule.

    Two series of one metric (``dependency``) are out of phase, so each is its own alert.
    """
    phase = 3 if dict(labels).get("dependency") == "bus" else 0
    holding = (1 <= (step + phase) % STEPS <= 4) or (6 <= (step + phase) % STEPS <= 9)
    if step == 10 and not phase:
        return None  # the series disappears: a resolved alert in both
    margin = max(abs(rule.threshold), 1.0)
    above = rule.op in {">", ">="}
    return rule.threshold + (margin if holding == above else -margin)


def series_labels(rule: Rule) -> list[Labels]:
    if rule.metric == "streamkit_dependency_up":
        return [(("dependency", "bus"),), (("dependency", "hot_store"),)]
    return [()]


def promql_values(values: Sequence[float | None]) -> str:
    return " ".join("stale" if v is None else f"{v:g}" for v in values)


def expected_by_streamkit(rules: Sequence[Rule]) -> list[dict[str, Any]]:
    """What the loop's evaluation round fires at each step, as promtool's expected alerts."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    state: dict[Key, AlertState] = {}
    tests: list[dict[str, Any]] = []
    for step in range(STEPS):
        observations = {
            rule.metric: {
                labels: value
                for labels in series_labels(rule)
                if (value := pattern(rule, step, labels)) is not None
            }
            for rule in rules
        }
        state, _ = evaluate(rules, observations, state, start + step * STEP)
        for rule in rules:
            firing = [s for s in state.values() if s.rule == rule.name and s.state == "firing"]
            tests.append(
                {
                    "eval_time": f"{step}m",
                    "alertname": rule.alert_name,
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                **dict(s.labels),
                                "severity": rule.severity,
                                "rule": rule.name,
                            },
                            "exp_annotations": {"summary": rule.summary},
                        }
                        for s in sorted(firing, key=lambda s: s.labels)
                    ],
                }
            )
    return tests


def test_prometheus_fires_exactly_what_streamkit_alerts_fires(
    promtool: Path, tmp_path: Path
) -> None:
    rules = load_rules()
    # The committed rule file, as Prometheus would load it.
    (tmp_path / "rules.yml").write_text(PROMETHEUS_RULES.read_text())
    inputs = [
        {
            "series": rule.metric
            + ("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else ""),
            "values": promql_values([pattern(rule, step, labels) for step in range(STEPS)]),
        }
        for rule in rules
        for labels in series_labels(rule)
    ]
    expected = expected_by_streamkit(rules)
    fired = sum(len(t["exp_alerts"]) for t in expected)
    assert fired >= 2 * STEPS, "the series should make every rule fire more than once"
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": inputs, "alert_rule_test": expected}],
    }
    test_file = tmp_path / "rules.test.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    done = run(promtool, "test", "rules", str(test_file))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "SUCCESS" in done.stdout
