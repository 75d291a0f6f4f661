"""The dashboard on Cloud Run: session affinity and a long request timeout for WebSockets.

Streamlit keeps each browser's session in one instance over a WebSocket: session affinity
sends a browser back to the same instance, and the request timeout (Cloud Run's maximum,
3,600 s) bounds a WebSocket's life, after which the page reconnects. The API key is injected
from Secret Manager. Invoking it is public by design (it shows what the API shows).
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.gcp.cloud_run import plain_envs, public_service, secret_env
from infra.gcp.config import ServiceConfig
from infra.gcp.iam import member
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
        grant = api_keys.readable_by(f"{name}-reads-api-keys", member(account))
        self.service = public_service(
            name,
            cfg,
            image=image,
            region=region,
            account=account,
            envs=[
                *plain_envs({"STREAMKIT_DASHBOARD__API_URL": api_url}),
                secret_env("STREAMKIT_DASHBOARD__API_KEY", api_keys.secret_id),
            ],
            parent=self,
            depends_on=[grant],
            # Streamlit's WebSocket: back to the same instance, open up to Cloud Run's maximum.
            template={"session_affinity": True, "timeout": "3600s"},
        )
        self.url = self.service.uri
        self.register_outputs({"url": self.url})
