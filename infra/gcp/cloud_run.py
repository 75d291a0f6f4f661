"""What the Cloud Run services and job share: environment entries, the service shape.

A service is invocable by nobody until granted: ``public_service`` grants ``allUsers`` (the
API, whose keys guard it); the dashboard is granted to Identity-Aware Proxy unless its config
opts in to ``public`` (``infra/gcp/dashboard.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.gcp.config import ServiceConfig

PORT = 8080


def plain_envs(values: Mapping[str, pulumi.Input[str]]) -> list[dict[str, Any]]:
    """Environment entries with literal (non-secret) values."""
    return [{"name": name, "value": value} for name, value in values.items()]


def secret_env(name: str, secret_id: pulumi.Input[str]) -> dict[str, Any]:
    """An environment entry Cloud Run fills from Secret Manager at start (never in the config)."""
    return {
        "name": name,
        "value_source": {"secret_key_ref": {"secret": secret_id, "version": "latest"}},
    }


def public_invoker(
    name: str, service: gcp.cloudrunv2.Service, opts: pulumi.ResourceOptions
) -> None:
    """Let anyone invoke ``service``: the public grant ``infra.policy`` accepts.

    Deliberate for the API (its keys guard the data); for the dashboard only when its config
    says ``access: public`` (it holds a key: anyone who opens it sees what the key guards).
    """
    gcp.cloudrunv2.ServiceIamMember(
        name,
        name=service.name,
        location=service.location,
        role="roles/run.invoker",
        member="allUsers",
        opts=opts,
    )


def service(
    name: str,
    cfg: ServiceConfig,
    *,
    image: pulumi.Input[str],
    region: str,
    account: gcp.serviceaccount.Account,
    envs: list[dict[str, Any]],
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
    template: Mapping[str, Any] | None = None,
    iap: bool = False,
) -> gcp.cloudrunv2.Service:
    """A service running ``image`` as ``account``, sized by ``cfg``; nobody may invoke it yet.

    ``template`` adds what one service needs besides (session affinity, VPC egress);
    ``depends_on`` holds the secret grants, which must exist before the first revision starts.
    ``iap`` turns Identity-Aware Proxy on at the service itself (no load balancer): a preview
    feature, set through the BETA launch stage; without it the arguments are the GA ones.
    """
    return gcp.cloudrunv2.Service(
        f"{name}-service",
        name=name,
        location=region,
        ingress="INGRESS_TRAFFIC_ALL",
        deletion_protection=False,
        template={
            "service_account": account.email,
            **(template or {}),
            "scaling": {
                "min_instance_count": cfg.minInstances,
                "max_instance_count": cfg.maxInstances,
            },
            "containers": [
                {
                    "image": image,
                    "ports": {"container_port": PORT},
                    "resources": {"limits": {"cpu": cfg.cpu, "memory": cfg.memory}},
                    "envs": envs,
                }
            ],
        },
        # None leaves an argument unset: without IAP, exactly the GA service.
        iap_enabled=True if iap else None,
        launch_stage="BETA" if iap else None,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )


def public_service(
    name: str,
    cfg: ServiceConfig,
    *,
    parent: pulumi.Resource,
    **kwargs: Any,
) -> gcp.cloudrunv2.Service:
    """A :func:`service` anyone may invoke (``kwargs`` as there)."""
    created = service(name, cfg, parent=parent, **kwargs)
    public_invoker(f"{name}-public", created, pulumi.ResourceOptions(parent=parent))
    return created
