"""A MongoDB-wire server that only speaks TLS, as DocumentDB and Atlas do.

The local stack's FerretDB binary, started on free ports with a TLS listener
whose certificate a throw-away CA signed (``app.localstack.certs``). Clients
reach it with the options of a cloud connection string: ``tls=true``,
``tlsCAFile=<ca.pem>``, ``retryWrites=false`` (DocumentDB's requirement).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.localstack.certs import make_local_certificates
from app.localstack.mongo import MongoService
from app.localstack.paths import StackPaths
from app.localstack.processes import spawn, stop, wait_until
from app.serve import free_port
from app.settings import Settings


@contextmanager
def tls_mongo(root: Path) -> Iterator[str]:
    """Start it under ``root``; yields the connection string, stops it after."""
    # The stack's own FerretDB service on free ports, plus a TLS listener.
    settings = Settings(
        state_dir=root / "state",
        hot_store_url=f"mongodb://127.0.0.1:{free_port()}/streamkit",
        local={"mongo_server": "ferretdb"},
    )
    paths = StackPaths.of(settings)
    server = MongoService(settings, paths)
    server.prepare(print)  # the stack's build, shared through the cache
    server.before_start(print)
    certs = make_local_certificates(root / "tls")
    port = free_port()
    command = [*server.command(), "-listen-tls", f"127.0.0.1:{port}"]
    command += ["-listen-tls-cert-file", str(certs.cert_file)]
    command += ["-listen-tls-key-file", str(certs.key_file)]
    log = paths.log_file(server.name)
    record = spawn(command, pid_file=paths.pid_file(server.name), log_file=log)
    try:
        _wait_for_tls(port, certs.ca_file, log)
        yield (
            f"mongodb://127.0.0.1:{port}/streamkit?tls=true&tlsCAFile={certs.ca_file}"
            "&retryWrites=false&serverSelectionTimeoutMS=5000"
        )
    finally:
        stop(record)


def _wait_for_tls(port: int, ca_file: Path, log: Path, timeout_s: float = 30.0) -> None:
    """Until a TLS handshake that trusts only our CA succeeds."""
    context = ssl.create_default_context(cafile=str(ca_file))

    def handshake() -> bool:
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=2) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1"),
            ):
                return True
        except OSError:
            return False

    if not wait_until(handshake, timeout_s, 0.2):
        msg = f"FerretDB's TLS listener did not come up within {timeout_s:.0f} s; see {log}"
        raise RuntimeError(msg)
