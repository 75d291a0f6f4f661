"""Alert rules: read from one TOML file, checked, and rendered as Prometheus alerting rules.

The file (``app/alerts/rules.toml`` by default) is the single source: the ``streamkit alerts``
loop evaluates it, and the Prometheus rules of the Docker stack are generated from it
(:func:`prometheus_rules`), so the two cannot drift. TOML because the standard library reads
it: the loop needs no extra dependency.
"""

from __future__ import annotations

import operator
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.errors import ConfigurationError

DEFAULT_RULES = Path(__file__).with_name("rules.toml")

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class Rule(BaseModel):
    """``metric <op> threshold`` held for ``for_s`` seconds: the alert fires."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    summary: str = Field(min_length=1, max_length=200)
    metric: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    op: Literal[">", ">=", "<", "<="]
    threshold: float
    for_s: float = Field(0.0, ge=0)
    severity: Literal["info", "warning", "critical"] = "warning"

    def holds(self, value: float) -> bool:
        """True when ``value`` meets the firing condition."""
        return _OPS[self.op](value, self.threshold)

    @property
    def alert_name(self) -> str:
        """The Prometheus alert name: ``latency_p95`` → ``StreamkitLatencyP95``."""
        return "Streamkit" + "".join(part.capitalize() for part in self.name.split("_"))


def load_rules(path: Path = DEFAULT_RULES) -> list[Rule]:
    """The rules of ``path``; ``ConfigurationError`` naming the file and the fix when bad."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        msg = (
            f"cannot read the alert rules {path}: {e.strerror}; check STREAMKIT_ALERTS__RULES_FILE"
        )
        raise ConfigurationError(msg) from e
    except tomllib.TOMLDecodeError as e:
        msg = f"the alert rules {path} are not valid TOML: {e}"
        raise ConfigurationError(msg) from e
    unknown = set(data) - {"rule"}
    if unknown:
        msg = f"the alert rules {path} have unknown tables {sorted(unknown)}; only [[rule]]"
        raise ConfigurationError(msg)
    rules = []
    for n, raw in enumerate(data.get("rule", []), start=1):
        try:
            rules.append(Rule.model_validate(raw))
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "rule"
            msg = f"the alert rules {path}, rule {n}: {where}: {first['msg']}"
            raise ConfigurationError(msg) from e
    _unique(rules, path)
    return rules


def _unique(rules: Sequence[Rule], path: Path) -> None:
    names = [r.name for r in rules]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        msg = f"the alert rules {path} name {', '.join(dupes)} more than once"
        raise ConfigurationError(msg)


def expression(rule: Rule) -> str:
    """The PromQL of the rule's condition (a metric compared with a constant)."""
    return f"{rule.metric} {rule.op} {_number(rule.threshold)}"


def prometheus_rules(rules: Sequence[Rule]) -> dict[str, Any]:
    """A Prometheus rule file (as data) holding the same rules: one group, ``streamkit``."""
    return {
        "groups": [
            {
                "name": "streamkit",
                "rules": [
                    {
                        "alert": rule.alert_name,
                        "expr": expression(rule),
                        "for": _duration(rule.for_s),
                        "labels": {"severity": rule.severity, "rule": rule.name},
                        "annotations": {"summary": rule.summary},
                    }
                    for rule in rules
                ],
            }
        ]
    }


#: The Prometheus rule file of the Docker stack, generated from :data:`DEFAULT_RULES`.
PROMETHEUS_RULES = Path(__file__).parents[2] / "infra" / "local" / "prometheus" / "rules.yml"


def render_prometheus(rules: Sequence[Rule]) -> str:
    """The Prometheus rule file's text (YAML), with a header naming its source."""
    import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - the generator's alone (dev)

    header = (
        "# Generated from app/alerts/rules.toml (render_prometheus in app/alerts/rules.py).\n"
        "# Do not edit: tests/unit/test_alert_rules.py fails when the two differ.\n"
    )
    body: str = yaml.safe_dump(prometheus_rules(rules), sort_keys=False, width=100)
    return header + body


def _number(value: float) -> str:
    return f"{value:g}"


def _duration(seconds: float) -> str:
    """Prometheus's duration syntax: ``120`` → ``2m``, ``90`` → ``90s``, ``0`` → ``0s``."""
    whole = int(seconds)
    if whole != seconds:
        return f"{round(seconds * 1000)}ms"
    if whole and whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole and whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s"
