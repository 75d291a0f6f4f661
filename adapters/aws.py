"""What every AWS binding shares: clients from the default credential chain, error translation.

Credentials are never read from a URL: boto3's default chain (environment,
shared profile, container or instance role) supplies them, as it does in
Lambda, ECS and EMR Serverless. A binding URL may only name the region and an
``endpoint`` override (moto's server offline, a VPC endpoint in a cloud).
"""

from __future__ import annotations

import os
from typing import Any

from adapters.errors import ConfigurationError, MissingExtraError, TerminalError, TransientError

try:
    import boto3
    import botocore.config
    import botocore.exceptions
except ModuleNotFoundError as e:  # pragma: no cover - depends on the install
    raise MissingExtraError("boto3", "aws") from e  # noqa: EM101

#: Query parameters that would carry credentials; refused, with the chain named.
CREDENTIAL_PARAMETERS = frozenset(
    {"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "access_key", "secret_key"}
)

#: Error codes that retrying does not cure (bad input, missing resources, permissions).
_TERMINAL_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "ValidationException",
        "InvalidArgumentException",
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSNotFoundException",
        "KMSInvalidStateException",
    }
)


def refuse_credentials(options: dict[str, str], url: str) -> None:
    """Raise when ``url`` tries to pass AWS credentials (they belong in the default chain)."""
    found = sorted(CREDENTIAL_PARAMETERS.intersection(k.lower() for k in options))
    if found:
        msg = (
            f"credentials in a binding URL are not read ({', '.join(found)} in {url.split('?')[0]}"
            "?...): give them through AWS's default chain instead (AWS_PROFILE or"
            " AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment, or the role of the"
            " Lambda, ECS task or EMR job)"
        )
        raise ConfigurationError(msg)


def client(
    service: str, region: str | None, endpoint: str | None, *, timeout_s: float = 10.0
) -> Any:
    """A boto3 client for ``service`` with bounded timeouts and the SDK's standard retries."""
    config = botocore.config.Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        # "standard" retries throttling and 5xx with jittered back-off; the
        # bindings add their own loop only where AWS reports partial success.
        retries={"mode": "standard", "max_attempts": 4},
    )
    # AWS_REGION is what Lambda, ECS and EMR set; botocore itself reads only AWS_DEFAULT_REGION.
    session = boto3.session.Session(region_name=region or os.environ.get("AWS_REGION") or None)
    if session.region_name is None:
        msg = (
            f"no AWS region for {service}: add ?region=... to the URL or set AWS_REGION"
            " (or AWS_DEFAULT_REGION)"
        )
        raise ConfigurationError(msg)
    return session.client(service, endpoint_url=endpoint, config=config)


def error_code(error: BaseException) -> str:
    """The AWS error code of a ``ClientError`` (empty for any other exception)."""
    if isinstance(error, botocore.exceptions.ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def translate(error: Exception, what: str) -> TransientError | TerminalError:
    """The port error for a boto3/botocore exception raised while doing ``what``."""
    if isinstance(
        error, botocore.exceptions.NoCredentialsError | botocore.exceptions.NoRegionError
    ):
        msg = (
            f"{what}: {error}. Give credentials through AWS's default chain (AWS_PROFILE, or"
            " AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or the role the code runs under)"
        )
        return TerminalError(msg)
    if isinstance(error, botocore.exceptions.ClientError):
        code = error_code(error)
        text = f"{what}: {code}: {error.response.get('Error', {}).get('Message', '')}"
        return TerminalError(text) if code in _TERMINAL_CODES else TransientError(text)
    if isinstance(error, botocore.exceptions.BotoCoreError):
        # Connection refused, timeouts, a dropped connection: worth retrying.
        return TransientError(f"{what}: {error}")
    return TerminalError(f"{what}: {error!r}")


def is_aws_error(error: BaseException) -> bool:
    """True for the exceptions :func:`translate` knows (boto3 and botocore ones)."""
    return isinstance(error, botocore.exceptions.BotoCoreError | botocore.exceptions.ClientError)
