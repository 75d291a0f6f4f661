"""The pyarrow filesystem behind an archive URL: local disk, S3 or GCS.

* a plain path or ``file:///…``: the local disk (a relative path is made absolute);
* ``s3://bucket/prefix``: S3 through pyarrow's own client. Query parameters are
  pyarrow's (``region``, ``endpoint_override``, ``scheme``, …), which is how an
  emulator or another S3-compatible store is reached;
* ``gs://bucket/prefix`` (or ``gcs://``): Google Cloud Storage, with
  ``endpoint_override``, ``scheme``, ``project_id`` and ``anonymous=true`` for an
  emulator (pyarrow's own URL parser has no ``anonymous``, and without it an
  offline client waits on the metadata server for credentials).

Credentials only ever come from the SDKs' default chains (environment,
profiles, instance or workload identity): a URL carrying keys is refused, so a
secret never lands in a settings file or a log line.
"""

from __future__ import annotations

import os.path
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qsl, urlsplit

from adapters.errors import ConfigurationError
from adapters.urls import mask_url

if TYPE_CHECKING:
    from pyarrow import fs

#: Query parameters that would put a credential in the URL.
_SECRET_PARAMS = frozenset({"access_key", "secret_key", "session_token", "access_token"})
#: What a ``gs://`` URL may set (the keyword arguments of ``GcsFileSystem``).
_GCS_PARAMS = frozenset({"endpoint_override", "scheme", "project_id", "anonymous"})
_CHAINS = (
    "credentials come from the SDK's default chain: AWS_* variables, ~/.aws or the "
    "instance role for S3; GOOGLE_APPLICATION_CREDENTIALS or workload identity for GCS"
)


def open_filesystem(url: str) -> tuple[fs.FileSystem, str]:
    """The filesystem ``url`` names and the archive's root path on it."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if len(scheme) <= 1:  # a plain path (one letter is a Windows drive, not a scheme)
        return _from_uri(os.path.abspath(url))
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if parts.username or parts.password or _SECRET_PARAMS & params.keys():
        msg = f"archive URL {_without_secrets(url)!r} carries a credential; {_CHAINS}"
        raise ConfigurationError(msg)
    if scheme in ("gs", "gcs"):
        return _gcs(parts.netloc, parts.path, params)
    try:
        return _from_uri(url)
    except (ValueError, OSError) as e:  # pyarrow's ArrowInvalid is a ValueError
        msg = f"archive URL {mask_url(url)!r}: {e}"
        raise ConfigurationError(msg) from e


def _gcs(bucket: str, path: str, params: dict[str, str]) -> tuple[fs.FileSystem, str]:
    from pyarrow import fs

    if unknown := sorted(params.keys() - _GCS_PARAMS):
        msg = f"gs:// archive URL: unknown parameter(s) {unknown}; known: {sorted(_GCS_PARAMS)}"
        raise ConfigurationError(msg)
    if not bucket:
        msg = "gs:// archive URL needs a bucket: gs://BUCKET[/prefix]"
        raise ConfigurationError(msg)
    anonymous = params.pop("anonymous", "false").lower() in ("1", "true", "yes")
    filesystem = fs.GcsFileSystem(anonymous=anonymous, **params)
    return filesystem, f"{bucket}{path.rstrip('/')}"


def _from_uri(uri: str) -> tuple[fs.FileSystem, str]:
    from pyarrow import fs

    return cast("tuple[fs.FileSystem, str]", fs.FileSystem.from_uri(uri))


def _without_secrets(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{parts.path}"
