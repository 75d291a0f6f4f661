"""Audit logging: Cloud Audit Logs data-access logs for Cloud Storage.

GCP sets data-access audit logging per service and project, not per bucket: this turns on
``DATA_READ`` and ``DATA_WRITE`` for ``storage.googleapis.com`` in the stack's project, which
covers the archive bucket (admin activity is always logged). The job's checkpoint writes are
logged too; at 2,000 events/s that is a few objects per two-second batch (see the cost notes
in docs/deploy-gcp.md). KMS key use is logged by Cloud KMS's own data-access logs, turned on
the same way.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp


class AuditLogs(pulumi.ComponentResource):
    """Data-access audit configs for Cloud Storage and Cloud KMS."""

    def __init__(self, name: str, project: str, opts: pulumi.ResourceOptions | None = None) -> None:
        """Turn on the data-access logs."""
        super().__init__("streamkit:gcp:AuditLogs", name, None, opts)
        for service in ("storage.googleapis.com", "cloudkms.googleapis.com"):
            gcp.projects.IAMAuditConfig(
                f"{name}-{service.split('.')[0]}",
                project=project,
                service=service,
                audit_log_configs=[{"log_type": "DATA_READ"}, {"log_type": "DATA_WRITE"}],
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({})
