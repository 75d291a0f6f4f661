"""IAM on GCP: member strings, and grants written as a table of who gets which role on what."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

#: One grant: (name suffix, the ``*IAMMember`` resource of the kind of thing granted on, the
#: arguments naming that thing, the role).
Grant = tuple[
    str, Callable[..., pulumi.CustomResource], Mapping[str, pulumi.Input[str]], pulumi.Input[str]
]


def member(account: gcp.serviceaccount.Account) -> pulumi.Output[str]:
    """The IAM member string of ``account``."""
    return account.email.apply(lambda e: f"serviceAccount:{e}")


def grant(
    prefix: str, who: pulumi.Input[str], grants: Sequence[Grant], opts: pulumi.ResourceOptions
) -> list[pulumi.Resource]:
    """Give ``who`` each role on its resource, one ``<prefix>-<suffix>`` resource per grant.

    Only ``*IAMMember`` resources, which add one member to one role: unlike ``*IAMBinding`` or
    ``*IAMPolicy`` they leave every other grant on the same resource in place.
    """
    return [
        iam_member(f"{prefix}-{suffix}", **on, role=role, member=who, opts=opts)
        for suffix, iam_member, on, role in grants
    ]
