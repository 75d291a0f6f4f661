"""``iam``: no wildcard IAM actions or resources; least privilege on both clouds.

AWS: every policy document a program writes (role trust and inline policies, role policies,
managed policies, bucket, topic, secret and key policies) is read statement by statement
(:mod:`infra.policy.checks.aws_policy`). Attaching an AWS-managed policy is refused: its
document is not in the program, so nothing here could vouch for it.

GCP: no primitive role (``roles/owner``, ``roles/editor``, ``roles/viewer``), no project-wide
admin role, no custom role with a wildcard permission, and no ``allUsers`` /
``allAuthenticatedUsers`` member, except ``roles/run.invoker`` on

* the API's Cloud Run service, deliberately public: it checks its own keys. A service is the
  API when it is given keys to check (``STREAMKIT_API__KEYS``);
* the dashboard's, only when the program exports ``dashboard_access: public`` (its
  ``dashboard.access`` opt-in). The dashboard (given a key to use,
  ``STREAMKIT_DASHBOARD__API_KEY``) shows what that key guards, so by default it must not be
  public: the GCP stack puts it behind Identity-Aware Proxy.

Services are told apart by what they are given, not by their names; a public grant on a
service the program does not define by name is refused (nothing shows what it serves).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from infra.policy.checks.aws_policy import DocumentKind, parse, problems
from infra.policy.checks.secrets import environments
from infra.policy.checks.violation import Violation
from infra.policy.recorded import Resource, Resources, reveal

CHECK = "iam"

#: Type token -> (input holding a policy document, what kind of document it is).
_AWS_DOCUMENTS: dict[str, tuple[str, DocumentKind]] = {
    "aws:iam/rolePolicy:RolePolicy": ("policy", "identity"),
    "aws:iam/policy:Policy": ("policy", "identity"),
    "aws:iam/userPolicy:UserPolicy": ("policy", "identity"),
    "aws:iam/groupPolicy:GroupPolicy": ("policy", "identity"),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy", "resource"),
    "aws:sns/topicPolicy:TopicPolicy": ("policy", "resource"),
    "aws:sqs/queuePolicy:QueuePolicy": ("policy", "resource"),
    "aws:secretsmanager/secretPolicy:SecretPolicy": ("policy", "resource"),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("policy", "resource"),
    "aws:kms/key:Key": ("policy", "key"),
}
_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
_AWS_MANAGED = "arn:aws:iam::aws:policy/"

PRIMITIVE_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
#: The only public grant there may be: invoking a Cloud Run service (which one: see below).
PUBLIC_INVOKER = ("gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "roles/run.invoker")
_RUN_SERVICE = "gcp:cloudrunv2/service:Service"
#: Given keys to check: the API, whose keys guard every route but ``/health``.
API_KEYS_ENV = "STREAMKIT_API__KEYS"
#: Given a key to use: the dashboard, which shows anyone who opens it what the key guards.
DASHBOARD_KEY_ENV = "STREAMKIT_DASHBOARD__API_KEY"
#: The stack output by which a program opts its dashboard in to being public.
DASHBOARD_ACCESS_OUTPUT = "dashboard_access"
_PROJECT_IAM = ("gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding")


def _aws_documents(resource: Resource) -> Iterator[tuple[str, Any, DocumentKind]]:
    if resource.type == "aws:iam/role:Role":
        yield "assumeRolePolicy", resource.get("assumeRolePolicy"), "trust"
        for i, inline in enumerate(resource.get("inlinePolicies") or []):
            yield f"inlinePolicies[{i}]", (inline or {}).get("policy"), "identity"
    elif resource.type in _AWS_DOCUMENTS:
        field, kind = _AWS_DOCUMENTS[resource.type]
        yield field, resource.get(field), kind


def _check_aws(resources: Resources) -> Iterator[Violation]:
    for resource in resources:
        for field, document, kind in _aws_documents(resource):
            if not document:
                continue
            try:
                parsed = parse(document)
            except ValueError as e:
                yield Violation.of(CHECK, resource, f"{field} is not a readable policy: {e}")
                continue
            for problem in problems(parsed, kind):
                yield Violation.of(CHECK, resource, f"{field}: {problem}")
    for attachment in resources.of_type(*_ATTACHMENTS):
        arn = str(attachment.get("policyArn") or "")
        if arn.startswith(_AWS_MANAGED):
            yield Violation.of(
                CHECK, attachment, f"attaches the AWS-managed policy {arn}: write a scoped one"
            )


def _is_gcp_iam(resource: Resource) -> bool:
    kind = resource.type.rsplit(":", 1)[-1].lower()
    return resource.type.startswith("gcp:") and (
        "iammember" in kind or "iambinding" in kind or "iampolicy" in kind
    )


def _grants(resource: Resource) -> Iterator[tuple[str, str]]:
    """(role, member) pairs of an IAM member, binding or policy resource."""
    role = str(resource.get("role") or "")
    members = [resource.get("member")] if resource.get("member") else resource.get("members") or []
    for member in members:
        yield role, str(member)
    policy = resource.get("policyData")
    if policy:
        for binding in json.loads(policy).get("bindings", []):
            for member in binding.get("members", []):
                yield str(binding.get("role", "")), str(member)


def _invoked_service(resources: Resources, grant: Resource) -> Resource | None:
    """The Cloud Run service ``grant`` is on: same name, and same location when both say."""
    for service in resources.of_type(_RUN_SERVICE):
        where = {service.get("location"), grant.get("location")} - {None}
        if service.get("name") == grant.get("name") and len(where) <= 1:
            return service
    return None


def _public_invoker_problem(resources: Resources, grant: Resource) -> str | None:
    """Why anyone must not invoke the service ``grant`` is on, or None if that is deliberate."""
    service = _invoked_service(resources, grant)
    if service is None:
        return "on a service the program does not define by name: nothing shows what it serves"
    env = dict(environments(service))
    if DASHBOARD_KEY_ENV in env:
        if reveal(resources.outputs.get(DASHBOARD_ACCESS_OUTPUT)) == "public":
            return None
        return (
            "opens the dashboard, which holds an API key, to anyone: put it behind IAP, or "
            f"opt in (dashboard.access: public, exported as {DASHBOARD_ACCESS_OUTPUT})"
        )
    if env.get(API_KEYS_ENV, "") != "":  # None: injected from Secret Manager
        return None
    return "on a service that checks no API key: only the API may be public"


def _public_problem(resources: Resources, resource: Resource, role: str) -> str | None:
    """Why a public member must not hold ``role`` on ``resource``, or None."""
    if (resource.type, role) != PUBLIC_INVOKER:
        return "only invoking a Cloud Run service may be public"
    return _public_invoker_problem(resources, resource)


def _check_gcp(resources: Resources) -> Iterator[Violation]:
    for resource in resources:
        if resource.type == "gcp:projects/iAMCustomRole:IAMCustomRole":
            wild = [p for p in resource.get("permissions") or [] if "*" in str(p)]
            if wild:
                yield Violation.of(CHECK, resource, f"custom role with wildcard permissions {wild}")
        if not _is_gcp_iam(resource):
            continue
        for role, member in _grants(resource):
            if role in PRIMITIVE_ROLES:
                yield Violation.of(CHECK, resource, f"primitive role {role} granted to {member}")
            why = _public_problem(resources, resource, role) if member in PUBLIC_MEMBERS else None
            if why:
                yield Violation.of(CHECK, resource, f"{role} granted to {member} (public): {why}")
            if resource.type in _PROJECT_IAM and role.lower().endswith("admin"):
                yield Violation.of(CHECK, resource, f"project-wide admin role {role} to {member}")


def check_iam(resources: Resources) -> list[Violation]:
    """Wildcard and over-broad grants in AWS policy documents and GCP IAM bindings."""
    return [*_check_aws(resources), *_check_gcp(resources)]
