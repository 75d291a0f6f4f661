"""The cloud emulators of the local stack (``streamkit local up --emulators``).

The AWS and GCP bindings are tested offline against these, started like
Kafka and FerretDB (native processes, pid files, real readiness checks):

* **moto's server** answers the S3 and Kinesis APIs on one port;
* **gcp-storage-emulator** answers the GCS JSON API;
* **pstest**, Google's Pub/Sub fake, answers the Pub/Sub gRPC API.

All keep their data in memory, so a restart empties them: they are for
tests and rehearsals, not for keeping an archive. (The GCS emulator's on-disk
mode cannot hold the directory marker objects pyarrow writes.)

moto and the GCS emulator are Python packages of the ``emulators`` extra, run
with this interpreter; pstest is a Go package, built like FerretDB with
``go build`` of the wrapper in ``infra/local/pubsub`` from the Go module proxy.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
import urllib.request
from abc import abstractmethod
from urllib.error import URLError

from adapters.errors import StreamkitError
from adapters.registry import open_bus
from app.localstack.paths import INFRA_LOCAL, StackPaths
from app.localstack.service import NativeService
from app.localstack.tools import LocalStackError, Progress, require, run_build
from app.settings import Settings

_PSTEST_SOURCES = ("go.mod", "go.sum", "main.go")


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


class _PythonEmulator(NativeService):
    """An emulator that is a Python package, run as ``python -m <module>`` on 127.0.0.1.

    It keeps its state in memory; its data dir is only the working directory.
    """

    module: str  # what ``python -m`` runs
    package: str  # the PyPI name, for the error when it is missing

    def __init__(self, paths: StackPaths, port: int) -> None:
        super().__init__(paths, "127.0.0.1", port)

    @property
    def endpoint(self) -> str:
        """The endpoint URL clients take (scheme included)."""
        return f"http://{self.address}"

    def prepare(self, progress: Progress) -> None:
        """Nothing to build: check that the package is installed."""
        _require_module(self.module, self.package)

    def command(self) -> list[str]:
        """``python -m <module>`` with the emulator's own arguments."""
        return [sys.executable, "-m", self.module, *self.arguments()]

    @abstractmethod
    def arguments(self) -> list[str]:
        """The command-line arguments after the module name."""

    def before_start(self, progress: Progress) -> None:
        """Create the working directory."""
        self.data_dir.mkdir(parents=True, exist_ok=True)


class MotoService(_PythonEmulator):
    """moto's server: S3 and Kinesis on one port."""

    name = "moto"
    module = "moto.server"
    package = "moto[server]"

    def __init__(self, settings: Settings, paths: StackPaths) -> None:
        super().__init__(paths, settings.local.moto_port)

    def arguments(self) -> list[str]:
        """Bound to 127.0.0.1 (moto's default is every interface)."""
        return ["-H", self.host, "-p", str(self.port)]

    def check(self, timeout_s: float) -> str:
        """S3's ListBuckets answers (moto checks no signature)."""
        body = _get(f"{self.endpoint}/", timeout_s)
        if b"ListAllMyBucketsResult" not in body:
            msg = f"{self.endpoint} answered, but not as S3: {body[:80]!r}"
            raise LocalStackError(msg)
        return "S3 and Kinesis"


class GcsService(_PythonEmulator):
    """gcp-storage-emulator: the GCS JSON API."""

    name = "gcs"
    module = "gcp_storage_emulator"
    package = "gcp-storage-emulator"

    def __init__(self, settings: Settings, paths: StackPaths) -> None:
        super().__init__(paths, settings.local.gcs_port)

    def arguments(self) -> list[str]:
        """On 127.0.0.1, in memory, quiet."""
        return ["start", "--host", self.host, "--port", str(self.port), "--in-memory", "--quiet"]

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


class PubSubService(NativeService):
    """pstest, Google's Pub/Sub fake (``cloud.google.com/go/pubsub/v2/pstest``), over plain gRPC.

    Built once from ``infra/local/pubsub`` (the binary's name carries a hash of
    the wrapper's sources, so an edit rebuilds it); readiness is a topic
    listing through the Pub/Sub bus binding, a real gRPC call.
    """

    name = "pubsub"

    def __init__(self, settings: Settings, paths: StackPaths) -> None:
        super().__init__(paths, "127.0.0.1", settings.local.pubsub_port)

    @property
    def binary(self) -> str:
        """The cached pstest build for the current wrapper sources."""
        src = INFRA_LOCAL / "pubsub"
        digest = hashlib.sha256(b"".join((src / f).read_bytes() for f in _PSTEST_SOURCES))
        return str(self.paths.bin / f"pstest-{digest.hexdigest()[:12]}")

    def prepare(self, progress: Progress) -> None:
        """Check the client library; build pstest once (about half a minute)."""
        if importlib.util.find_spec("google.cloud.pubsub_v1") is None:
            msg = (
                "google-cloud-pubsub is not installed (the Pub/Sub emulator's readiness check "
                "uses it); install it with `pip install -e '.[gcp]'` (./infra/local/taskw does)"
            )
            raise LocalStackError(msg)
        if shutil.which(self.binary):
            return
        go = require("go", "install Go 1.26+ (https://go.dev/doc/install)")
        progress("pubsub: building pstest from the Go module proxy (first run only, ~1 min)")
        self.paths.bin.mkdir(parents=True, exist_ok=True)
        partial = self.binary + ".partial"
        run_build(
            [go, "build", "-trimpath", "-o", partial, "."],
            cwd=INFRA_LOCAL / "pubsub",
            what="building pstest",
            fix=(
                "the Go module proxy must be reachable (GOPROXY), and Go must be 1.26+ or allowed "
                "to fetch that toolchain (GOTOOLCHAIN=auto): cloud.google.com/go/pubsub/v2 v2.9.0 "
                "needs it."
            ),
        )
        shutil.move(partial, self.binary)

    def command(self) -> list[str]:
        """The pstest wrapper, bound to 127.0.0.1 on our port."""
        return [self.binary, "-host", self.host, "-port", str(self.port)]

    def before_start(self, progress: Progress) -> None:
        """Create the working directory (pstest keeps everything in memory)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def check(self, timeout_s: float) -> str:
        """A topic listing over gRPC through the bus binding."""
        bus = open_bus(f"pubsub://streamkit/readiness?endpoint={self.address}")
        try:
            bus.ping(timeout_s)
            return "Pub/Sub gRPC API"
        except StreamkitError as e:
            msg = f"{self.address} did not answer as Pub/Sub: {e}"
            raise LocalStackError(msg) from e
        finally:
            bus.close()
