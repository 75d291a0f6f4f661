"""The local stack's configuration (namespace ``streamkit-local``), with its defaults."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from infra.common.stack_config import StackNaming

NAMESPACE = "streamkit-local"


@dataclass(frozen=True)
class LocalConfig(StackNaming):
    """Images, host ports and whether to run the API and the dashboard too."""

    stack: str
    app: bool = False  # also build and run the API and the dashboard (compose's `app` profile)
    kafka_image: str = "apache/kafka:4.2.0"
    mongo_image: str = "mongo:7.0"
    kafka_port: int = 9092
    mongo_port: int = 27017
    api_port: int = 8000
    dashboard_port: int = 8501


def load() -> LocalConfig:
    """Read the stack's configuration."""
    config = pulumi.Config(NAMESPACE)
    defaults = LocalConfig(stack=pulumi.get_stack())
    return LocalConfig(
        stack=defaults.stack,
        app=config.get_bool("app") or False,
        kafka_image=config.get("kafkaImage") or defaults.kafka_image,
        mongo_image=config.get("mongoImage") or defaults.mongo_image,
        kafka_port=config.get_int("kafkaPort") or defaults.kafka_port,
        mongo_port=config.get_int("mongoPort") or defaults.mongo_port,
        api_port=config.get_int("apiPort") or defaults.api_port,
        dashboard_port=config.get_int("dashboardPort") or defaults.dashboard_port,
    )
