"""Identity-Aware Proxy enabled on a Cloud Run service itself: no load balancer, no OAuth client.

With ``iap_enabled`` on the service (``cloud_run.service(iap=True)``), every request goes
through IAP first, which signs the user in with Google and lets through only principals
holding ``roles/iap.httpsResourceAccessor`` on that service. IAP then invokes the service as
its own service agent (``service-<project number>@gcp-sa-iap.iam.gserviceaccount.com``), so
the agent, and nobody else, gets ``roles/run.invoker``: no ``allUsers`` grant.

The agent is created on demand (``gcloud beta services identity create``); the
``ServiceIdentity`` resource does that, and gives its email, so the grant never names an
account that does not exist yet.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

INVOKER = "roles/run.invoker"
ACCESSOR = "roles/iap.httpsResourceAccessor"


def _slug(member: str) -> str:
    """A member as a resource-name suffix: ``user:ana@example.com`` -> ``user-ana-example-com-…``.

    The readable part alone would make ``a.b@x.com`` and ``a-b@x.com`` one name, so a short
    hash of the member itself follows it.
    """
    readable = re.sub(r"[^a-z0-9]+", "-", member.lower()).strip("-")
    return f"{readable}-{hashlib.sha256(member.lower().encode()).hexdigest()[:6]}"


def behind_iap(
    name: str,
    service: gcp.cloudrunv2.Service,
    members: Sequence[str],
    *,
    project: str,
    iap_api: pulumi.Resource,
    opts: pulumi.ResourceOptions,
) -> list[pulumi.Resource]:
    """Let IAP invoke ``service`` and let each of ``members`` through IAP to it.

    Accessor grants are on this one service, not the project (which would open every IAP
    app in it). Each is named after its member, not its position: removing one member then
    deletes only that member's grant.
    """
    after_api = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[iap_api]))
    agent = gcp.projects.ServiceIdentity(
        f"{name}-iap-agent", project=project, service="iap.googleapis.com", opts=after_api
    )
    invoker = gcp.cloudrunv2.ServiceIamMember(
        f"{name}-iap-invoker",
        name=service.name,
        location=service.location,
        role=INVOKER,
        member=agent.member,
        opts=opts,
    )
    accessors = [
        gcp.iap.WebCloudRunServiceIamMember(
            f"{name}-iap-{_slug(member)}",
            project=project,
            location=service.location,
            cloud_run_service_name=service.name,
            role=ACCESSOR,
            member=member,
            opts=after_api,
        )
        for member in members
    ]
    return [agent, invoker, *accessors]
