"""Sign-in in front of the dashboard: the load balancer authenticates against Cognito.

The dashboard holds the API key and shows the data that key guards, so no request reaches it
before the load balancer has signed the browser in: the HTTPS listener's first action is
``authenticate-cognito``, its second the ``forward`` to the tasks. The user pool is the list of
who may see the data, so only administrators add users (no self sign-up). The load balancer
itself calls Cognito's token and user-info endpoints, hence its egress on 443.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

#: How long a sign-in lasts. The load balancer asks Cognito again only after this, so a user
#: disabled in the pool keeps access for at most this long (the AWS default is 7 days).
SESSION_SECONDS = 12 * 3600
_NOT_IN_PREFIX = re.compile(r"[^a-z0-9-]+|aws|amazon|cognito")  # Cognito refuses these


def callback_url(domain_name: str) -> str:
    """Where Cognito sends a signed-in browser: the load balancer's own endpoint."""
    return f"https://{domain_name}/oauth2/idpresponse"


def domain_prefix(name: str, account: str, region: str) -> str:
    """The sign-in page's domain prefix (``<prefix>.auth.<region>.amazoncognito.com``).

    Prefixes are shared by every AWS account in a region, so the stack's name alone may be
    taken. A hash of the account and region makes it this stack's, stays the same on every
    ``pulumi up`` (a new prefix would replace the domain) and, unlike the account id itself,
    tells the sign-in page's visitors nothing.
    """
    digest = hashlib.sha256(f"{account}/{region}".encode()).hexdigest()[:8]
    base = _NOT_IN_PREFIX.sub("-", name.lower()).strip("-")[:54]
    return f"{base}-{digest}"


@dataclass(frozen=True)
class CognitoLogin:
    """The user pool, its sign-in domain and the load balancer's client."""

    pool: aws.cognito.UserPool
    domain: aws.cognito.UserPoolDomain
    client: aws.cognito.UserPoolClient

    def action(self) -> dict[str, Any]:
        """The listener action that signs a browser in before anything is forwarded."""
        return {
            "type": "authenticate-cognito",
            "order": 1,
            "authenticate_cognito": {
                "user_pool_arn": self.pool.arn,
                "user_pool_client_id": self.client.id,
                "user_pool_domain": self.domain.domain,
                "on_unauthenticated_request": "authenticate",
                "scope": "openid email",
                "session_timeout": SESSION_SECONDS,
            },
        }


def cognito_login(
    name: str, domain_name: str, *, protect: bool, opts: pulumi.ResourceOptions
) -> CognitoLogin:
    """The pool (``protect``: deletion protection on), its domain and a client for the ALB."""
    pool = aws.cognito.UserPool(
        f"{name}-users",
        admin_create_user_config={"allow_admin_create_user_only": True},
        username_attributes=["email"],
        auto_verified_attributes=["email"],
        account_recovery_setting={
            "recovery_mechanisms": [{"name": "verified_email", "priority": 1}]
        },
        password_policy={
            "minimum_length": 14,
            "require_lowercase": True,
            "require_uppercase": True,
            "require_numbers": True,
            "require_symbols": True,
            "temporary_password_validity_days": 3,
        },
        deletion_protection="ACTIVE" if protect else "INACTIVE",
        opts=opts,
    )
    account = aws.get_caller_identity_output().account_id
    region = aws.get_region_output().region
    domain = aws.cognito.UserPoolDomain(
        f"{name}-signin",
        domain=pulumi.Output.all(account, region).apply(lambda ar: domain_prefix(name, *ar)),
        user_pool_id=pool.id,
        managed_login_version=1,  # the classic hosted UI: needs no branding resource
        opts=opts,
    )
    return CognitoLogin(pool, domain, _client(name, pool, domain_name, opts))


def _client(
    name: str, pool: aws.cognito.UserPool, domain_name: str, opts: pulumi.ResourceOptions
) -> aws.cognito.UserPoolClient:
    """The load balancer's OAuth client: the code flow, with a secret the ALB fetches itself."""
    return aws.cognito.UserPoolClient(
        f"{name}-alb",
        user_pool_id=pool.id,
        generate_secret=True,
        allowed_oauth_flows_user_pool_client=True,
        allowed_oauth_flows=["code"],
        allowed_oauth_scopes=["openid", "email"],
        callback_urls=[callback_url(domain_name)],
        supported_identity_providers=["COGNITO"],
        prevent_user_existence_errors="ENABLED",
        opts=opts,
    )
