"""The API and the dashboard, built from the repository's Dockerfile (compose's ``app`` profile).

Built locally (not pushed). The API reaches Kafka and MongoDB by their network aliases; the
dashboard reaches the API as ``http://api:8080``. Both are published on 127.0.0.1 only.
"""

from __future__ import annotations

import pulumi_docker as docker

import pulumi
from infra.common.files import REPO_ROOT
from infra.local.pulumi.broker import INTERNAL
from infra.local.pulumi.containers import envs, loopback_port, on_network

PORT = 8080


def _image(name: str, target: str, opts: pulumi.ResourceOptions) -> docker.Image:
    return docker.Image(
        f"{name}-{target}-image",
        image_name=f"streamkit-{target}:local",
        build={
            "context": str(REPO_ROOT),
            "dockerfile": str(REPO_ROOT / "Dockerfile"),
            "target": target,
            "builder_version": "BuilderBuildKit",
        },
        skip_push=True,
        opts=opts,
    )


class AppServices(pulumi.ComponentResource):
    """The API and dashboard containers."""

    def __init__(
        self,
        name: str,
        *,
        api_port: int,
        dashboard_port: int,
        network: docker.Network,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Build both images and start both containers."""
        super().__init__("streamkit:local:AppServices", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        api_image = _image(name, "api", child)
        dashboard_image = _image(name, "dashboard", child)
        api = docker.Container(
            f"{name}-api",
            name=f"{name}-api",
            image=api_image.image_name,
            restart="unless-stopped",
            networks_advanced=on_network(network, "api"),
            ports=[loopback_port(api_port, PORT)],
            envs=envs(
                {
                    "STREAMKIT_BUS_URL": f"kafka://{INTERNAL}/events_raw",
                    "STREAMKIT_DEADLETTER_URL": f"kafka://{INTERNAL}/events_deadletter",
                    "STREAMKIT_HOT_STORE_URL": "mongodb://mongo:27017/streamkit",
                    "PORT": str(PORT),
                }
            ),
            wait=True,  # the image's HEALTHCHECK: the API answers HTTP
            wait_timeout=120,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
        docker.Container(
            f"{name}-dashboard",
            name=f"{name}-dashboard",
            image=dashboard_image.image_name,
            restart="unless-stopped",
            networks_advanced=on_network(network, "dashboard"),
            ports=[loopback_port(dashboard_port, PORT)],
            envs=envs({"STREAMKIT_DASHBOARD__API_URL": f"http://api:{PORT}", "PORT": str(PORT)}),
            wait=True,
            wait_timeout=120,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[api]),
        )
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.dashboard_url = f"http://127.0.0.1:{dashboard_port}"
        self.register_outputs({"api_url": self.api_url, "dashboard_url": self.dashboard_url})
