"""Small builders for the IAM documents every component writes: roles and scoped policies.

Every policy is written out here, never an AWS-managed one, so ``infra.policy`` can read each
statement (no wildcard actions, no unscoped resources).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

Statement = dict[str, Any]


def allow(actions: Sequence[str], resources: Sequence[Any], sid: str) -> Statement:
    """An ``Allow`` statement; resources may be Outputs (resolved by :func:`document`)."""
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": list(resources)}


def document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """The policy document JSON, once every Output inside has resolved."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def service_role(
    name: str,
    service: str,
    opts: pulumi.ResourceOptions,
    conditions: dict[str, Any] | None = None,
) -> aws.iam.Role:
    """A role that only ``service`` (``lambda.amazonaws.com``...) may assume, on ``conditions``."""
    statement: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if conditions:
        statement["Condition"] = conditions
    return aws.iam.Role(name, assume_role_policy=document([statement]), opts=opts)


def role_policy(
    name: str, role: aws.iam.Role, statements: Sequence[Statement], opts: pulumi.ResourceOptions
) -> aws.iam.RolePolicy:
    """An inline policy of ``role``."""
    return aws.iam.RolePolicy(name, role=role.id, policy=document(statements), opts=opts)


def log_group_statement(log_group_arn: pulumi.Input[str]) -> Statement:
    """Writing log streams and events into one log group."""
    return allow(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        [pulumi.Output.concat(log_group_arn, ":*")],
        "WriteOwnLogs",
    )
