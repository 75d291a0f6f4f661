"""Headers for buses whose records have none (Kinesis).

Kafka and Pub/Sub carry headers (attributes) next to the payload; a Kinesis
record is one blob. A record published with headers is stored as an
envelope: a marker no JSON text can start with, the headers, then the value.
A record without headers is stored as it is, so other consumers of the
stream see the plain event; a value that happens to start with the marker is
enveloped anyway, so reading back is never ambiguous.

Layout: ``MAGIC`` · 4-byte big-endian length ``n`` · ``n`` bytes of JSON
``[[name, base64(value)], ...]`` · the value.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import orjson

from adapters.errors import TerminalError

#: A NUL byte cannot begin a JSON document or any UTF-8 text a producer sends.
MAGIC = b"\x00SKE1"
_LENGTH = 4


def wrap(value: bytes, headers: Mapping[str, bytes] | None) -> bytes:
    """``value`` ready to store: itself, or an envelope when it has headers (or looks like one)."""
    if not headers and not value.startswith(MAGIC):
        return value
    pairs = [[name, base64.b64encode(data).decode()] for name, data in (headers or {}).items()]
    block = orjson.dumps(pairs)
    return MAGIC + len(block).to_bytes(_LENGTH, "big") + block + value


def unwrap(data: bytes) -> tuple[bytes, tuple[tuple[str, bytes], ...]]:
    """The value and headers stored in ``data`` (no headers when it is not an envelope).

    Raises:
        TerminalError: ``data`` starts like an envelope but is cut short or garbled.
    """
    if not data.startswith(MAGIC):
        return data, ()
    start = len(MAGIC) + _LENGTH
    size = int.from_bytes(data[len(MAGIC) : start], "big")
    if len(data) < start + size:
        msg = f"a truncated header envelope ({len(data)} bytes, header block of {size})"
        raise TerminalError(msg)
    try:
        pairs = orjson.loads(data[start : start + size])
        headers = tuple((str(name), base64.b64decode(text)) for name, text in pairs)
    except (orjson.JSONDecodeError, ValueError, TypeError) as e:
        msg = f"a garbled header envelope: {e}"
        raise TerminalError(msg) from e
    return data[start + size :], headers
