"""A Secret Manager secret holding one generated value, and who may read it."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.common.settings_outputs import gcp_secret_ref


class Secret(pulumi.ComponentResource):
    """One secret, one version, replicated in the stack's region only."""

    def __init__(
        self,
        name: str,
        *,
        secret_id: str,
        value: pulumi.Input[str],
        region: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Store ``value`` (marked secret in the Pulumi state too)."""
        super().__init__("streamkit:gcp:Secret", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.secret = gcp.secretmanager.Secret(
            name,
            secret_id=secret_id,
            replication={"user_managed": {"replicas": [{"location": region}]}},
            opts=child,
        )
        gcp.secretmanager.SecretVersion(
            name, secret=self.secret.id, secret_data=pulumi.Output.secret(value), opts=child
        )
        self.secret_id = self.secret.secret_id
        #: The reference the app resolves (``gcp-secretmanager://projects/p/secrets/s/versions/latest``).
        self.ref = self.secret.id.apply(gcp_secret_ref)
        self.register_outputs({"ref": self.ref})

    def readable_by(
        self, name: str, member: pulumi.Input[str]
    ) -> gcp.secretmanager.SecretIamMember:
        """Let ``member`` read this secret's versions, and nothing else."""
        return gcp.secretmanager.SecretIamMember(
            name,
            secret_id=self.secret.id,
            role="roles/secretmanager.secretAccessor",
            member=member,
            opts=pulumi.ResourceOptions(parent=self),
        )
