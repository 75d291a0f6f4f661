"""The Docker compose stack, the Taskfile and the native stack must not drift apart."""

from __future__ import annotations

from pathlib import Path

import yaml

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def load(path: str) -> dict:
    return yaml.safe_load((ROOT / path).read_text())


def test_compose_publishes_the_ports_the_settings_use_on_loopback_only() -> None:
    services = load("infra/local/compose.yaml")["services"]
    settings = Settings()
    assert "127.0.0.1:9092:9092" in services["kafka"]["ports"]
    assert settings.bus_url.startswith("kafka://127.0.0.1:9092/")
    assert "127.0.0.1:27017:27017" in services["mongo"]["ports"]
    assert settings.hot_store_url.get_secret_value().startswith("mongodb://127.0.0.1:27017/")
    for service in services.values():
        assert all(str(p).startswith("127.0.0.1:") for p in service.get("ports", []))


def test_compose_creates_the_topics_with_the_native_partition_counts() -> None:
    script = load("infra/local/compose.yaml")["services"]["kafka-topics"]["command"][0]
    local = Settings().local
    assert f"events_raw:{local.events_partitions}" in script
    assert f"events_deadletter:{local.deadletter_partitions}" in script


def test_compose_uses_the_real_images_with_health_checks() -> None:
    services = load("infra/local/compose.yaml")["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["mongo"]["image"].startswith("mongo:")
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "healthcheck" in services["kafka"] and "healthcheck" in services["mongo"]


def test_every_task_has_a_description() -> None:
    tasks = load("Taskfile.yml")["tasks"]
    assert {"local-up", "local-down", "demo", "test", "lint", "typecheck"} <= set(tasks)
    assert [name for name, task in tasks.items() if not task.get("desc")] == []


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./infra/local/taskw test" in readme
    assert "./infra/local/taskw test" in ci
