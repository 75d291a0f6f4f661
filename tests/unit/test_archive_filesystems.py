"""Archive URLs: which filesystem each names, and the ones refused before any I/O."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyarrow import fs

from adapters.errors import ConfigurationError
from adapters.filesystems import open_filesystem
from adapters.registry import binding_class


def test_plain_paths_and_file_urls_are_the_local_disk(tmp_path: Path) -> None:
    local, root = open_filesystem(str(tmp_path / "a"))
    assert isinstance(local, fs.LocalFileSystem) and root == str(tmp_path / "a")
    _, root = open_filesystem((tmp_path / "b").as_uri())
    assert root == str(tmp_path / "b")


def test_s3_and_gcs_urls_take_endpoint_overrides() -> None:
    s3, root = open_filesystem("s3://lake/events?endpoint_override=127.0.0.1:1&scheme=http")
    assert isinstance(s3, fs.S3FileSystem) and root == "lake/events"
    query = "endpoint_override=127.0.0.1:1&scheme=http&anonymous=true&project_id=p"
    gcs, root = open_filesystem(f"gs://lake/events/?{query}")
    assert isinstance(gcs, fs.GcsFileSystem) and root == "lake/events"


@pytest.mark.parametrize(
    "url",
    [
        "s3://AKIA123:secret@lake/events",
        "s3://lake/events?access_key=AKIA123&secret_key=secret",
        "gs://lake/events?access_token=ya29",
    ],
)
def test_credentials_in_the_url_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ConfigurationError, match="default chain") as refused:
        open_filesystem(url)
    assert "secret" not in str(refused.value) and "AKIA" not in str(refused.value)
    assert "ya29" not in str(refused.value)


def test_bad_gcs_urls_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="unknown parameter"):
        open_filesystem("gs://lake/events?endpoint=127.0.0.1:1")
    with pytest.raises(ConfigurationError, match="needs a bucket"):
        open_filesystem("gs:///events")
    with pytest.raises(ConfigurationError, match="s3://lake"):
        open_filesystem("s3://lake/events?no_such_option=1")


@pytest.mark.parametrize("scheme", ["s3", "gs", "gcs", "file"])
def test_each_object_store_scheme_is_the_parquet_archive(scheme: str) -> None:
    assert binding_class("archive", f"{scheme}://bucket/prefix").__name__ == "ParquetArchive"
