"""The API's key: generated once, kept in Secret Manager, injected where it is needed."""

from __future__ import annotations

import pulumi
import pulumi_random as random

from infra.gcp.secret import Secret


def api_keys_secret(name: str, region: str, opts: pulumi.ResourceOptions | None = None) -> Secret:
    """A generated API key in its own secret (comma-separate several to rotate)."""
    key = random.RandomPassword(f"{name}-value", length=40, special=False, opts=opts)
    return Secret(name, secret_id=name, value=key.result, region=region, opts=opts)
