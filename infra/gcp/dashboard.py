"""The dashboard on Cloud Run: session affinity and a long request timeout for WebSockets.

Streamlit keeps each browser's session in one instance over a WebSocket: session affinity
sends a browser back to the same instance, and the request timeout (Cloud Run's maximum,
3,600 s) bounds a WebSocket's life, after which the page reconnects. The API key is injected
from Secret Manager.

The dashboard holds that key and shows what it guards, so opening it is the same as holding
the key: by default (``dashboard.access: iap``) it sits behind Identity-Aware Proxy and only
``dashboard.members`` get in (``infra/gcp/iap.py``). ``access: public`` grants ``allUsers``
instead, as the API has: an explicit choice, exported as ``dashboard_access`` for the policy
check to see.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.gcp import cloud_run
from infra.gcp.cloud_run import plain_envs, secret_env
from infra.gcp.config import DashboardConfig
from infra.gcp.iam import member
from infra.gcp.iap import behind_iap
from infra.gcp.secret import Secret


class Dashboard(pulumi.ComponentResource):
    """The dashboard's Cloud Run service, and who may open it."""

    def __init__(
        self,
        name: str,
        cfg: DashboardConfig,
        *,
        image: pulumi.Input[str],
        project: str,
        region: str,
        account: gcp.serviceaccount.Account,
        api_url: pulumi.Input[str],
        api_keys: Secret,
        iap_api: pulumi.Resource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the service; ``url`` is its address, ``access`` who may open it."""
        super().__init__("streamkit:gcp:Dashboard", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        iap = cfg.access == "iap"
        grant = api_keys.readable_by(f"{name}-reads-api-keys", member(account))
        self.service = cloud_run.service(
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
            # Enabling IAP on a service needs the IAP API on first.
            depends_on=[grant, iap_api] if iap else [grant],
            # Streamlit's WebSocket: back to the same instance, open up to Cloud Run's maximum.
            template={"session_affinity": True, "timeout": "3600s"},
            iap=iap,
        )
        if iap:
            behind_iap(
                name, self.service, cfg.members, project=project, iap_api=iap_api, opts=child
            )
        else:
            cloud_run.public_invoker(f"{name}-public", self.service, child)
        self.url = self.service.uri
        self.access = cfg.access
        self.register_outputs({"url": self.url, "access": self.access})
