"""A real gRPC server on a free port of 127.0.0.1, for stand-ins of Google APIs with no emulator."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc


@contextmanager
def serving(handlers: Iterable[Any], workers: int = 8) -> Iterator[str]:
    """Serve ``handlers`` (generic RPC handlers) until the block ends; yields ``host:port``."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    server.add_generic_rpc_handlers(tuple(handlers))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)
