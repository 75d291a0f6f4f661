"""The Google APIs the stack uses, enabled on the project (never disabled on destroy).

Every other component depends on this one, so a fresh project works on the first ``pulumi up``.
``dataprocrm`` is what Dataproc Serverless runtimes 3.0+ need besides ``dataproc``; ``iap``
puts the dashboard behind Identity-Aware Proxy (its resources wait for that one by name, in
``enabled``).
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

SERVICES = (
    "artifactregistry",
    "billingbudgets",
    "cloudkms",
    "cloudscheduler",
    "compute",
    "dataproc",
    "dataprocrm",
    "iam",
    "iap",
    "logging",
    "monitoring",
    "pubsub",
    "run",
    "secretmanager",
    "storage",
)


class ProjectApis(pulumi.ComponentResource):
    """``gcp.projects.Service`` for each API in ``SERVICES``."""

    def __init__(self, name: str, project: str, opts: pulumi.ResourceOptions | None = None) -> None:
        """Enable the APIs; ``ready`` is what other resources depend on, ``enabled`` each one."""
        super().__init__("streamkit:gcp:ProjectApis", name, None, opts)
        self.enabled = {
            service: gcp.projects.Service(
                f"{name}-{service}",
                project=project,
                service=f"{service}.googleapis.com",
                disable_on_destroy=False,  # other things in the project may use them
                opts=pulumi.ResourceOptions(parent=self),
            )
            for service in SERVICES
        }
        self.ready = list(self.enabled.values())
        self.register_outputs({})
