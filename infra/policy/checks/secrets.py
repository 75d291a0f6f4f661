"""``secrets``: secrets never in plain environment values.

An environment value is readable by anyone who may describe the function, task, service or
job, and is printed by every ``describe`` command, so a secret must reach a process as a
reference the app resolves (``aws-secretsmanager://``, ``gcp-secretmanager://``) or through
the platform's own secret injection (ECS ``secrets``, Cloud Run ``valueSource``), which this
check leaves alone. Flagged, in Lambda, ECS, EMR Serverless, Cloud Run (services and jobs),
Dataproc and Docker environments, and in the exported requests a CLI submits later (the GCP
stack's ``job_batch_request``: its Spark properties become the batch's environment):

* a value that was a Pulumi secret (its being secret in the state does not hide it in the
  environment);
* a URL carrying a password (``mongodb://user:password@...``);
* a literal value under a credential-like name (``*PASSWORD*``, ``*SECRET*``, ``*TOKEN*``,
  ``*KEY*``, ``*CREDENTIAL*``);
* something shaped like an AWS access key id or a PEM private key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from infra.common.settings_outputs import is_secret_ref
from infra.policy.checks.violation import Violation
from infra.policy.recorded import Resource, Resources, is_secret, reveal

CHECK = "secrets"

_PASSWORD_URL = re.compile(r"://[^/@\s:]+:[^@/\s]+@")
_SENSITIVE_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|(^|[_.])KEYS?($|[_.])", re.I
)
_AWS_ACCESS_KEY = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")
_PEM = "-----BEGIN"


#: Where each resource type keeps its environment. Pulumi marks the whole top-level input
#: secret when any value inside it is, so that is where a secret shows.
ENV_INPUTS = {
    "aws:lambda/function:Function": "environment",
    "aws:ecs/taskDefinition:TaskDefinition": "containerDefinitions",
    "aws:emrserverless/application:Application": "runtimeConfigurations",
    "gcp:cloudrunv2/service:Service": "template",
    "gcp:cloudrunv2/job:Job": "template",
    "gcp:dataproc/batch:Batch": "runtimeConfig",
    "docker:index/container:Container": "envs",
}

#: Stack outputs that are requests ``streamkit job`` submits: where their Spark properties are.
EXPORTED_REQUESTS = {"job_batch_request": ("runtimeConfig", "properties")}
_STACK = "pulumi:pulumi:Stack"


def _spark_env(properties: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Spark properties as (name, value); ``...driverEnv.X`` / ``executorEnv.X`` count as ``X``."""
    for key, value in properties.items():
        yield (key.rsplit("Env.", 1)[1] if "Env." in key else key), value


def environments(resource: Resource) -> Iterator[tuple[str, Any]]:
    """(name, value) of every environment variable or job property ``resource`` sets."""
    field = ENV_INPUTS.get(resource.type)
    if field is None:
        return
    data = reveal(resource.inputs.get(field))
    if resource.type == "aws:lambda/function:Function":
        yield from ((data or {}).get("variables") or {}).items()
    elif resource.type == "aws:ecs/taskDefinition:TaskDefinition":
        for container in json.loads(data or "[]"):
            yield from (
                (e.get("name", ""), e.get("value")) for e in container.get("environment") or []
            )
    elif resource.type == "aws:emrserverless/application:Application":
        for config in data or []:
            yield from _spark_env(config.get("properties") or {})
    elif resource.type.startswith("gcp:cloudrunv2/"):
        template = (data or {}).get(
            "template", data or {}
        )  # a job's containers are one level deeper
        for container in template.get("containers") or []:
            yield from ((e.get("name", ""), e.get("value")) for e in container.get("envs") or [])
    elif resource.type == "gcp:dataproc/batch:Batch":
        yield from _spark_env((data or {}).get("properties") or {})
    elif resource.type == "docker:index/container:Container":
        for entry in data or []:
            name, _, value = str(entry).partition("=")
            yield name, value


def problem(name: str, value: Any) -> str | None:
    """Why the variable ``name`` = ``value`` exposes a secret, or None."""
    text = "" if value is None else str(value)
    if not text or is_secret_ref(text):
        return None
    if _PASSWORD_URL.search(text):
        return f"{name} holds a URL with a password"
    if _AWS_ACCESS_KEY.search(text) or _PEM in text:
        return f"{name} holds what looks like a key"
    if _SENSITIVE_NAME.search(name):
        return f"{name} is a credential-like name with a literal value (use a secret reference)"
    return None


def _exported_request(name: str, value: Any) -> list[Violation]:
    where = f"output {name}"
    if is_secret(value):
        return [
            Violation(CHECK, _STACK, where, "the request holds a Pulumi secret in plain values")
        ]
    data = json.loads(value) if isinstance(value, str) else value
    properties: Any = data
    for key in EXPORTED_REQUESTS[name]:
        properties = (properties or {}).get(key) if isinstance(properties, dict) else None
    return [
        Violation(CHECK, _STACK, where, why)
        for env, setting in _spark_env(properties or {})
        if (why := problem(str(env), setting))
    ]


def check_secrets(resources: Resources) -> list[Violation]:
    """Environment values that expose a secret."""
    found = [
        v
        for name, value in resources.outputs.items()
        if name in EXPORTED_REQUESTS
        for v in _exported_request(name, value)
    ]
    for resource in resources:
        field = ENV_INPUTS.get(resource.type)
        if field and is_secret(resource.inputs.get(field)):
            found.append(
                Violation.of(CHECK, resource, f"{field} holds a Pulumi secret in plain values")
            )
        for name, value in environments(resource):
            why = problem(str(name), value)
            if why:
                found.append(Violation.of(CHECK, resource, why))
    return found
