"""MongoDB, published on 127.0.0.1 only, with its data in a named volume."""

from __future__ import annotations

import pulumi_docker as docker

import pulumi
from infra.local.pulumi.containers import loopback_port, on_network


class Mongo(pulumi.ComponentResource):
    """The MongoDB container and its volume."""

    def __init__(
        self,
        name: str,
        *,
        image: str,
        port: int,
        network: docker.Network,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Start MongoDB and wait until it answers a ping."""
        super().__init__("streamkit:local:Mongo", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        remote = docker.RemoteImage(f"{name}-image", name=image, keep_locally=True, opts=child)
        data = docker.Volume(f"{name}-data", name=f"{name}-data", opts=child)
        self.container = docker.Container(
            name,
            name=name,
            image=remote.image_id,
            hostname="mongo",
            restart="unless-stopped",
            networks_advanced=on_network(network, "mongo"),
            ports=[loopback_port(port, 27017)],
            volumes=[{"volume_name": data.name, "container_path": "/data/db"}],
            healthcheck={
                "tests": ["CMD", "mongosh", "--quiet", "--eval", "db.adminCommand('ping').ok"],
                "interval": "5s",
                "timeout": "10s",
                "retries": 24,
            },
            wait=True,
            wait_timeout=180,
            opts=child,
        )
        self.url = f"mongodb://127.0.0.1:{port}/streamkit"
        self.register_outputs({"url": self.url})
