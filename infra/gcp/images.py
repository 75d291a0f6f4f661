"""The API and dashboard images: given in config, or built and pushed to Artifact Registry."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.common.images import built_image
from infra.gcp.config import ServiceConfig


class Images(pulumi.ComponentResource):
    """``api`` and ``dashboard`` image references (digests when built here)."""

    def __init__(
        self,
        name: str,
        *,
        project: str,
        region: str,
        api: ServiceConfig,
        dashboard: ServiceConfig,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Use the configured images, or build the Dockerfile's targets and push them."""
        super().__init__("streamkit:gcp:Images", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.api: pulumi.Input[str] = api.image
        self.dashboard: pulumi.Input[str] = dashboard.image
        if api.image and dashboard.image:
            self.register_outputs({})
            return
        repository = gcp.artifactregistry.Repository(
            f"{name}-images",
            repository_id=f"{name}-images",
            location=region,
            format="DOCKER",
            opts=child,
        )
        host = f"{region}-docker.pkg.dev"
        token = gcp.organizations.get_client_config_output().access_token
        registry = {"server": host, "username": "oauth2accesstoken", "password": token}
        path = repository.repository_id.apply(lambda r: f"{host}/{project}/{r}")
        for target, cfg in (("api", api), ("dashboard", dashboard)):
            if not cfg.image:
                image = built_image(
                    f"{name}-{target}",
                    target=target,
                    repository=pulumi.Output.concat(path, "/", target),
                    registry=registry,
                    platform=cfg.platform,
                    opts=child,
                )
                setattr(self, target, image)
        self.register_outputs({"api": self.api, "dashboard": self.dashboard})
