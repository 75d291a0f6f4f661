"""Shared fixtures: where the real services of this run are.

The real services are those of the local stack (``streamkit local up``),
found through the same settings the app uses. A test that needs one fails,
never skips, when it is not reachable: CI starts the services, so a missing
one is a failure to see.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest


def require_tcp(url: str, what: str) -> None:
    """Fail the test, naming the fix, when nothing listens at ``url``'s host:port."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 0
    try:
        with socket.create_connection((host, port), timeout=3):
            return
    except OSError as e:
        pytest.fail(
            f"{what} is not reachable at {host}:{port} ({e}); start it with "
            "`streamkit local up` (or run the suite with `task test`, which does)",
            pytrace=False,
        )
