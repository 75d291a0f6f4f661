"""A Server-Sent Events client: a spec-exact parser and a resuming, backing-off reader.

The parser follows the WHATWG ``text/event-stream`` rules: lines end in CRLF,
LF or CR; ``:`` starts a comment; ``data:`` lines join with a line feed; one space
after the colon is dropped; a blank line dispatches; ``id:`` persists until
changed (and is ignored when it holds NUL); ``retry:`` takes digits only.

At end of stream the spec discards an event that has no closing blank line,
and so does this client, on purpose: a connection dropped mid-event leaves
exactly that shape, and its data may be a cut prefix. Because the resume id
only advances on dispatch, the reconnect (``Last-Event-ID``) asks the server
for that event again, whole. The discard is counted (``incomplete``) and
logged, never silent. (The recorded 3-event Wikimedia file ends this way: its
third event is discarded when the file is served verbatim.)
"""

from __future__ import annotations

import codecs
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata

import httpx

from adapters.errors import ConfigurationError, TerminalError, TransientError
from adapters.urls import mask_url

log = logging.getLogger(__name__)

_EOL = re.compile(r"\r\n|\r|\n")
#: A line longer than this is a broken or hostile stream, not a RecentChange.
MAX_LINE_CHARS = 8 * 1024 * 1024


def _version() -> str:
    try:
        return metadata.version("streamkit")
    except metadata.PackageNotFoundError:
        return "dev"


