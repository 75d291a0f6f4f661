"""The cloud emulators of the local stack (``streamkit local up --emulators``).

The AWS and GCP bindings are tested offline against these, started like
Kafka and FerretDB (native processes, pid files, real readiness checks):

* **moto's server** answers the S3 and Kinesis APIs on one port;
* **gcp-storage-emulator** answers the GCS JSON API.

Both keep their data in memory, so a restart empties them: they are for
tests and rehearsals, not for keeping an archive. (The GCS emulator's on-disk
mode cannot hold the directory marker objects pyarrow writes.)

Both are Python packages of the ``emulators`` extra, run with this interpreter.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import urllib.request
from urllib.error import URLError

from app.localstack.paths import StackPaths
from app.localstack.service import NativeService
from app.localstack.tools import LocalStackError, Progress
from app.settings import Settings


def _require_module(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        msg = (
            f"{package} is not installed; install the emulators with "
            "`pip install -e '.[emulators]'` (./infra/local/taskw does)"
        )
        raise LocalStackError(msg)


def _get(url: str, timeout_s: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - our own http URL
            body: bytes = response.read()
            return body
    except (URLError, OSError) as e:
        msg = f"no answer from {url}: {e}"
        raise LocalStackError(msg) from e


class MotoService(NativeService):
    """moto's server: S3 and Kinesis on one port."""

    name = "moto"

    def __init__(self, settings: Settings, paths: StackPaths) -> None:
        super().__init__(paths, "127.0.0.1", settings.local.moto_port)

    @property
    def endpoint(self) -> str:
        """The endpoint URL the AWS SDKs take."""
        return f"http://{self.address}"

    def prepare(self, progress: Progress) -> None:
        """Nothing to build: a Python package."""
        _require_module("moto.server", "moto[server]")

    def command(self) -> list[str]:
        """``moto.server`` bound to 127.0.0.1 (its default is every interface)."""
        return [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)]

    def before_start(self, progress: Progress) -> None:
        """The data dir is only the working directory: moto keeps its state in memory."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def check(self, timeout_s: float) -> str:
        """S3's ListBuckets answers (moto checks no signature)."""
        body = _get(f"{self.endpoint}/", timeout_s)
        if b"ListAllMyBucketsResult" not in body:
            msg = f"{self.endpoint} answered, but not as S3: {body[:80]!r}"
            raise LocalStackError(msg)
        return "S3 and Kinesis"


class GcsService(NativeService):
    """gcp-storage-emulator: the GCS JSON API."""

    name = "gcs"

    def __init__(self, settings: Settings, paths: StackPaths) -> None:
        super().__init__(paths, "127.0.0.1", settings.local.gcs_port)

    @property
    def endpoint(self) -> str:
        """What ``STORAGE_EMULATOR_HOST`` takes (scheme included)."""
        return f"http://{self.address}"

    def prepare(self, progress: Progress) -> None:
        """Nothing to build: a Python package."""
        _require_module("gcp_storage_emulator", "gcp-storage-emulator")

    def command(self) -> list[str]:
        """The emulator on 127.0.0.1, in memory."""
        return [
            sys.executable,
            "-m",
            "gcp_storage_emulator",
            "start",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--in-memory",
            "--quiet",
        ]

    def before_start(self, progress: Progress) -> None:
        """The data dir is only the working directory."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def check(self, timeout_s: float) -> str:
        """The bucket listing of the JSON API answers."""
        body = _get(f"{self.endpoint}/storage/v1/b?project=streamkit", timeout_s)
        try:
            kind = json.loads(body).get("kind")
        except ValueError:
            kind = None
        if kind != "storage#buckets":
            msg = f"{self.endpoint} answered, but not as GCS: {body[:80]!r}"
            raise LocalStackError(msg)
        return "GCS JSON API"
