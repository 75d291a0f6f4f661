"""Reading AWS IAM policy documents for wildcards, statement by statement.

What counts as a wildcard, for an ``Allow`` statement:

* any ``*`` or ``?`` in an action (``s3:*``, ``s3:Get*``), and any ``NotAction``,
  ``NotResource`` or ``NotPrincipal`` (they allow everything but a list);
* ``Principal: "*"`` (anyone);
* ``Resource: "*"``, except (a) in a KMS key policy, where it means "this key", and (b) for
  actions AWS cannot scope to a resource at all, listed in ``UNSCOPABLE_ACTIONS``;
* an ARN with a wildcard in its service, region or account, or one that names no resource
  before its first wildcard (``arn:aws:s3:::*``, ``...:secret:*``, ``...:stream/*``).
  A wildcard *below* a named resource is scoping, not a wildcard: objects under one bucket's
  prefix (``arn:aws:s3:::bucket/archive/*``), the streams of one log group
  (``...:log-group:/aws/lambda/fn:*``). The one type-wide form allowed is Lambda's network
  interfaces (``network-interface/*`` of one account and region, ``ENI_ACTIONS`` only), which
  AWS's Lambda VPC documentation requires because the interface ids are not known in advance.

``Deny`` statements may use wildcards freely: they only take permissions away.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

DocumentKind = Literal["identity", "resource", "trust", "key"]

#: Actions with no resource-level permissions (AWS Service Authorization Reference): they
#: only work with ``Resource: "*"``.
UNSCOPABLE_ACTIONS = frozenset(
    {
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeVpcs",
        "ecr:GetAuthorizationToken",
    }
)

#: What a Lambda function in a VPC does to its network interfaces.
ENI_ACTIONS = frozenset(
    {
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    }
)


def parse(document: Any) -> dict[str, Any]:
    """A policy document from its JSON string (or an already parsed dict)."""
    parsed = json.loads(document) if isinstance(document, str) else document
    if not isinstance(parsed, dict):
        msg = f"not a policy document: {document!r}"
        raise ValueError(msg)
    return parsed


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's statements (a single statement object counts as a list of one)."""
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]


def _has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def _arn_problem(arn: str, actions: list[str]) -> str | None:
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return f"resource {arn!r} is not an ARN"
    _, partition, service, region, account, resource = parts
    if any(_has_wildcard(p) for p in (partition, service, region, account)):
        return f"resource {arn!r} has a wildcard in its partition, service, region or account"
    first = min((i for i, c in enumerate(resource) if c in "*?"), default=None)
    if first is None:
        return None
    named = resource[:first]
    if service != "s3":  # other services start with a resource type: "stream/", "secret:"
        cut = min((i for i, c in enumerate(named) if c in "/:"), default=None)
        named = "" if cut is None else named[cut + 1 :]
    if named.strip("/:"):
        return None
    if service == "ec2" and resource == "network-interface/*" and set(actions) <= ENI_ACTIONS:
        return None
    return f"resource {arn!r} names no resource before its wildcard"


def _principal_is_public(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any(v == "*" or (isinstance(v, list) and "*" in v) for v in principal.values())
    return False


def problems(document: dict[str, Any], kind: DocumentKind) -> Iterator[str]:
    """Why each ``Allow`` statement of ``document`` is a wildcard grant, if it is."""
    for index, statement in enumerate(statements(document)):
        if statement.get("Effect") != "Allow":
            continue
        where = f"statement {statement.get('Sid') or index}"
        for negation in ("NotAction", "NotResource", "NotPrincipal"):
            if negation in statement:
                yield f"{where} uses {negation}, which allows everything not listed"
        actions = [str(a) for a in _as_list(statement.get("Action"))]
        for action in actions:
            if _has_wildcard(action):
                yield f"{where} allows wildcard action {action!r}"
        if _principal_is_public(statement.get("Principal")):
            yield f"{where} allows any principal ('*')"
        if kind == "trust":
            continue
        for resource in (str(r) for r in _as_list(statement.get("Resource"))):
            if resource == "*":
                if kind == "key" or (actions and set(actions) <= UNSCOPABLE_ACTIONS):
                    continue
                yield f"{where} allows {sorted(actions)} on every resource ('*')"
                continue
            problem = _arn_problem(resource, actions)
            if problem:
                yield f"{where}: {problem}"
