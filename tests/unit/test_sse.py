"""The SSE parser's edge cases, and the client and producer against a local recorded stream.

No network: the server is :mod:`tests.support.sse_server` on 127.0.0.1, and
the bus is the in-process ``memory://`` binding.
"""

from __future__ import annotations

import functools
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from adapters.bus import memory
from adapters.errors import ConfigurationError
from adapters.ports import Bus
from adapters.registry import open_bus
from app.events.rejects import DeadLetter, Reason
from app.live import sse
from app.live.mapping import map_change
from app.live.producer import LiveProducer, RecentIds
from app.live.sse import (
    SseClient,
    SseEvent,
    SseFormatError,
    SseHttpError,
    SseParser,
    SseUnavailableError,
)
from app.producers.sender import EventSender
from tests.support.sse_server import (
    CURRENT,
    SSE_3_EVENTS,
    WIKIDATA_2018,
    Recorded,
    SseServer,
    recorded,
)

# ------------------------------------------------------------------ the parser


def parse(*chunks: str) -> tuple[list[SseEvent], SseParser]:
    parser = SseParser()
    events = [e for chunk in chunks for e in parser.feed(chunk)]
    return events, parser


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_every_line_ending_dispatches_the_same(eol: str) -> None:
    text = f"event: message{eol}id: 7{eol}data: a{eol}data: b{eol}{eol}"
    events, _ = parse(text)
    assert events == [SseEvent("a\nb", "message", "7")]


def test_a_crlf_split_across_chunks_is_one_line_end() -> None:
    # A lone CR ends a line; the LF opening the next chunk must not count as a blank line.
    events, _ = parse("data: a\r", "\ndata: b\r", "\n\r\n")
    assert events == [SseEvent("a\nb")]


def test_any_split_of_the_recorded_file_parses_the_same() -> None:
    text = SSE_3_EVENTS.read_text() + "\n\n"
    whole, _ = parse(text)
    by_char, _ = parse(*text)
    assert whole == by_char
    assert len(whole) == 3


def test_comments_unknown_fields_and_the_one_optional_space() -> None:
    events, _ = parse(
        ": keep-alive\n:\nfoo: bar\nDATA: shouted\ndata:  two spaces\ndata\ndata:\n\n"
    )
    assert events == [SseEvent(" two spaces\n\n")]  # only the first space goes


def test_event_type_defaults_to_message_and_resets_after_dispatch() -> None:
    events, _ = parse("event: error\ndata: x\n\ndata: y\n\n")
    assert [e.event for e in events] == ["error", "message"]


def test_the_id_persists_resets_and_ignores_nul() -> None:
    events, parser = parse("id: 1\ndata: a\n\ndata: b\n\nid: 2\0\ndata: c\n\nid\ndata: d\n\n")
    assert [e.id for e in events] == ["1", "1", "1", ""]
    assert parser.last_event_id == ""


def test_an_id_only_block_moves_the_last_event_id_without_dispatching() -> None:
    events, parser = parse("id: 5\n\n")
    assert events == []
    assert parser.last_event_id == "5"


def test_retry_takes_digits_only() -> None:
    _, parser = parse("retry: 3000\n")
    assert parser.retry_ms == 3000
    _, parser = parse("retry: 3s\nretry: -1\n")
    assert parser.retry_ms is None


def test_a_leading_bom_is_dropped_once() -> None:
    events, _ = parse("\ufeffdata: a\n\n", "\ufeffdata: b\n\n")
    assert [e.data for e in events] == ["a"]  # a later BOM is part of a field name


def test_an_unfinished_event_is_discarded_at_end_of_stream() -> None:
    # The recorded file has no blank line after its third event (nor a final newline).
    events, parser = parse(SSE_3_EVENTS.read_text())
    assert len(events) == 2
    assert len({e.id for e in events}) == 1, "the recording reuses one id"
    assert json.loads(events[0].data)["meta"]["id"] == "da75cd5f-4dc4-4954-8a88-b5b6d4fec7e4"
    assert parser.close() is True
    assert parser.close() is False


def test_a_runaway_line_is_a_format_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "MAX_LINE_CHARS", 10)
    with pytest.raises(SseFormatError):
        parse("data: " + "x" * 20)


# ------------------------------------------------------------------ the client


