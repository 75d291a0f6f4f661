"""Kafka security options: one set for librdkafka's clients, translated for Spark's JVM client.

The vocabulary is librdkafka's, the one a ``kafka://`` URL query carries:
``security.protocol``, ``sasl.mechanism``, ``sasl.username``, ``sasl.password``,
``ssl.ca.location``, ``ssl.endpoint.identification.algorithm``. Two names are
streamkit's own: ``sasl.mechanism=AWS_MSK_IAM`` (MSK's IAM auth; OAUTHBEARER with a
token signed by ``aws-msk-iam-sasl-signer-python`` (the ``aws`` extra) for librdkafka, the
``aws-msk-iam-auth`` login module for the JVM) and ``sasl.aws.region`` (the region
the token is signed for).

The JVM client has no ``sasl.username``/``sasl.password`` nor ``ssl.ca.location``:
:func:`spark_options` turns them into ``sasl.jaas.config`` and a PEM truststore
(``ssl.truststore.type=PEM``, Kafka clients 2.7+).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from adapters.errors import ConfigurationError, MissingExtraError

AWS_MSK_IAM = "AWS_MSK_IAM"
REGION = "sasl.aws.region"
_JAAS_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}
_MSK_IAM_JVM = {
    "kafka.sasl.mechanism": AWS_MSK_IAM,
    "kafka.sasl.jaas.config": "software.amazon.msk.auth.iam.IAMLoginModule required;",
    "kafka.sasl.client.callback.handler.class": (
        "software.amazon.msk.auth.iam.IAMClientCallbackHandler"
    ),
}
#: Translated by :func:`spark_options`, not passed through under their own name.
_TRANSLATED = (
    "security.protocol",
    "sasl.mechanism",
    "sasl.username",
    "sasl.password",
    "ssl.ca.location",
    "ssl.endpoint.identification.algorithm",
    REGION,
)
#: Never JVM client options: librdkafka's own, or not options at all.
_CLIENT_ONLY = frozenset({"bootstrap.servers", "logger", "oauth_cb"})

TokenCallback = Callable[[str], tuple[str, float]]


def uses_msk_iam(options: Mapping[str, Any]) -> bool:
    """Whether ``options`` ask for AWS MSK IAM authentication."""
    return str(options.get("sasl.mechanism", "")).upper() == AWS_MSK_IAM


def client_config(options: Mapping[str, Any]) -> dict[str, Any]:
    """The librdkafka configuration: AWS_MSK_IAM becomes OAUTHBEARER with a signing callback."""
    config = {k: v for k, v in options.items() if k != REGION}
    if uses_msk_iam(options):
        region = str(options.get(REGION) or os.environ.get("AWS_REGION", ""))
        config["sasl.mechanism"] = "OAUTHBEARER"
        config["oauth_cb"] = msk_iam_token_callback(region)
    return config


def msk_iam_token_callback(region: str) -> TokenCallback:
    """The ``oauth_cb`` of librdkafka: a fresh MSK IAM token (and its expiry, epoch seconds)."""
    if not region:
        msg = (
            "AWS MSK IAM needs a region: set STREAMKIT_KAFKA__AWS_REGION "
            "(or sasl.aws.region in the Kafka URL, or AWS_REGION)"
        )
        raise ConfigurationError(msg)
    try:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    except ModuleNotFoundError as e:
        raise MissingExtraError("aws-msk-iam-sasl-signer-python", "aws") from e  # noqa: EM101

    def token(_config: str) -> tuple[str, float]:
        value, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
        return str(value), float(expiry_ms) / 1000.0

    return token


def jaas_config(mechanism: str, username: str, password: str) -> str:
    """The JVM client's ``sasl.jaas.config`` for PLAIN or SCRAM."""
    module = _JAAS_MODULES.get(mechanism.upper())
    if module is None:
        known = ", ".join([*_JAAS_MODULES, AWS_MSK_IAM])
        msg = f"no JAAS login module for sasl.mechanism {mechanism!r}; known: {known}"
        raise ConfigurationError(msg)
    return f'{module} required username="{_quoted(username)}" password="{_quoted(password)}";'


def _quoted(value: str) -> str:
    # The JAAS parser reads quoted strings with backslash escapes.
    return value.replace("\\", "\\\\").replace('"', '\\"')


def spark_options(options: Mapping[str, Any]) -> dict[str, str]:
    """``kafka.*`` options for Spark's Kafka source with the same security as the clients."""
    out: dict[str, str] = {
        f"kafka.{k}": str(v)
        for k, v in options.items()
        if k not in _TRANSLATED and k not in _CLIENT_ONLY
    }
    if protocol := str(options.get("security.protocol", "")):
        out["kafka.security.protocol"] = protocol.upper()
    out.update(_sasl_options(options))
    if ca := str(options.get("ssl.ca.location", "")):
        out["kafka.ssl.truststore.type"] = "PEM"
        out["kafka.ssl.truststore.location"] = ca
    if "ssl.endpoint.identification.algorithm" in options:
        algorithm = str(options["ssl.endpoint.identification.algorithm"])
        # librdkafka says "none", the JVM client an empty string.
        out["kafka.ssl.endpoint.identification.algorithm"] = (
            "" if algorithm.lower() == "none" else algorithm
        )
    return out


def _sasl_options(options: Mapping[str, Any]) -> dict[str, str]:
    mechanism = str(options.get("sasl.mechanism", "")).upper()
    if not mechanism:
        return {}
    if mechanism == AWS_MSK_IAM:
        return dict(_MSK_IAM_JVM)
    out = {"kafka.sasl.mechanism": mechanism}
    if "sasl.username" in options:
        out["kafka.sasl.jaas.config"] = jaas_config(
            mechanism, str(options["sasl.username"]), str(options.get("sasl.password", ""))
        )
    return out