#: Wikimedia's User-Agent policy asks for a name, a version and a contact.
USER_AGENT = (
    f"streamkit-live/{_version()} (https://streamkit.dev; e-commerce analytics demo) "
    f"httpx/{httpx.__version__}"
)


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One dispatched event; ``id`` is the last event ID in force when it was dispatched."""

    data: str
    event: str = "message"
    id: str = ""


class SseFormatError(TransientError):
    """The stream broke the format (a line without end); reconnecting may help."""


class SseHttpError(TerminalError):
    """The server refused in a way that retrying will not change (4xx, not an event stream)."""


class SseUnavailableError(TransientError):
    """The server stayed unreachable or failing through every allowed retry."""


class SseParser:
    """Incremental ``text/event-stream`` parser: feed text, get the events it completes."""

    def __init__(self, last_event_id: str = "") -> None:
        self.last_event_id = last_event_id  # persists across events, as the spec says
        self.retry_ms: int | None = None
        self._tail = ""
        self._skip_lf = False  # the previous chunk ended in CR; a leading LF completes CRLF
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._id_buffer = last_event_id

    def feed(self, text: str) -> list[SseEvent]:
        """Consume ``text`` (any split of the stream) and return the events it dispatched."""
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._skip_lf and text:
            text = text.removeprefix("\n")
            self._skip_lf = False
        buffer, start, events = self._tail + text, 0, []
        for match in _EOL.finditer(buffer):
            event = self._line(buffer[start : match.start()])
            if event is not None:
                events.append(event)
            start = match.end()
            self._skip_lf = match.group() == "\r" and start == len(buffer)
        self._tail = buffer[start:]
        if len(self._tail) > MAX_LINE_CHARS:
            msg = f"an event-stream line exceeded {MAX_LINE_CHARS:,} characters"
            raise SseFormatError(msg)
        return events

    def close(self) -> bool:
        """End of stream: discard any unfinished event (spec); True when there was one."""
        pending = bool(self._data or self._tail or self._event)
        self._data, self._event, self._tail = [], "", ""
        return pending

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: EventStreams sends these as keep-alives
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id_buffer = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        self.last_event_id = self._id_buffer
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseEvent("\n".join(data), event or "message", self.last_event_id)


@dataclass
class ClientStats:
    """What the connection did, for progress lines and tests."""

    connects: int = 0  # responses that started an event stream
    retries: int = 0  # waits before reconnecting
    incomplete: int = 0  # unfinished events discarded at end of stream
    last_error: str = ""


class SseClient:
    """Reads an event stream forever, resuming with ``Last-Event-ID`` after every break.

    Guarantees: every event handed out was dispatched by the parser; after a
    break the request carries the id of the last event handed out, so a
    server that resumes after that id (EventStreams does) yields no gap and
    no repeat. Stops on HTTP 204 (the spec's "do not reconnect"). Raises
    ``SseHttpError`` on a 4xx other than 408/429 or a non-event-stream body,
    and ``SseUnavailableError`` after ``max_failures`` failed attempts in a row.
    """

    def __init__(
        self,
        url: str,
        *,
        last_event_id: str = "",
        params: Mapping[str, str] | None = None,
        user_agent: str = USER_AGENT,
        timeout: httpx.Timeout | None = None,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        max_failures: int | None = 10,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.last_event_id = last_event_id
        self.stats = ClientStats()
        self._params = dict(params or {})
        self._headers = {"Accept": "text/event-stream", "User-Agent": user_agent}
        self._timeout = timeout or httpx.Timeout(10.0, read=60.0)
        self._base = backoff_s
        self._cap = max_backoff_s
        self._max_failures = max_failures
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets

    def events(self) -> Iterator[SseEvent]:
        """Every event of the stream, across reconnects, until 204 or an error."""
        failures = 0
        with httpx.Client(timeout=self._timeout, follow_redirects=True) as http:
            while True:
                delivered, retry_after, why = 0, 0.0, "end of stream"
                try:
                    for event in self._connection(http):
                        delivered += 1
                        yield event
                except _NoMoreEvents:
                    return
                except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
                    msg = f"cannot stream from {mask_url(self.url)!r}: {e}"
                    raise ConfigurationError(msg) from e
                except (httpx.TransportError, SseFormatError) as e:
                    why = self.stats.last_error = f"{type(e).__name__}: {e}"
                except _RetryableStatus as e:
                    why = self.stats.last_error = str(e)
                    retry_after = e.retry_after
                # A stream that ended after events is routine (servers recycle
                # connections); one that yields nothing is a failure, else we spin.
                failures = 0 if delivered else failures + 1
                self._wait(failures, retry_after, why)

    def _connection(self, http: httpx.Client) -> Iterator[SseEvent]:
        headers = dict(self._headers)
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        # ``since`` only positions a fresh start; once resuming, the id rules.
        params = {} if self.last_event_id else self._params
        with http.stream("GET", self.url, headers=headers, params=params) as response:
            self._check(response)
            self.stats.connects += 1
            parser = SseParser(self.last_event_id)
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            try:
                for chunk in response.iter_bytes():
                    yield from self._hand_out(parser, parser.feed(decoder.decode(chunk)))
                yield from self._hand_out(parser, parser.feed(decoder.decode(b"", final=True)))
            except (httpx.TransportError, SseFormatError):
                self._discard(parser, "the connection broke")
                raise
            self._discard(parser, "the stream ended")

    def _discard(self, parser: SseParser, how: str) -> None:
        if parser.close():
            self.stats.incomplete += 1
            log.warning(
                "%s inside an event; discarded it, resuming after %r", how, self.last_event_id
            )

    def _hand_out(self, parser: SseParser, events: list[SseEvent]) -> Iterator[SseEvent]:
        if parser.retry_ms is not None:
            self._base = parser.retry_ms / 1000
        for event in events:
            self.last_event_id = event.id  # before yielding: the consumer owns it now
            yield event
        self.last_event_id = parser.last_event_id  # id-only blocks move it too

    def _check(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 204:
            raise _NoMoreEvents
        if status in (408, 429) or status >= 500:
            raise _RetryableStatus(status, response.headers.get("Retry-After"))
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if status != 200 or kind != "text/event-stream":
            body = response.read()[:200].decode("utf-8", errors="replace")
            where = mask_url(self.url)
            msg = f"{where} answered HTTP {status} ({kind or 'no content type'}): {body!r}"
            raise SseHttpError(msg)

    def _wait(self, failures: int, retry_after: float, why: str) -> None:
        if self._max_failures is not None and failures > self._max_failures:
            where, last = mask_url(self.url), self.stats.last_error
            msg = f"{where} failed {failures} times in a row; last error: {last}"
            raise SseUnavailableError(msg)
        delay = min(self._cap, self._base * 2 ** max(0, failures - 1))
        delay = delay / 2 + self._rng.uniform(0, delay / 2)  # jitter: no thundering herd
        delay = max(delay, min(retry_after, 300.0))
        self.stats.retries += 1
        log.info("reconnecting in %.2f s after %s", delay, why)
        self._sleep(delay)


class _NoMoreEvents(Exception):
    """HTTP 204: the server asks the client not to reconnect."""


class _RetryableStatus(Exception):
    def __init__(self, status: int, retry_after: str | None) -> None:
        super().__init__(f"HTTP {status}")
        self.retry_after = float(retry_after) if retry_after and retry_after.isdigit() else 0.0