def client(url: str, **kw: Any) -> SseClient:
    kw.setdefault("backoff_s", 0.01)
    return SseClient(url, **kw)


def last_event_ids(server: SseServer) -> list[str | None]:
    return [r.get("Last-Event-ID") for r in server.requests]


@pytest.mark.parametrize("chunked", [False, True], ids=["eof", "broken-chunked"])
def test_the_client_resumes_after_a_drop_without_duplicates_or_gaps(chunked: bool) -> None:
    events = recorded(CURRENT)
    with SseServer(events, drop_after=[37], chunked=chunked) as server:
        c = client(server.url)
        got = list(c.events())
    assert [e.id for e in got] == [e.id for e in events]
    assert [e.data.encode() for e in got] == [e.data for e in events]
    assert last_event_ids(server) == [None, events[36].id, events[-1].id]
    assert server.unknown_ids == []
    assert (c.stats.connects, c.stats.incomplete) == (2, 1)
    assert "streamkit" in server.requests[0]["User-Agent"]


def test_the_client_survives_several_drops_of_the_2018_stream() -> None:
    events = recorded(WIKIDATA_2018)
    with SseServer(events, drop_after=[1, 0, 1500, 2000]) as server:
        got = list(client(server.url).events())
    assert [e.id for e in got] == [e.id for e in events]


def test_the_original_recording_served_verbatim() -> None:
    with SseServer(raw=SSE_3_EVENTS.read_bytes()) as server:
        c = client(server.url)
        got = list(c.events())
    assert len(got) == 2  # the third event is never closed by a blank line
    assert c.stats.incomplete == 1
    assert last_event_ids(server)[1] == got[-1].id  # resumed, then told 204: stop


def test_since_is_sent_only_on_a_fresh_start() -> None:
    events = recorded(CURRENT)[:5]
    with SseServer(events, drop_after=[2]) as server:
        list(client(server.url, params={"since": "2023-07-29T07:51:39Z"}).events())
    assert "since=2023-07-29T07%3A51%3A39Z" in server.requests[0][":path"]
    assert "since" not in server.requests[1][":path"]


def test_429_and_5xx_back_off_exponentially_then_succeed() -> None:
    slept: list[float] = []
    events = recorded(CURRENT)[:3]
    with SseServer(events, statuses=[503, 429, 500], retry_ms=None) as server:
        got = list(client(server.url, backoff_s=1.0, sleep=slept.append).events())
    assert len(got) == 3
    assert len(slept) == 4  # three failures, then the end of the stream
    for n, delay in enumerate(slept[:3]):  # jittered within [d/2, d], d doubling
        assert 2**n / 2 <= delay <= 2**n
    assert 0.5 <= slept[3] <= 1.0  # a stream that delivered resets the backoff


def test_the_server_retry_field_sets_the_base_delay() -> None:
    slept: list[float] = []
    with SseServer(recorded(CURRENT)[:3], retry_ms=200) as server:
        list(client(server.url, backoff_s=5.0, sleep=slept.append).events())
    assert slept and 0.1 <= slept[0] <= 0.2


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_4xx_stops_with_a_clear_error(status: int) -> None:
    with SseServer(statuses=[status]) as server, pytest.raises(SseHttpError, match=str(status)):
        list(client(server.url).events())
    assert len(server.requests) == 1


def test_a_page_that_is_not_an_event_stream_stops_at_once(tmp_path: Path) -> None:
    (tmp_path / "stream").write_text("<html>maintenance</html>")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/stream"
        with pytest.raises(SseHttpError, match="HTTP 200 .*maintenance"):
            list(client(url).events())
        httpd.shutdown()


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/stream", "http://[::1/stream"])
def test_a_url_that_cannot_work_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="cannot stream from"):
        list(client(url).events())


def test_giving_up_after_max_failures() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/stream"
    slept: list[float] = []
    c = client(url, max_failures=3, sleep=slept.append)
    with pytest.raises(SseUnavailableError, match="4 times in a row"):
        list(c.events())
    assert len(slept) == 3
    assert "ConnectError" in c.stats.last_error


# ------------------------------------------------------------------ the producer


@pytest.fixture
def buses() -> Iterator[tuple[Bus, Bus]]:
    run = uuid.uuid4().hex[:8]
    events, dead = open_bus(f"memory://live_{run}?partitions=3"), open_bus(f"memory://dl_{run}")
    events.ensure(3)
    dead.ensure(1)
    yield events, dead
    memory.reset(events.topic)
    memory.reset(dead.topic)


