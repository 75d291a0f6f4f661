"""Stack outputs named like the app's settings, and the secret references the app resolves.

A stack exports ``bus_url``, ``hot_store_url`` ... exactly as the ``STREAMKIT_*`` variable of
the same setting, lower-cased and without the prefix (``api__keys`` for ``STREAMKIT_API__KEYS``).
:func:`environment` turns those outputs back into the variables, which is how ``streamkit`` is
pointed at a deployed stack (see ``python -m infra.common.stack_env``).

Secrets are never exported as values: an output or environment value that must stay secret is
a *reference* the app resolves at start-up, ``aws-secretsmanager://<secret ARN>`` or
``gcp-secretmanager://projects/<p>/secrets/<s>/versions/<v>``.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Outputs that are settings of app/settings.py, in the order the docs list them.
SETTING_OUTPUTS: tuple[str, ...] = (
    "env",
    "bus_url",
    "deadletter_url",
    "hot_store_url",
    "archive_url",
    "checkpoint_dir",
    "api__keys",
    "dashboard__api_url",
    "dashboard__api_key",
)

#: Outputs whose value is a secret reference (never the secret itself).
SECRET_OUTPUTS = frozenset({"hot_store_url", "api__keys", "dashboard__api_key"})

AWS_SECRET_SCHEME = "aws-secretsmanager://"  # noqa: S105 - a URL scheme, not a password
GCP_SECRET_SCHEME = "gcp-secretmanager://"  # noqa: S105
SECRET_SCHEMES = (AWS_SECRET_SCHEME, GCP_SECRET_SCHEME)


def env_name(output: str) -> str:
    """The variable a setting output stands for: ``api__keys`` -> ``STREAMKIT_API__KEYS``."""
    return f"STREAMKIT_{output.upper()}"


def aws_secret_ref(secret_arn: str) -> str:
    """The reference the app resolves to the current value of an AWS Secrets Manager secret."""
    return f"{AWS_SECRET_SCHEME}{secret_arn}"


def gcp_secret_ref(secret_id: str, version: str = "latest") -> str:
    """The reference to a Secret Manager version; ``secret_id`` is ``projects/<p>/secrets/<s>``."""
    return f"{GCP_SECRET_SCHEME}{secret_id}/versions/{version}"


def is_secret_ref(value: str) -> bool:
    """Whether ``value`` is a secret reference rather than a literal."""
    return value.startswith(SECRET_SCHEMES)


def environment(outputs: Mapping[str, object]) -> dict[str, str]:
    """The ``STREAMKIT_*`` variables of a stack's outputs (other outputs are left out)."""
    env: dict[str, str] = {}
    for name in SETTING_OUTPUTS:
        value = outputs.get(name)
        if value is None:
            continue
        env[env_name(name)] = str(value).lower() if isinstance(value, bool) else str(value)
    return env
