"""A local EventStreams stand-in: real recorded RecentChange events over SSE on 127.0.0.1.

Two ways to serve:

* ``recorded(path)``: the ndjson/jsonl samples of ``../shared/data``. Those
  files hold payloads only, so the SSE framing (``event:``/``id:``/``data:``)
  is CONSTRUCTED around the real payloads, as ``SOURCES.md`` asks us to say.
  Each ``id:`` is built like EventStreams' own, a JSON list of Kafka
  coordinates, from the event's ``meta.topic``/``meta.partition``/
  ``meta.offset`` (unique and increasing in every sample file).
* ``raw=``: bytes served verbatim, e.g. the original framing of
  ``wikimedia_recentchange_sse_3events_wiki_visualizer.events``.

The server resumes after ``Last-Event-ID`` like EventStreams, answers 204
(the SSE "stop reconnecting") when nothing is left, can fail the first
requests with given statuses, and can drop stream connection ``k`` after
``drop_after[k]`` events, mid-way through the next event's bytes.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CURRENT = DATA / "wikimedia_recentchange_enwiki_100_polars-book.ndjson"
WIKIDATA_2018 = DATA / "wikimedia_recentchange_wikidata_2018_3818_editgroups.jsonl"
WIKIDATA_2018_REVERTS = DATA / "wikimedia_recentchange_wikidata_2018_1789_editgroups_reverts.jsonl"
SSE_3_EVENTS = DATA / "wikimedia_recentchange_sse_3events_wiki_visualizer.events"


@dataclass(frozen=True)
class Recorded:
    """One event to serve: its SSE id and its one-line payload."""

    id: str
    data: bytes

    def frame(self) -> bytes:
        return b"event: message\nid: " + self.id.encode() + b"\ndata: " + self.data + b"\n\n"


def recorded(path: Path) -> list[Recorded]:
    """The payload lines of ``path``, each framed with an EventStreams-style id."""
    events = []
    for n, line in enumerate(path.read_bytes().splitlines()):
        if line.strip():
            events.append(Recorded(_kafka_id(line) or f"line-{n}", line))
    return events


def _kafka_id(line: bytes) -> str | None:
    try:
        meta = json.loads(line)["meta"]
        coords = {k: meta[k] for k in ("topic", "partition", "offset")}
    except (ValueError, KeyError, TypeError):
        return None
    return json.dumps([coords], separators=(",", ":"))


class SseServer:
    """A threaded HTTP server on 127.0.0.1:<free port>; use as a context manager."""

    def __init__(
        self,
        events: Sequence[Recorded] = (),
        *,
        raw: bytes | None = None,
        drop_after: Sequence[int] = (),
        statuses: Sequence[int] = (),
        retry_ms: int | None = 20,
        chunked: bool = False,
    ) -> None:
        self.events = list(events)
        self.raw = raw
        self.drop_after = list(drop_after)
        self.statuses = list(statuses)
        self.retry_ms = retry_ms
        self.chunked = chunked
        # Every request in order: its headers, plus its path+query under ":path".
        self.requests: list[dict[str, str]] = []
        self.unknown_ids: list[str] = []
        self._streams = 0
        self._lock = threading.Lock()
        self._after = {e.id: i + 1 for i, e in enumerate(self.events)}  # last occurrence wins
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v2/stream/recentchange"

    def __enter__(self) -> SseServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def plan(self, headers: dict[str, str]) -> tuple[int, int, int | None]:
        """(status, first index to serve, events before a drop) for one request."""
        with self._lock:
            self.requests.append(headers)
            if len(self.requests) <= len(self.statuses):
                return self.statuses[len(self.requests) - 1], 0, None
            last = next((v for k, v in headers.items() if k.lower() == "last-event-id"), "")
            if self.raw is not None:
                # The recording's three events share one id: it cannot be
                # positioned, so a resume has nothing more to offer.
                return (204 if last else 200), 0, None
            start = self._after.get(last, 0) if last else 0
            if last and last not in self._after:
                self.unknown_ids.append(last)
            if start >= len(self.events):
                return 204, start, None
            drop = self.drop_after[self._streams] if self._streams < len(self.drop_after) else None
            self._streams += 1
            return 200, start, drop


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass  # keep pytest output clean

    def do_GET(self) -> None:
        try:
            self._serve()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up (e.g. --max-events reached): nothing to clean

    def _serve(self) -> None:
        owner: SseServer = self.server.owner
        status, start, drop = owner.plan({":path": self.path, **dict(self.headers.items())})
        self.protocol_version = "HTTP/1.1" if owner.chunked else "HTTP/1.0"
        self.send_response(status)
        if status != 200:
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        if owner.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if owner.raw is not None:
            self._write(owner.raw)
            return self._end()
        head = b": streamkit test server\n"
        if owner.retry_ms is not None:
            head += f"retry: {owner.retry_ms}\n".encode()
        self._write(head)
        for n, event in enumerate(owner.events[start:]):
            frame = event.frame()
            if drop is not None and n == drop:
                self._write(frame[: len(frame) // 2])  # cut inside the data line
                return self._drop()
            self._write(frame)
        self._end()

    def _write(self, data: bytes) -> None:
        if self.server.owner.chunked:
            data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        self.wfile.write(data)
        self.wfile.flush()

    def _end(self) -> None:
        if self.server.owner.chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def _drop(self) -> None:
        # No terminating chunk: a chunked client sees a broken body, a
        # close-delimited one an early EOF; both must resume.
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True
