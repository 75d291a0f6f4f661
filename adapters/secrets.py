"""Secret settings given as references to a cloud secret manager, resolved at start-up.

A deployed stack never puts a password in an environment variable: it sets
the secret setting (``STREAMKIT_HOT_STORE_URL``, ``STREAMKIT_API__KEYS``,
``STREAMKIT_DASHBOARD__API_KEY``) to a reference, and the process reads the
value with its own role's credentials when its settings load:

* ``aws-secretsmanager://<secret ARN or name>`` (AWS Secrets Manager; the
  region comes from the ARN, else from ``AWS_REGION``; ``AWS_ENDPOINT_URL_SECRETS_MANAGER``
  reaches an emulator or a VPC endpoint);
* ``gcp-secretmanager://projects/<p>/secrets/<s>[/versions/<v>][?endpoint=host:port]``
  (Google Secret Manager; ``latest`` when no version is named; ``endpoint`` on this
  machine reaches an emulator over plain gRPC without credentials, any other is a
  Google endpoint reached with the default chain: the rule of ``adapters/gcp.py``).

Either may end in ``#field`` to take one field of a JSON secret. Values are
held as ``SecretStr`` like any other secret setting, so they are masked in
logs and ``streamkit config``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

import orjson

from adapters.errors import ConfigurationError, MissingExtraError, TerminalError, TransientError

AWS_SCHEME = "aws-secretsmanager://"
GCP_SCHEME = "gcp-secretmanager://"
_GCP_NAME = re.compile(r"^projects/[^/?]+/secrets/[^/?]+(/versions/[^/?]+)?$")
#: Seconds before a Secret Manager call gives up (settings load at start-up: fail fast).
_GCP_TIMEOUT = 30.0
_ARN_REGION = re.compile(r"^arn:aws[\w-]*:secretsmanager:([a-z0-9-]+):")


def is_reference(value: str) -> bool:
    """True when ``value`` names a secret instead of holding one."""
    return value.startswith((AWS_SCHEME, GCP_SCHEME))


def resolve(value: str, setting: str) -> str:
    """The secret ``value`` refers to (``value`` itself when it is not a reference).

    Raises:
        ConfigurationError: a malformed reference, a missing secret or field, no access.
        TransientError: the secret manager could not be reached.
    """
    if not is_reference(value):
        return value
    reference, _, field = value.partition("#")
    if reference.startswith(AWS_SCHEME):
        secret = _from_aws(reference.removeprefix(AWS_SCHEME), setting)
    else:
        secret = _from_gcp(reference.removeprefix(GCP_SCHEME), setting)
    return _field(secret, field, setting) if field else secret


def _field(secret: str, field: str, setting: str) -> str:
    try:
        data: Any = orjson.loads(secret)
    except orjson.JSONDecodeError as e:
        msg = f"{setting}: the secret is not JSON, so it has no field {field!r}"
        raise ConfigurationError(msg) from e
    if not isinstance(data, dict) or not isinstance(data.get(field), str):
        msg = f"{setting}: the secret has no string field {field!r}"
        raise ConfigurationError(msg)
    return str(data[field])


def _from_aws(secret_id: str, setting: str) -> str:
    if not secret_id:
        msg = f"{setting}: {AWS_SCHEME} needs a secret ARN or name after it"
        raise ConfigurationError(msg)
    from adapters.aws import client, is_aws_error, translate  # noqa: PLC0415 - optional extra

    match = _ARN_REGION.match(secret_id)
    manager = client("secretsmanager", match.group(1) if match else None, None)
    try:
        answer = manager.get_secret_value(SecretId=secret_id)
    except Exception as e:
        if not is_aws_error(e):
            raise
        error = translate(e, f"{setting}: reading secret {secret_id!r} from Secrets Manager")
        if isinstance(error, TerminalError):
            raise ConfigurationError(str(error)) from e
        raise error from e
    if "SecretString" not in answer:
        msg = f"{setting}: secret {secret_id!r} holds binary data, not text"
        raise ConfigurationError(msg)
    return str(answer["SecretString"])


def _from_gcp(reference: str, setting: str) -> str:
    name, _, query = reference.partition("?")
    endpoint = _gcp_endpoint(query, setting)
    if not _GCP_NAME.match(name):
        msg = (
            f"{setting}: expected {GCP_SCHEME}projects/<project>/secrets/<secret>"
            f"[/versions/<version>], got {GCP_SCHEME}{name}"
        )
        raise ConfigurationError(msg)
    if "/versions/" not in name:
        name += "/versions/latest"
    try:
        from google.api_core import exceptions as google_errors  # noqa: PLC0415
        from google.cloud import secretmanager  # noqa: PLC0415
    except ModuleNotFoundError as e:
        raise MissingExtraError("google-cloud-secret-manager", "gcp") from e  # noqa: EM101
    try:
        manager = _gcp_client(secretmanager, endpoint)
        answer = manager.access_secret_version(name=name, timeout=_GCP_TIMEOUT)
    except (
        google_errors.NotFound,
        google_errors.PermissionDenied,
        google_errors.FailedPrecondition,
    ) as e:
        msg = f"{setting}: cannot read {name} from Secret Manager: {e.message}"
        raise ConfigurationError(msg) from e
    except google_errors.GoogleAPIError as e:
        msg = f"{setting}: Secret Manager did not answer for {name}: {e}"
        raise TransientError(msg) from e
    return bytes(answer.payload.data).decode()


def _gcp_endpoint(query: str, setting: str) -> str | None:
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - {"endpoint"})
    if unknown or len(params.get("endpoint", [])) > 1:
        msg = f"{setting}: {GCP_SCHEME} takes only ?endpoint=host:port, got ?{query}"
        raise ConfigurationError(msg)
    endpoint = params.get("endpoint", [None])[0]
    if endpoint == "":
        msg = f"{setting}: ?endpoint= needs host:port"
        raise ConfigurationError(msg)
    return endpoint


def _gcp_client(secretmanager: Any, endpoint: str | None) -> Any:
    """Google's default credential chain, or plain gRPC to an emulator at ``endpoint``."""
    from google.cloud.secretmanager_v1.services.secret_manager_service import (  # noqa: PLC0415
        transports,
    )

    from adapters.gcp import grpc_client  # noqa: PLC0415 - needs the gcp extra

    return grpc_client(
        secretmanager.SecretManagerServiceClient,
        transports.SecretManagerServiceGrpcTransport,
        endpoint,
    )
