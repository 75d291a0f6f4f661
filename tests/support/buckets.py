"""Archive URLs on a fresh bucket of the local cloud emulators (moto's S3, the GCS emulator)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import pytest

from adapters.filesystems import open_filesystem
from app.rehearse.sides import delete_emulator_gcs_bucket
from tests.conftest import GCS_ENDPOINT, MOTO_ENDPOINT, require_tcp
from tests.support.moto import use_moto_credentials


def emulator_archive_url(cloud: Literal["s3", "gcs"], bucket: str, prefix: str = "archive") -> str:
    """The archive URL of ``bucket/prefix`` on the local emulator of ``cloud``."""
    if cloud == "s3":
        query = f"endpoint_override={MOTO_ENDPOINT}&scheme=http&region=us-east-1"
        return f"s3://{bucket}/{prefix}?{query}"
    query = f"endpoint_override={GCS_ENDPOINT}&scheme=http&anonymous=true&project_id=streamkit"
    return f"gs://{bucket}/{prefix}?{query}"


@contextmanager
def bucket_archive(cloud: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new bucket on the emulator of ``cloud``, its archive URL, and the bucket deleted after."""
    assert cloud in ("s3", "gcs")
    if cloud == "s3":
        use_moto_credentials(monkeypatch)
    else:
        require_tcp(f"http://{GCS_ENDPOINT}", "the GCS emulator (`streamkit local up --emulators`)")
    bucket = f"contract-{uuid.uuid4().hex[:16]}"
    url = emulator_archive_url(cloud, bucket)  # type: ignore[arg-type]
    # The archive expects its bucket to exist (Pulumi makes it); the fixture's
    # own handle may create and delete buckets (an S3 option, always so on GCS).
    admin = "&allow_bucket_creation=true&allow_bucket_deletion=true" if cloud == "s3" else ""
    filesystem, _ = open_filesystem(url + admin)
    filesystem.create_dir(bucket)
    try:
        yield url
    finally:
        if cloud == "s3":
            filesystem.delete_dir(bucket)
        else:
            delete_emulator_gcs_bucket(GCS_ENDPOINT, bucket)
