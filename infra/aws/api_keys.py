"""The API's key: generated once, kept in Secrets Manager, never in an environment value.

The API reads it as ``STREAMKIT_API__KEYS=aws-secretsmanager://<arn>`` (the app resolves the
reference); the dashboard gets it through ECS's own secret injection; the KPI probe resolves
the same reference. Rotate by writing a new value (comma-separated keys are all accepted).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_random as random


class ApiKeys(pulumi.ComponentResource):
    """One generated API key in one secret."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        """Generate the key and store it."""
        super().__init__("streamkit:aws:ApiKeys", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = random.RandomPassword(f"{name}-value", length=40, special=False, opts=child)
        self.secret = aws.secretsmanager.Secret(
            name, description="streamkit API keys (comma-separated)", opts=child
        )
        aws.secretsmanager.SecretVersion(
            name, secret_id=self.secret.id, secret_string=key.result, opts=child
        )
        self.register_outputs({"secret_arn": self.secret.arn})
