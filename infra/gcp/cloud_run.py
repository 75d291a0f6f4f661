"""What the Cloud Run services and job share: environment entries and the public invoker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_gcp as gcp

PORT = 8080


def plain_envs(values: Mapping[str, pulumi.Input[str]]) -> list[dict[str, Any]]:
    """Environment entries with literal (non-secret) values."""
    return [{"name": name, "value": value} for name, value in values.items()]


def secret_env(name: str, secret_id: pulumi.Input[str]) -> dict[str, Any]:
    """An environment entry Cloud Run fills from Secret Manager at start (never in the config)."""
    return {
        "name": name,
        "value_source": {"secret_key_ref": {"secret": secret_id, "version": "latest"}},
    }


def public_invoker(
    name: str, service: gcp.cloudrunv2.Service, opts: pulumi.ResourceOptions
) -> None:
    """Let anyone invoke ``service``: the one public grant ``infra.policy`` accepts.

    Deliberate for the API (its keys guard the data) and the dashboard (a browser page).
    """
    gcp.cloudrunv2.ServiceIamMember(
        name,
        name=service.name,
        location=service.location,
        role="roles/run.invoker",
        member="allUsers",
        opts=opts,
    )
