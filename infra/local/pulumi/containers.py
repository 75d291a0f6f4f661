"""What every container of the local stack shares: loopback-only ports, the stack's network."""

from __future__ import annotations

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
