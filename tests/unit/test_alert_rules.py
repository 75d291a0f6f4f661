"""The alert rules file: read and checked, and the Prometheus rules generated from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from adapters.errors import ConfigurationError
from app.alerts.rules import (
    PROMETHEUS_RULES,
    expression,
    load_rules,
    prometheus_rules,
    render_prometheus,
)


def test_the_default_rules_are_the_issues_six_with_its_thresholds() -> None:
    rules = {r.name: r for r in load_rules()}
    assert list(rules) == [
        "latency_p95",
        "consumer_lag",
        "conversion_anomaly",
        "deadletter_share",
        "freshness",
        "dependency_down",
    ]
    assert (rules["latency_p95"].threshold, rules["latency_p95"].for_s) == (2.0, 120)
    assert rules["consumer_lag"].threshold == 60 and rules["conversion_anomaly"].threshold == 3
    assert rules["deadletter_share"].threshold == 0.05 and rules["freshness"].threshold == 180
    assert rules["dependency_down"].holds(0.0) and not rules["dependency_down"].holds(1.0)


def test_the_committed_prometheus_rules_are_generated_from_the_rules_file() -> None:
    # The Docker stack's Prometheus and `streamkit alerts` must not drift apart.
    assert PROMETHEUS_RULES.read_text() == render_prometheus(load_rules()), (
        "infra/local/prometheus/rules.yml is stale: regenerate it with "
        "`python -c 'from app.alerts.rules import *; "
        "PROMETHEUS_RULES.write_text(render_prometheus(load_rules()))'`"
    )


def test_each_prometheus_rule_is_well_formed() -> None:
    [group] = yaml.safe_load(PROMETHEUS_RULES.read_text())["groups"]
    names = [r["alert"] for r in group["rules"]]
    assert len(set(names)) == len(names) == 6
    for rule in group["rules"]:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
        assert re.fullmatch(r"\d+(ms|s|m|h)", rule["for"]) and rule["expr"].startswith("streamkit_")
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
    assert group["rules"][0] == {
        "alert": "StreamkitLatencyP95",
        "expr": "streamkit_pipeline_latency_p95_seconds > 2",
        "for": "2m",
        "labels": {"severity": "warning", "rule": "latency_p95"},
        "annotations": {"summary": "P95 end-to-end latency above 2 s"},
    }


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


RULE = 'name = "x"\nsummary = "s"\nmetric = "streamkit_x"\nop = ">"\nthreshold = 1\n'


def test_windows_and_thresholds_come_from_the_file(tmp_path: Path) -> None:
    [rule] = load_rules(write(tmp_path, "[[rule]]\n" + RULE + "for_s = 1.5\n"))
    assert rule.for_s == 1.5 and expression(rule) == "streamkit_x > 1"
    assert prometheus_rules([rule])["groups"][0]["rules"][0]["for"] == "1500ms"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[rule]]\n" + RULE + 'op = "=="\n', "not valid TOML: Cannot overwrite a value"),
        ("[[rule]]\n" + RULE.replace('">"', '"=="'), "rule 1: op"),
        ("[[rule]]\n" + RULE + "for_s = -1\n", "rule 1: for_s"),
        ("[[rule]]\n" + RULE + "window = 3\n", "rule 1: window"),
        ("[[rule]]\n" + RULE.replace('"x"', '"Bad Name"'), "rule 1: name"),
        ("[[rule]]\n" + RULE + "[[rule]]\n" + RULE, "name x more than once"),
        ("[[rules]]\n" + RULE, "unknown tables ['rules']"),
        ("not toml", "not valid TOML"),
    ],
)
def test_a_bad_rules_file_is_an_error_naming_the_file_and_the_rule(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError, match=str(path)) as refused:
        load_rules(path)
    assert message in str(refused.value)


def test_a_missing_rules_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="STREAMKIT_ALERTS__RULES_FILE"):
        load_rules(tmp_path / "missing.toml")


def test_the_conversion_rule_and_the_dashboard_flag_at_the_same_z() -> None:
    from app.settings import DashboardSettings  # noqa: PLC0415 - this test's only use

    [rule] = [r for r in load_rules() if r.name == "conversion_anomaly"]
    assert rule.threshold == DashboardSettings().z_threshold
