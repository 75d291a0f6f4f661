"""The MongoDB-wire server: a real ``mongod`` when one is on PATH, else FerretDB.

No genuine ``mongod`` comes from the package registries this kit installs
from, so the default is FerretDB v1.24.2 with its SQLite backend, built with
``go build`` from the wrapper module in ``infra/local/ferretdb``. The binary
is cached under a name carrying a hash of the wrapper's sources, so an edit
rebuilds it and nothing else does.
"""

from __future__ import annotations

import hashlib
import shutil

from adapters.registry import open_hot_store
from app.localstack.kafka import local_address
from app.localstack.paths import INFRA_LOCAL, StackPaths
from app.localstack.service import NativeService
from app.localstack.tools import Progress, require, run_build
from app.settings import Settings

_FERRETDB_SOURCES = ("go.mod", "go.sum", "main.go")


class MongoService(NativeService):
    """FerretDB (SQLite) or mongod, with a ``ping`` as readiness."""

    name = "mongo"

    def __init__(self, settings: Settings, paths: StackPaths) -> None:
        url = settings.hot_store_url.get_secret_value()
        host, port = local_address(url, "STREAMKIT_HOT_STORE_URL", 27017)
        super().__init__(paths, host, port)
        self.server = self._choose(settings.local.mongo_server)

    @staticmethod
    def _choose(wanted: str) -> str:
        if wanted == "auto":
            return "mongod" if shutil.which("mongod") else "ferretdb"
        if wanted == "mongod":
            require("mongod", "install MongoDB, or set STREAMKIT_LOCAL__MONGO_SERVER=ferretdb")
        return wanted

    @property
    def ferretdb_binary(self) -> str:
        """The cached FerretDB build for the current wrapper sources."""
        src = INFRA_LOCAL / "ferretdb"
        digest = hashlib.sha256(b"".join((src / f).read_bytes() for f in _FERRETDB_SOURCES))
        return str(self.paths.bin / f"ferretdb-sqlite-{digest.hexdigest()[:12]}")

    def prepare(self, progress: Progress) -> None:
        """Build FerretDB once (about two minutes on two cores), unless mongod is used."""
        if self.server == "mongod":
            return
        binary = self.ferretdb_binary
        if shutil.which(binary):
            return
        go = require("go", "install Go 1.24+ (https://go.dev/doc/install or Debian's golang-go)")
        progress(
            "mongo: building FerretDB v1.24.2 from the Go module proxy (first run only, ~2 min)"
        )
        self.paths.bin.mkdir(parents=True, exist_ok=True)
        partial = binary + ".partial"
        run_build(
            [go, "build", "-trimpath", "-o", partial, "."],
            cwd=INFRA_LOCAL / "ferretdb",
            what="building FerretDB",
            fix="the Go module proxy must be reachable (GOPROXY); see README troubleshooting.",
        )
        shutil.move(partial, binary)

    def command(self) -> list[str]:
        """FerretDB on SQLite, or mongod, bound to 127.0.0.1."""
        if self.server == "mongod":
            return [
                require("mongod", "install MongoDB"),
                "--dbpath",
                str(self.data_dir / "db"),
                "--bind_ip",
                self.host,
                "--port",
                str(self.port),
            ]
        return [
            self.ferretdb_binary,
            "-listen-addr",
            self.address,
            "-data-dir",
            str(self.data_dir / "sqlite"),
        ]

    def before_start(self, progress: Progress) -> None:
        """Create the data directory."""
        (self.data_dir / ("db" if self.server == "mongod" else "sqlite")).mkdir(
            parents=True, exist_ok=True
        )

    def check(self, timeout_s: float) -> str:
        """A ``ping`` through the hot-store port."""
        store = open_hot_store(f"mongodb://{self.address}/?serverSelectionTimeoutMS=2000")
        try:
            return f"{self.server}, ping {1000 * store.ping(timeout_s):.0f} ms"
        finally:
            store.close()
