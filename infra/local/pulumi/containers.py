"""What the local stack's containers share: loopback-only ports, the stack's network.

Kafka and MongoDB are also started the same way (:func:`service`): a pulled image, a named
volume, a health check ``pulumi up`` waits for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi_docker as docker

import pulumi

LOOPBACK = "127.0.0.1"


def loopback_port(host: int, container: int) -> dict[str, Any]:
    """Publish ``container`` on 127.0.0.1:``host`` only (Docker's default is every interface)."""
    return {"internal": container, "external": host, "ip": LOOPBACK}


def on_network(network: docker.Network, alias: str) -> list[dict[str, Any]]:
    """Attach to the stack's network under ``alias`` (how the containers find each other)."""
    return [{"name": network.name, "aliases": [alias]}]


def envs(values: dict[str, pulumi.Input[str]]) -> list[pulumi.Output[str]]:
    """Docker's ``KEY=value`` environment entries."""
    return [pulumi.Output.concat(key, "=", value) for key, value in values.items()]


@dataclass(frozen=True)
class Service:
    """A long-running service container and the image it was started from."""

    image: docker.RemoteImage
    container: docker.Container


def service(
    name: str,
    *,
    image: str,
    alias: str,
    network: docker.Network,
    ports: tuple[int, int],
    data_path: str,
    healthcheck: list[str],
    parent: pulumi.Resource,
    environment: dict[str, pulumi.Input[str]] | None = None,
) -> Service:
    """Pull ``image`` and run it with its data in a named volume, published on loopback only.

    ``ports`` is (host, container). ``pulumi up`` returns only once ``healthcheck`` passes, so
    whatever depends on the service (topic creation, the app containers) finds it ready.
    """
    child = pulumi.ResourceOptions(parent=parent)
    remote = docker.RemoteImage(f"{name}-image", name=image, keep_locally=True, opts=child)
    data = docker.Volume(f"{name}-data", name=f"{name}-data", opts=child)
    container = docker.Container(
        name,
        name=name,
        image=remote.image_id,
        hostname=alias,
        restart="unless-stopped",
        networks_advanced=on_network(network, alias),
        ports=[loopback_port(*ports)],
        envs=envs(environment) if environment else None,
        volumes=[{"volume_name": data.name, "container_path": data_path}],
        healthcheck={"tests": healthcheck, "interval": "5s", "timeout": "10s", "retries": 24},
        wait=True,
        wait_timeout=180,
        opts=child,
    )
    return Service(remote, container)
