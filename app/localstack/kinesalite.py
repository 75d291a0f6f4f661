"""kinesalite: the local stack's second Kinesis, the one that reshards like Kinesis.

moto's Kinesis is enough for the bus contract, but its reshards are not
Kinesis's: after a split it keeps writing to the closed parent, and a merge
copies the parents' records. kinesalite (a Node.js implementation of the
Kinesis API, in memory) keeps a closed shard's records in place, routes new
records to the children and ends a drained parent's iterator, so the
binding's parents-before-children reading is tested against that.

Installed from the npm registry into the cache on first use, at the versions
pinned by ``infra/local/kinesalite/package-lock.json``.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from urllib.error import URLError

from app.localstack.paths import INFRA_LOCAL, StackPaths
from app.localstack.service import NativeService
from app.localstack.tools import LocalStackError, Progress, require, run_build
from app.settings import Settings

VERSION = "3.3.3"
_PIN_DIR = INFRA_LOCAL / "kinesalite"


class KinesaliteService(NativeService):
    """kinesalite on 127.0.0.1, in memory, streams ready without the usual creation delay."""

    name = "kinesalite"

    def __init__(self, settings: Settings, paths: StackPaths) -> None:
        super().__init__(paths, "127.0.0.1", settings.local.kinesalite_port)

    @property
    def endpoint(self) -> str:
        """The endpoint URL clients take."""
        return f"http://{self.address}"

    @property
    def install_dir(self) -> Path:
        """Where ``npm ci`` puts kinesalite (kept across ``down --purge``)."""
        return self.paths.cache / f"kinesalite-{VERSION}"

    @property
    def cli(self) -> Path:
        """The installed command-line entry point of kinesalite: there once an install finished."""
        return self.install_dir / "node_modules" / "kinesalite" / "cli.js"

    def prepare(self, progress: Progress) -> None:
        """``npm ci`` the pinned packages once (a few seconds)."""
        if self.cli.is_file():
            return
        npm = require("npm", "install Node.js 18+ with npm (Debian: apt-get install nodejs npm)")
        progress(f"kinesalite: installing {VERSION} from the npm registry (first run only)")
        partial = self.install_dir.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for pin in ("package.json", "package-lock.json"):
            shutil.copy2(_PIN_DIR / pin, partial / pin)
        run_build(
            # No install scripts: the optional native LevelDB is not needed in memory.
            [npm, "ci", "--ignore-scripts", "--omit=dev", "--no-audit", "--no-fund"],
            cwd=partial,
            what="installing kinesalite",
            fix="the npm registry must be reachable; see README troubleshooting.",
        )
        shutil.rmtree(self.install_dir, ignore_errors=True)
        partial.rename(self.install_dir)

    def before_start(self, progress: Progress) -> None:
        """Create the working directory (kinesalite keeps its data in memory)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        """Node running kinesalite; reshards and stream creation take 50 ms, not seconds."""
        node = require("node", "install Node.js 18+ (Debian: apt-get install nodejs)")
        delays = ["--createStreamMs", "50", "--deleteStreamMs", "50", "--updateStreamMs", "50"]
        # Through our own entry point: kinesalite's cli.js ignores --host and listens on
        # every interface.
        modules = str(self.install_dir / "node_modules")
        listen = ["--host", self.host, "--port", str(self.port)]
        return [node, str(_PIN_DIR / "serve.js"), modules, *listen, *delays]

    def check(self, timeout_s: float) -> str:
        """Kinesis's ListStreams answers."""
        request = urllib.request.Request(  # noqa: S310 - our own http URL
            self.endpoint,
            data=b"{}",
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "Kinesis_20131202.ListStreams",
                # kinesalite wants a signed-looking request; it checks no signature.
                "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/kinesis/"
                "aws4_request, SignedHeaders=host, Signature=0",
                "X-Amz-Date": "20260101T000000Z",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
                body = json.loads(response.read())
        except (URLError, OSError, ValueError) as e:
            msg = f"no Kinesis answer from {self.endpoint}: {e}"
            raise LocalStackError(msg) from e
        if "StreamNames" not in body:
            msg = f"{self.endpoint} answered, but not as Kinesis: {str(body)[:80]}"
            raise LocalStackError(msg)
        return "Kinesis (faithful reshards)"
