"""An in-process stand-in for Google Secret Manager's ``AccessSecretVersion``, over real gRPC.

Google publishes no Secret Manager emulator, so the tests of
``gcp-secretmanager://`` references run against this: a real gRPC server on
127.0.0.1 speaking the real ``google.cloud.secretmanager.v1`` messages (the
client library's own serializers), so the binding goes through
google-cloud-secret-manager's client, transport, retries and error mapping
exactly as it would against Google. It is written for these tests, not
Google's code, and implements only what the binding calls, with the behaviour
Google's API reference gives (projects.secrets.versions.access):

* ``…/versions/latest`` is an alias of the most recently created version;
* a version that is not enabled answers ``FAILED_PRECONDITION``;
* an unknown secret or version answers ``NOT_FOUND``; a caller without
  ``secretmanager.versions.access`` gets ``PERMISSION_DENIED``;
* the response carries the version's full name and the payload with its CRC32C.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import google_crc32c
import grpc
from google.cloud.secretmanager_v1.types import service

from tests.support.grpc_server import serving

_METHOD = "AccessSecretVersion"
_SERVICE = "google.cloud.secretmanager.v1.SecretManagerService"


@dataclass
class _Version:
    data: bytes
    enabled: bool = True


@dataclass
class FakeSecretManager:
    """Secrets by name (``projects/p/secrets/s``), each a list of versions (1, 2, …)."""

    endpoint: str = ""
    secrets: dict[str, list[_Version]] = field(default_factory=dict)
    #: Secret names the caller has no access to.
    denied: set[str] = field(default_factory=set)
    #: Every name asked for, in order: what the binding really requested.
    requests: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_version(self, secret: str, data: str | bytes, *, enabled: bool = True) -> int:
        """A new version of ``secret`` (created if new); its number."""
        payload = data.encode() if isinstance(data, str) else data
        with self._lock:
            versions = self.secrets.setdefault(secret, [])
            versions.append(_Version(payload, enabled))
            return len(versions)

    def _access(
        self, request: service.AccessSecretVersionRequest, context: grpc.ServicerContext
    ) -> service.AccessSecretVersionResponse:
        name = request.name
        with self._lock:
            self.requests.append(name)
            secret, _, version = name.partition("/versions/")
            if secret in self.denied:
                context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"Permission 'secretmanager.versions.access' denied for resource '{name}'",
                )
            versions = self.secrets.get(secret)
            if not versions:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Secret [{secret}] not found.")
            number = len(versions) if version == "latest" else _number(version)
            if number is None or not 1 <= number <= len(versions):
                context.abort(grpc.StatusCode.NOT_FOUND, f"Secret Version [{name}] not found.")
            chosen = versions[number - 1]
            if not chosen.enabled:
                context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"Secret Version [{secret}/versions/{number}] is in DISABLED state.",
                )
        return service.AccessSecretVersionResponse(
            name=f"{secret}/versions/{number}",
            payload={"data": chosen.data, "data_crc32c": google_crc32c.value(chosen.data)},
        )


def _number(version: str) -> int | None:
    return int(version) if version.isdigit() else None


@contextmanager
def running_secret_manager() -> Iterator[FakeSecretManager]:
    """The fake, listening on a free port of 127.0.0.1 until the block ends."""
    fake = FakeSecretManager()
    handler = grpc.unary_unary_rpc_method_handler(
        fake._access,  # noqa: SLF001 - the fake's own handler
        request_deserializer=service.AccessSecretVersionRequest.deserialize,
        response_serializer=service.AccessSecretVersionResponse.serialize,
    )
    service_handler = grpc.method_handlers_generic_handler(_SERVICE, {_METHOD: handler})
    with serving([service_handler], workers=4) as endpoint:
        fake.endpoint = endpoint
        yield fake
