"""MongoDB, published on 127.0.0.1 only, with its data in a named volume."""

from __future__ import annotations

import pulumi_docker as docker

import pulumi
from infra.local.pulumi.containers import service


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
        self.container = service(
            name,
            image=image,
            alias="mongo",
            network=network,
            ports=(port, 27017),
            data_path="/data/db",
            healthcheck=["CMD", "mongosh", "--quiet", "--eval", "db.adminCommand('ping').ok"],
            parent=self,
        ).container
        self.url = f"mongodb://127.0.0.1:{port}/streamkit"
        self.register_outputs({"url": self.url})