def read_back(bus: Bus) -> list[dict[str, Any]]:
    return [json.loads(m.value) for m in bus.reader(uuid.uuid4().hex).read(100_000, 0.1)]


def expected_ids(payloads: list[bytes]) -> set[str]:
    maps = [map_change(json.loads(p)) for p in payloads]
    return {m["event_id"] for m in maps if isinstance(m, dict)}


@pytest.mark.parametrize(("path", "drops"), [(CURRENT, [37]), (WIKIDATA_2018, [1000, 0, 2500])])
def test_the_live_producer_publishes_each_change_once_across_reconnects(
    buses: tuple[Bus, Bus], path: Any, drops: list[int]
) -> None:
    events_bus, dead_bus = buses
    recording = recorded(path)
    sender = EventSender(events_bus, dead_bus, source="sse:test")
    with SseServer(recording, drop_after=drops) as server:
        progress = LiveProducer(sender, rate=None).run(client(server.url).events())
    got = read_back(events_bus)
    ids = [e["event_id"] for e in got]
    assert len(ids) == len(set(ids)), "no duplicates"
    assert set(ids) == expected_ids([r.data for r in recording]), "no gaps"
    assert progress.received == len(recording)
    assert progress.sent + sum(progress.skipped.values()) == len(recording)
    assert (progress.redelivered, progress.stats.dead_lettered, progress.stats.failed) == (0, 0, 0)
    assert all(e["source"] == "live" and e["ingest_ts"] for e in got)


def test_a_server_that_repeats_events_is_not_counted_twice(buses: tuple[Bus, Bus]) -> None:
    events_bus, dead_bus = buses
    first = recorded(CURRENT)[:10]
    repeats = [Recorded(f"again-{n}", r.data) for n, r in enumerate(first[5:])]
    with SseServer(first + repeats) as server:
        progress = LiveProducer(EventSender(events_bus, dead_bus, "t"), rate=None).run(
            client(server.url).events()
        )
    assert (progress.sent, progress.redelivered) == (10, 5)
    assert len(read_back(events_bus)) == 10


def test_unmappable_records_are_dead_lettered_with_their_reason(buses: tuple[Bus, Bus]) -> None:
    events_bus, dead_bus = buses
    change = json.loads(CURRENT.read_bytes().splitlines()[0])
    bad = [b"{not json", b"[1, 2]", json.dumps({**change, "user": None}).encode()]
    with SseServer([Recorded(f"bad-{n}", d) for n, d in enumerate(bad)]) as server:
        progress = LiveProducer(EventSender(events_bus, dead_bus, "sse:t"), rate=None).run(
            client(server.url).events()
        )
    letters = [DeadLetter.model_validate(d) for d in read_back(dead_bus)]
    assert [d.reason for d in letters] == [
        Reason.NOT_JSON,
        Reason.NOT_AN_OBJECT,
        Reason.MISSING_FIELD,
    ]
    assert [d.source_position for d in letters] == ["bad-0", "bad-1", "bad-2"]
    assert (progress.sent, progress.stats.dead_lettered) == (0, 3)


def test_max_events_stops_and_closes_the_stream(buses: tuple[Bus, Bus]) -> None:
    events_bus, dead_bus = buses
    with SseServer(recorded(WIKIDATA_2018)) as server:
        progress = LiveProducer(EventSender(events_bus, dead_bus, "t"), rate=None).run(
            client(server.url).events(), max_events=25
        )
    assert progress.sent == 25
    assert progress.stopped_by == "--max-events 25"
    assert len(read_back(events_bus)) == 25


def test_other_sse_event_types_are_skipped(buses: tuple[Bus, Bus]) -> None:
    producer = LiveProducer(EventSender(*buses, source="t"), rate=None)
    producer.handle(SseEvent("{}", event="error"))
    assert producer.progress.skipped == {"sse:error": 1}


def test_recent_ids_forget_the_oldest() -> None:
    recent = RecentIds(size=2)
    seen = [recent.seen(x) for x in ("a", "b", "a", "c", "a", "b")]
    # "a" seen again is the most recent, so "c" pushes out "b".
    assert seen == [False, False, True, False, True, False]
