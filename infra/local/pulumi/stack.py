"""The local stack: Kafka and MongoDB (and optionally the API and dashboard) on Docker."""

from __future__ import annotations

import pulumi_docker as docker

import pulumi
from infra.local.pulumi import config
from infra.local.pulumi.app_services import AppServices
from infra.local.pulumi.broker import Kafka
from infra.local.pulumi.database import Mongo


def build() -> None:
    """Declare the local stack and export its outputs, named like the app's settings."""
    cfg = config.load()
    name = cfg.prefix
    network = docker.Network(f"{name}-network", name=name)
    kafka = Kafka(f"{name}-kafka", image=cfg.kafka_image, port=cfg.kafka_port, network=network)
    mongo = Mongo(f"{name}-mongo", image=cfg.mongo_image, port=cfg.mongo_port, network=network)
    pulumi.export("env", "development")
    pulumi.export("bus_url", kafka.bus_url)
    pulumi.export("deadletter_url", kafka.deadletter_url)
    pulumi.export("hot_store_url", mongo.url)
    if cfg.app:
        app = AppServices(
            name,
            api_port=cfg.api_port,
            dashboard_port=cfg.dashboard_port,
            network=network,
            depends_on=[kafka, mongo],
        )
        pulumi.export("dashboard__api_url", app.api_url)
        pulumi.export("api_url", app.api_url)
        pulumi.export("dashboard_url", app.dashboard_url)
