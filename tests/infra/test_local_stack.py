"""The local Pulumi stack mirrors infra/local/compose.yaml on the Docker provider."""

from __future__ import annotations

from pathlib import Path

import yaml

from infra.local.pulumi.broker import TOPICS
from infra.policy.recorded import Resource
from tests.infra.conftest import StackRun

COMPOSE = Path(__file__).resolve().parents[2] / "infra" / "local" / "compose.yaml"


def _container(stack: StackRun, suffix: str) -> Resource:
    (found,) = [
        r for r in stack.of_type("docker:index/container:Container") if r.name.endswith(suffix)
    ]
    return found


def _env(container: Resource) -> dict[str, str]:
    return dict(str(e).split("=", 1) for e in container.get("envs") or [])


def test_same_images_ports_and_topics_as_compose(local_dev: StackRun) -> None:
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    images = {r.get("name") for r in local_dev.of_type("docker:index/remoteImage:RemoteImage")}
    assert images == {compose["kafka"]["image"], compose["mongo"]["image"]}
    kafka, mongo = _container(local_dev, "-kafka"), _container(local_dev, "-mongo")
    assert kafka.get("ports") == [{"internal": 9092, "external": 9092, "ip": "127.0.0.1"}]
    assert mongo.get("ports") == [{"internal": 27017, "external": 27017, "ip": "127.0.0.1"}]
    kafka_env = _env(kafka)
    for key, value in compose["kafka"]["environment"].items():
        assert kafka_env[key] == str(value), key
    assert kafka.get("wait") is True and mongo.get("wait") is True
    topics = _container(local_dev, "-kafka-topics")
    assert topics.get("attach") is True and topics.get("mustRun") is False
    script = topics.get("command")[0]
    assert all(f"{t}:{p}" in script for t, p in TOPICS.items())
    assert TOPICS == {"events_raw": 3, "events_deadletter": 1, "_streamkit_health": 1}


def test_app_services_reach_the_stack_by_alias(local_dev: StackRun) -> None:
    api, dashboard = _container(local_dev, "-api"), _container(local_dev, "-dashboard")
    assert _env(api)["STREAMKIT_BUS_URL"] == "kafka://kafka:29092/events_raw"
    assert _env(api)["STREAMKIT_HOT_STORE_URL"] == "mongodb://mongo:27017/streamkit"
    assert _env(dashboard)["STREAMKIT_DASHBOARD__API_URL"] == "http://api:8080"
    assert api.get("ports") == [{"internal": 8080, "external": 8000, "ip": "127.0.0.1"}]
    assert dashboard.get("ports") == [{"internal": 8080, "external": 8501, "ip": "127.0.0.1"}]
    targets = {i.get("build", "target") for i in local_dev.of_type("docker:index/image:Image")}
    assert targets == {"api", "dashboard"}
    assert all(i.get("skipPush") is True for i in local_dev.of_type("docker:index/image:Image"))


def test_outputs_and_policies(local_dev: StackRun, local_services_only: StackRun) -> None:
    assert local_dev.violations == [] and local_services_only.violations == []
    assert local_dev.outputs["bus_url"] == "kafka://127.0.0.1:9092/events_raw"
    assert local_dev.outputs["deadletter_url"] == "kafka://127.0.0.1:9092/events_deadletter"
    assert local_dev.outputs["hot_store_url"] == "mongodb://127.0.0.1:27017/streamkit"
    assert local_dev.outputs["dashboard_url"] == "http://127.0.0.1:8501"
    assert "api_url" not in local_services_only.outputs
    assert local_services_only.of_type("docker:index/image:Image") == []
    assert len(local_services_only.of_type("docker:index/container:Container")) == 3
