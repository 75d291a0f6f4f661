"""Container images of the API and the dashboard, built from the repository's Dockerfile.

Used when a stack's config gives no image URI: ``pulumi up`` builds the Dockerfile's target
with the local Docker engine (BuildKit: the Dockerfile uses cache mounts) and pushes it to
the stack's registry (ECR, Artifact Registry). The digest, not the tag, goes to the service,
so a rebuilt image rolls out and an unchanged one does not.
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from infra.common.files import REPO_ROOT


def built_image(
    name: str,
    *,
    target: str,
    repository: pulumi.Input[str],
    registry: pulumi.Input[docker.RegistryArgs] | None,
    platform: str,
    opts: pulumi.ResourceOptions,
) -> pulumi.Output[str]:
    """Build the Dockerfile's ``target``, push it to ``repository``; the pushed digest."""
    image = docker.Image(
        name,
        image_name=pulumi.Output.concat(repository, ":", target),
        build={
            "context": str(REPO_ROOT),
            "dockerfile": str(REPO_ROOT / "Dockerfile"),
            "target": target,
            "platform": platform,
            "builder_version": "BuilderBuildKit",
        },
        registry=registry,
        opts=opts,
    )
    return image.repo_digest
