"""The dashboard on Cloud Run: session affinity and a long request timeout for WebSockets.

Streamlit keeps each browser's session in one instance over a WebSocket: session affinity
sends a browser back to the same instance, and the request timeout (Cloud Run's maximum,
3,600 s) bounds a WebSocket's life, after which the page reconnects. The API key is injected
from Secret Manager. Invoking it is public by design (it shows what the API shows).
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.gcp.cloud_run import PORT, plain_envs, public_invoker, secret_env
from infra.gcp.config import ServiceConfig
from infra.gcp.identities import member
from infra.gcp.secret import Secret


class Dashboard(pulumi.ComponentResource):
    """The dashboard's Cloud Run service."""

    def __init__(
        self,
        name: str,
        cfg: ServiceConfig,
        *,
        image: pulumi.Input[str],
        region: str,
        account: gcp.serviceaccount.Account,
        api_url: pulumi.Input[str],
        api_keys: Secret,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the service; ``url`` is its address."""
        super().__init__("streamkit:gcp:Dashboard", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        grant = api_keys.readable_by(f"{name}-reads-api-keys", member(account))
        self.service = gcp.cloudrunv2.Service(
            f"{name}-service",
            name=name,
            location=region,
            ingress="INGRESS_TRAFFIC_ALL",
            deletion_protection=False,
            template={
                "service_account": account.email,
                "session_affinity": True,
                "timeout": "3600s",
                "scaling": {
                    "min_instance_count": cfg.minInstances,
                    "max_instance_count": cfg.maxInstances,
                },
                "containers": [
                    {
                        "image": image,
                        "ports": {"container_port": PORT},
                        "resources": {"limits": {"cpu": cfg.cpu, "memory": cfg.memory}},
                        "envs": [
                            *plain_envs({"STREAMKIT_DASHBOARD__API_URL": api_url}),
                            secret_env("STREAMKIT_DASHBOARD__API_KEY", api_keys.secret_id),
                        ],
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]),
        )
        public_invoker(f"{name}-public", self.service, child)
        self.url = self.service.uri
        self.register_outputs({"url": self.url})
