"""What the GCP clients share: gRPC clients from Google's default chain or to an emulator, errors.

Credentials come only from Google's default chain (``google.auth.default``:
``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth application-default login``,
the attached service account or workload identity), never from a URL or a
flag. An ``endpoint`` override follows the rule of the Pub/Sub binding and the
Secret Manager references: ``host:port`` on this machine (127.0.0.1,
``localhost``, ``[::1]``) is an emulator or a test stand-in, reached over plain
gRPC with no credentials at all; any other ``host:port`` (a regional endpoint,
Private Service Connect) is Google, reached over TLS with the default chain's
credentials, as the client's ``api_endpoint``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from adapters.errors import ConfigurationError, MissingExtraError, TerminalError, TransientError

try:
    import google.auth
    from google.api_core import exceptions as gexc
    from google.api_core import retry as gretry
    from google.auth import credentials as gcreds
    from google.auth import exceptions as auth_exc
except ModuleNotFoundError as e:  # pragma: no cover - depends on the install
    raise MissingExtraError("google-api-core", "gcp") from e  # noqa: EM101

T = TypeVar("T")

CHAIN = (
    "Google credentials come only from the default chain (GOOGLE_APPLICATION_CREDENTIALS, "
    "`gcloud auth application-default login`, the attached service account)"
)
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
CALL_TIMEOUT_S = 30.0
#: Options of every call: what a retry may cure is retried, for at most 30 s in all.
CALL: dict[str, Any] = {
    "retry": gretry.Retry(
        predicate=gretry.if_exception_type(
            gexc.ServiceUnavailable, gexc.InternalServerError, gexc.Unknown
        ),
        initial=0.2,
        maximum=5.0,
        multiplier=2.0,
        timeout=CALL_TIMEOUT_S,
    ),
    "timeout": CALL_TIMEOUT_S,
}
#: Status codes a retry cannot cure; any other API error is transient.
_TERMINAL = frozenset(
    {
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
        "FAILED_PRECONDITION",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
    }
)
#: Status codes that mean the setup, not the call, is wrong.
_CONFIGURATION = frozenset({"NOT_FOUND", "PERMISSION_DENIED", "UNAUTHENTICATED"})


def is_local(endpoint: str) -> bool:
    """True for ``host:port`` on this machine: an emulator, reached without TLS or credentials."""
    host = endpoint.rpartition(":")[0] or endpoint
    return host.lower() in _LOCAL_HOSTS


def grpc_client(client_cls: Any, transport_cls: Any, endpoint: str | None) -> Any:
    """A GAPIC client: plain anonymous gRPC to a local ``endpoint``, else Google's chain."""
    if endpoint and is_local(endpoint):
        # grpc ships no type information; only the emulator path needs it directly.
        channel = importlib.import_module("grpc").insecure_channel(endpoint)
        anonymous = gcreds.AnonymousCredentials()  # type: ignore[no-untyped-call]
        return client_cls(transport=transport_cls(channel=channel, credentials=anonymous))
    try:
        credentials, _ = google.auth.default(scopes=SCOPES)
    except auth_exc.DefaultCredentialsError as e:
        msg = f"no Google credentials found: {CHAIN}"
        raise ConfigurationError(msg) from e
    options = {"api_endpoint": endpoint} if endpoint else None
    return client_cls(credentials=credentials, client_options=options)


def status_name(error: BaseException) -> str:
    """The gRPC status of an API error (``PERMISSION_DENIED``...); empty for anything else."""
    code = getattr(error, "grpc_status_code", None)
    return str(getattr(code, "name", "")) if code is not None else ""


def translate(
    error: Exception, what: str, fixes: Mapping[str, str] | None = None
) -> TransientError | TerminalError:
    """The port error for a client-library error raised while doing ``what``.

    ``fixes`` maps a gRPC status name to what the caller should do about it;
    the message ends with that fix.
    """
    if isinstance(error, auth_exc.DefaultCredentialsError):
        return ConfigurationError(f"{what}: no Google credentials found; {CHAIN}")
    if isinstance(error, auth_exc.GoogleAuthError):
        return ConfigurationError(f"{what}: the credentials were refused ({error}); {CHAIN}")
    code = status_name(error)
    detail = getattr(error, "message", None) or str(error) or type(error).__name__
    fix = (fixes or {}).get(code)
    text = f"{what}: {code or type(error).__name__}: {detail}" + (f"; {fix}" if fix else "")
    if code in _CONFIGURATION:
        return ConfigurationError(text)
    return TerminalError(text) if code in _TERMINAL else TransientError(text)


def is_gcp_error(error: BaseException) -> bool:
    """True for the exceptions :func:`translate` knows (API and credential errors)."""
    return isinstance(error, gexc.GoogleAPIError | auth_exc.GoogleAuthError)


def calling(what: str, call: Callable[[], T], fixes: Mapping[str, str] | None = None) -> T:
    """``call()`` with every client error translated (``raise ... from``)."""
    try:
        return call()
    except (gexc.GoogleAPIError, auth_exc.GoogleAuthError) as e:
        raise translate(e, what, fixes) from e


def _dataproc() -> Any:
    try:
        return importlib.import_module("google.cloud.dataproc_v1")
    except ModuleNotFoundError as e:
        raise MissingExtraError("google-cloud-dataproc", "gcp") from e  # noqa: EM101


def dataproc_batches(endpoint: str | None) -> Any:
    """A Dataproc ``BatchControllerClient`` (its ``cancel_operation`` reaches the operations)."""
    dataproc = _dataproc()
    transports = importlib.import_module(
        "google.cloud.dataproc_v1.services.batch_controller.transports"
    )
    return grpc_client(
        dataproc.BatchControllerClient, transports.BatchControllerGrpcTransport, endpoint
    )


def dataproc_batch(data: Mapping[str, Any]) -> Any:
    """A Dataproc v1 ``Batch`` from its JSON form (camelCase keys); ValueError if it is not one."""
    # protobuf ships no type information; it comes with every Google client.
    json_format = importlib.import_module("google.protobuf.json_format")
    batch_type = _dataproc().Batch
    try:
        message = json_format.ParseDict(dict(data), batch_type.pb()())
    except json_format.ParseError as e:
        raise ValueError(str(e)) from e
    return batch_type.wrap(message)
