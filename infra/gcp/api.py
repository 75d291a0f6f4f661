"""The KPI API on Cloud Run, egressing through the VPC so Atlas sees the stack's NAT address.

Its two secrets (the hot store URL, the API keys) are injected by Cloud Run from Secret
Manager; the service account may read exactly those two. ``STREAMKIT_API__PROXY_HOPS=1`` lets
the per-address limits see the client Cloud Run's front end appended to ``X-Forwarded-For``,
never an entry the client wrote (docs/api.md); the bus is left out of ``/health`` (the image
holds no Pub/Sub client). Invoking it is public by design: its keys guard it.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.gcp.cloud_run import plain_envs, public_service, secret_env
from infra.gcp.config import ServiceConfig
from infra.gcp.iam import member
from infra.gcp.network import Network
from infra.gcp.secret import Secret


class Api(pulumi.ComponentResource):
    """The API's Cloud Run service."""

    def __init__(
        self,
        name: str,
        cfg: ServiceConfig,
        *,
        image: pulumi.Input[str],
        region: str,
        account: gcp.serviceaccount.Account,
        settings: dict[str, pulumi.Input[str]],
        hot_store_url: Secret,
        api_keys: Secret,
        network: Network,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the service; ``url`` is its address."""
        super().__init__("streamkit:gcp:Api", name, None, opts)
        grants = [
            hot_store_url.readable_by(f"{name}-reads-hot-store-url", member(account)),
            api_keys.readable_by(f"{name}-reads-api-keys", member(account)),
        ]
        envs = plain_envs(
            {**settings, "STREAMKIT_API__CHECK_BUS": "false", "STREAMKIT_API__PROXY_HOPS": "1"}
        )
        envs += [
            secret_env("STREAMKIT_HOT_STORE_URL", hot_store_url.secret_id),
            secret_env("STREAMKIT_API__KEYS", api_keys.secret_id),
        ]
        self.service = public_service(
            name,
            cfg,
            image=image,
            region=region,
            account=account,
            envs=envs,
            parent=self,
            depends_on=grants,
            template={
                "vpc_access": {
                    "network_interfaces": [
                        {"network": network.vpc.id, "subnetwork": network.subnet.id}
                    ],
                    "egress": "ALL_TRAFFIC",  # through Cloud NAT: the address Atlas admits
                },
            },
        )
        self.url = self.service.uri
        self.register_outputs({"url": self.url})
