"""``app/`` is written against ports: it must never import a concrete binding.

Walks the import statements of every module under ``app/`` (including ones
inside functions), so a lazy import cannot slip past either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"

FORBIDDEN = (
    "adapters.bus.",
    "adapters.hot.",
    "adapters.archive.",
    "confluent_kafka",
    "kafka",
    "pymongo",
    "bson",
    "boto3",
    "botocore",
    "google.cloud",
)
# pyarrow is allowed: Arrow tables are the archive port's value type, not a binding.


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _matches(name: str, forbidden: str) -> bool:
    if forbidden.endswith("."):  # a package: anything below it
        return name.startswith(forbidden)
    return name == forbidden or name.startswith(forbidden + ".")


def violations(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for name in imported_modules(path):
            if any(_matches(name, f) for f in FORBIDDEN):
                found.append(f"{path.relative_to(root.parent)} imports {name}")
    return found


def test_app_imports_no_concrete_binding() -> None:
    assert violations(APP) == []


@pytest.mark.parametrize(
    "source",
    [
        "import pymongo",
        "from adapters.bus.kafka import KafkaBus",
        "from adapters.hot import mongo",
        "def f():\n    import confluent_kafka.admin\n",
    ],
)
def test_the_rule_catches_each_form(tmp_path: Path, source: str) -> None:
    pkg = tmp_path / "app"
    pkg.mkdir()
    (pkg / "mod.py").write_text(source)
    assert violations(pkg) != []


def test_ports_and_registry_are_allowed(tmp_path: Path) -> None:
    pkg = tmp_path / "app"
    pkg.mkdir()
    (pkg / "mod.py").write_text("from adapters.ports import Bus\nfrom adapters import registry\n")
    assert violations(pkg) == []


def test_the_oracle_shares_no_code_with_the_stream_job() -> None:
    # Its worth is independence: a bug in app/pipeline must not be copied into the answer.
    imports = [
        f"{path.name} imports {name}"
        for path in sorted((APP / "chaos").glob("oracle.py"))
        for name in imported_modules(path)
        if name.startswith("app.pipeline")
    ]
    assert (APP / "chaos" / "oracle.py").exists()
    assert imports == []
