"""Bad input everywhere: the parser, the replay readers and the live mapper never raise or lose.

Properties (hypothesis) and a seeded mutation fuzzer over the real samples in
``../shared/data``. The invariant, everywhere: each input ends as a contract event that
round-trips, or as a rejection with a reason code and a message (a dead letter); no
exception escapes and no input line goes missing. The stream operator's :func:`check`
gives every record :func:`validate`'s verdict.

The regressions at the end pin what this suite found in the contract and the operator:
times at the calendar's edges, or beyond what the job's columns hold, and schema versions
beyond 32 bits, are now rejected instead of raising.
"""

from __future__ import annotations

import base64
import copy
import csv
import io
import random
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from app.events.contract import (
    EARLIEST,
    INT32_MAX,
    LATEST,
    NATIVE_CSV_COLUMNS,
    SCHEMA_VERSION,
    Event,
    EventType,
)
from app.events.rejects import MAX_FUTURE, Reason, Rejection, dead_letter, validate
from app.live.mapping import Skip, map_change
from app.live.sse import SseParser
from app.pipeline.records import check
from app.producers.formats import (
    REES46_COLUMNS,
    REES46_TYPES,
    Format,
    FormatError,
    InputRecord,
    read,
    rees46_event,
    rees46_event_id,
    rees46_time,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
FIELDS = tuple(Event.model_fields)

# No example database (no files outside tmp_path), no deadline (a slow, shared machine).
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FILE_PROPERTY = settings(PROPERTY, max_examples=80)  # each example writes and reads a file
BATCH_PROPERTY = settings(PROPERTY, max_examples=40)  # each example builds a pandas frame


def _lines(path: Path, n: int) -> list[bytes]:
    with path.open("rb") as f:
        return [line.rstrip(b"\r\n") for _, line in zip(range(n), f, strict=False)]


REES46_CLEAN = SHARED / "rees46_2019-Oct_first4999rows_phamhoa2416.csv"
REES46_CRLF = SHARED / "rees46_2019-Oct_first17434rows_Team11.csv"
REES46_HEADER = _lines(REES46_CLEAN, 1)[0]
#: Real rows: LF and CRLF files, empty category/brand cells, and the Team11 file's cut last line.
REES46_ROWS = [
    *_lines(REES46_CLEAN, 300)[1:],
    *_lines(REES46_CRLF, 300)[1:],
    REES46_CRLF.read_bytes().rsplit(b"\r\n", 1)[-1],
]
WIKIMEDIA_FILES = [
    "wikimedia_recentchange_enwiki_100_polars-book.ndjson",
    "wikimedia_recentchange_wikidata_2018_3818_editgroups.jsonl",
    "wikimedia_recentchange_wikidata_2018_1789_editgroups_reverts.jsonl",
    "wikimedia_recentchange_sse_3events_wiki_visualizer.derived.jsonl",
]
#: Real RecentChange payloads of both schemas (the 2018 files hold the log events).
WIKIMEDIA_LINES = [
    line for name in WIKIMEDIA_FILES for line in _lines(SHARED / name, 400) if line.strip()
]
WIKIMEDIA_CHANGES = [orjson.loads(line) for line in WIKIMEDIA_LINES]

#: The moments the contract accepts (a day's margin at the top).
CONTRACT_SPAN = (EARLIEST, LATEST - timedelta(days=1))
#: The required fields of a page view but its time.
PAGE_VIEW = {"event_id": "e", "event_type": "page_view", "user_id": "u", "product_id": "p"}


# ---------------------------------------------------------------- the invariants


def wire(event: dict[str, Any]) -> bytes:
    """An event object as :class:`EventSender.send` puts it on the bus."""
    stamped = {"schema_version": SCHEMA_VERSION, **event, "ingest_ts": NOW}
    return orjson.dumps(stamped, option=orjson.OPT_UTC_Z)


def assert_rejection(raw: bytes, rejection: Rejection) -> None:
    """A reason code, a message, and a dead letter that carries the exact bytes."""
    assert isinstance(rejection.reason, Reason)
    assert rejection.message.strip()
    letter = dead_letter(raw, rejection, "file:fuzz", "1", at=NOW)
    assert base64.b64decode(letter.raw_b64) == raw
    assert orjson.loads(letter.to_json())["reason"] == rejection.reason.value


def verdict_of(raw: bytes) -> Event | Rejection:
    """``validate``'s verdict, checked: an event round-trips, a rejection has a reason."""
    verdict = validate(raw, NOW)
    if isinstance(verdict, Event):
        assert validate(verdict.model_dump_json().encode(), NOW) == verdict
    else:
        assert isinstance(verdict, Rejection), verdict
        assert_rejection(raw, verdict)
    return verdict


def account_for(record: InputRecord) -> Event | Rejection:
    """Where a reader's record ends: dead-lettered at once, or judged by the stream job."""
    if record.rejection is not None:
        assert record.event is None
        assert_rejection(record.raw, record.rejection)
        return record.rejection
    if record.event is not None:
        return verdict_of(wire(record.event))
    verdict = verdict_of(record.raw)  # published raw: the job must reject it
    assert isinstance(verdict, Rejection), record
    return verdict


def assert_all_read(
    records: list[InputRecord], data: bytes, *, skip_first_line: bool, blank: bytes = b""
) -> None:
    """Every input byte is in a record, in order; between records only blank lines.

    ``blank``: what a skipped JSON line may hold; a CSV reader skips empty lines and ``""``.
    """
    positions = [int(r.position) for r in records]
    assert positions == sorted(set(positions))
    first_end = data.find(b"\n")
    cursor = (len(data) if first_end < 0 else first_end + 1) if skip_first_line else 0
    gaps = []
    for record in records:
        at = data.find(record.raw, cursor)
        assert record.raw and at >= 0, (record, data[cursor : cursor + 80])
        gaps.append(data[cursor:at])
        cursor = at + len(record.raw)
    gaps.append(data[cursor:])
    if not blank:
        gaps = [gap.replace(b'""', b"") for gap in gaps]
    lost = [gap for gap in gaps if gap.strip(b"\r\n" + blank)]
    assert lost == []


def operator_frame(values: list[bytes | None]) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "value": values,
            "partition": [0] * n,
            "offset": list(range(n)),
            "publish_time": pd.to_datetime([NOW.replace(tzinfo=None)] * n),
        }
    )


def assert_operator_agrees(values: list[bytes | None]) -> None:
    """``check`` gives each record ``validate``'s verdict, reason and message."""
    out = check(operator_frame(values), NOW)
    assert len(out) == len(values)
    for value, row in zip(values, out.itertuples(index=False), strict=True):
        verdict = validate(value if value is not None else b"", NOW)
        if isinstance(verdict, Event):
            assert (row.reason, row.message, row.raw) == (None, None, None)
            assert row.event_id == verdict.event_id
        else:
            assert (row.reason, row.message) == (verdict.reason.value, verdict.message)
            assert row.raw == value


# ---------------------------------------------------------------- strategies

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)  # what orjson reads and writes as integers
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
#: Objects whose keys are mostly the contract's: deeper into the validator than random keys.
json_objects = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=len(FIELDS) + 2
)


def texts(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    """Unicode text without edge whitespace (the contract strips it), within ``max_size``."""
    plain = st.text(string.ascii_letters + string.digits + "-_.:@/", max_size=max_size)
    anything = st.text(max_size=max_size).map(str.strip)
    return (plain | anything).filter(lambda s: len(s) >= min_size)


def ids() -> st.SearchStrategy[str]:
    return texts(128, min_size=1)


def naive_datetimes(low: datetime, high: datetime, **kw: Any) -> st.SearchStrategy[datetime]:
    """``st.datetimes`` between aware UTC bounds (hypothesis takes naive ones)."""
    return st.datetimes(low.replace(tzinfo=None), high.replace(tzinfo=None), **kw)


@st.composite
def timestamps(draw: st.DrawFn, low: datetime, high: datetime) -> str:
    """A wire timestamp of a UTC moment in [low, high], written in some offset."""
    moment = draw(naive_datetimes(low, high)).replace(tzinfo=UTC)
    minutes = draw(st.integers(-12 * 60, 14 * 60))
    local = moment + timedelta(minutes=minutes)
    digits = draw(st.integers(0, 6))
    fraction = f".{local.microsecond:06d}"[: digits + 1] if digits else ""
    sign, offset = "-" if minutes < 0 else "+", abs(minutes)
    zone = (
        "Z"
        if offset == 0 and draw(st.booleans())
        else f"{sign}{offset // 60:02d}:{offset % 60:02d}"
    )
    sep = draw(st.sampled_from("T "))
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}{sep}"
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}{fraction}{zone}"
    )


prices = st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2)
price_on_the_wire = prices.flatmap(
    lambda d: st.sampled_from([str(d), float(d), *([int(d)] if d == d.to_integral() else [])])
)

#: Any moment Python can write: the contract rejects those outside its span, never raises.
WIDE = (datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC))


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """A contract event as a JSON-ready dict, valid by construction."""
    low, high = CONTRACT_SPAN
    event_type = draw(st.sampled_from(list(EventType)))
    event: dict[str, Any] = {
        "event_id": draw(ids()),
        "event_time": draw(timestamps(low, NOW)),
        "event_type": event_type.value,
        "user_id": draw(ids()),
        "product_id": draw(ids()),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "session_id": st.none() | texts(128),
        "category": st.none() | texts(256),
        "category_id": st.none() | texts(64),
        "brand": st.none() | texts(128),
        "price": st.none() | price_on_the_wire,
        "quantity": st.integers(1, 10_000),
        "currency": st.from_regex(r"[A-Z]{3}", fullmatch=True),
        "source": texts(64),
        "ingest_ts": st.none() | timestamps(low, high),
        "schema_version": st.integers(1, INT32_MAX),
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            event[name] = draw(values)
    if event_type is EventType.PURCHASE and event.get("price") is None:
        event["price"] = draw(price_on_the_wire)
    return event


#: Values that have broken parsers before: wrong types, edges, almost-timestamps.
# fmt: off
WEIRD = [
    None, True, False, 0, -1, 1.5, -0.0, 2**63 - 1, -(2**63), 2**64 - 1, 1e308, 5e-324,
    "", " ", "\x00", "\u2028", "\ufeff", "é" * 300, "NaN", "Infinity", "1e3", "-0", " 1",
    "19.999", "0.001", "9999999999.99", "10000000000.00", "2026-01-01", "2026-01-01T10:00:00",
    "2026-13-01T00:00:00Z", "2026-02-30T10:00:00Z", "2026-01-01T24:00:00Z",
    "2026-01-01T10:00:60Z", "2026-01-01T10:00:00+24:00", "2026-01-01T10:00:00.1234567Z",
    "1970-01-01T00:00:00Z", "page_view ", "PURCHASE", "view", [], {}, [1], {"a": 1},
]
# fmt: on
#: Well-formed and valid for ``validate``, beyond the operator's pandas columns (known bug).
EDGE_TIMES = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "1677-01-01T00:00:00Z"]


@st.composite
def near_valid(draw: st.DrawFn, wide: bool = True) -> bytes:
    """A valid event's bytes with one thing wrong: a field dropped, retyped, odd, or cut."""
    event = draw(valid_events())
    field = draw(st.sampled_from(FIELDS))
    how = draw(st.sampled_from(["drop", "retype", "weird", "truncate", "extra"]))
    if how == "drop":
        event.pop(field, None)
    elif how == "retype":
        event[field] = draw(json_values)
    elif how == "weird":
        event[field] = draw(st.sampled_from(WEIRD + (EDGE_TIMES if wide else [])))
    elif how == "extra":
        event[draw(st.text(max_size=8))] = draw(json_values)
    raw = orjson.dumps(event)
    if how == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


any_record = st.one_of(
    st.binary(max_size=300),
    json_values.map(orjson.dumps),
    json_objects.map(orjson.dumps),
    near_valid(),
)


# ---------------------------------------------------------------- 1. the event parser


@PROPERTY
@given(any_record)
@example(b"")
@example(b"\xff\xfe{}")
@example(b'{"event_id": "e", "price": NaN}')
@example(b"[" * 2000)
@example(orjson.dumps({"event_time": "0001-01-01T00:00:00Z", "quantity": 2**64 - 1}))
def test_validate_never_raises_and_every_verdict_holds(raw: bytes) -> None:
    verdict_of(raw)


@PROPERTY
@given(valid_events())
def test_records_valid_by_construction_are_accepted(event: dict[str, Any]) -> None:
    verdict = verdict_of(orjson.dumps(event))
    assert isinstance(verdict, Event), verdict
    assert (verdict.event_id, verdict.event_type.value) == (event["event_id"], event["event_type"])


# ---------------------------------------------------------------- 2. the replay readers

#: Lines with no line break of their own (the separators are chosen per file).
junk_lines = st.binary(max_size=80).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


def csv_line(fields: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(fields)
    return out.getvalue().removesuffix("\r\n").encode(errors="surrogateescape")


#: CSV cells: text, bytes that are no UTF-8 (as the reader sees them), almost-integers.
cells = (
    st.text(max_size=12)
    | st.binary(max_size=6).map(lambda b: b.decode(errors="surrogateescape"))
    | st.sampled_from(["--5", "²", "9" * 20, "-0", "007", "1_000", " 2"])
)


def native_row(event: dict[str, Any]) -> list[str]:
    return ["" if event.get(c) is None else str(event[c]) for c in NATIVE_CSV_COLUMNS]


@st.composite
def rees46_rows(draw: st.DrawFn) -> list[str]:
    """A REES46 row (valid by construction) in the dataset's own terms."""
    moment = draw(naive_datetimes(datetime(1970, 1, 1, tzinfo=UTC), NOW))
    return [
        f"{moment:%Y-%m-%d %H:%M:%S} UTC",
        draw(st.sampled_from(sorted(REES46_TYPES))),
        str(draw(st.integers(1, 10**9))),
        str(draw(st.integers(0, 10**19))),
        draw(texts(256)),
        draw(texts(128)),
        str(draw(prices)),
        str(draw(st.integers(1, 10**10))),
        draw(st.uuids().map(str) | st.just("")),
    ]


def csv_items(valid: st.SearchStrategy[list[str]], width: int) -> st.SearchStrategy[Any]:
    """Lines of a CSV file, each tagged with what it is."""
    item = st.one_of(
        valid.map(lambda row: ("valid", csv_line(row))),
        st.lists(cells, min_size=width - 2, max_size=width + 2).map(
            lambda row: ("row", csv_line(row))
        ),
        junk_lines.map(lambda line: ("junk", line)),
        st.just(("blank", b"")),
    )
    return st.lists(item, max_size=12)


def write_lines(path: Path, lines: list[bytes], sep: bytes, final: bool) -> bytes:
    data = sep.join(lines) + (sep if final and lines else b"")
    path.write_bytes(data)
    return data


def assert_items_read(records: list[InputRecord], items: list[tuple[str, bytes]]) -> None:
    """When no junk line opens a quote, one record per non-blank line and valid ones pass."""
    if any(kind == "junk" and b'"' in line for kind, line in items):
        return  # a stray quote joins lines into one record: counted by assert_all_read
    lines = [(kind, line) for kind, line in items if line]
    assert len(records) == len(lines)
    for (kind, line), record in zip(lines, records, strict=True):
        assert record.raw == line
        if kind == "valid":
            assert isinstance(account_for(record), Event), record


@FILE_PROPERTY
@given(
    csv_items(valid_events().map(native_row), len(NATIVE_CSV_COLUMNS)),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
)
def test_native_csv_accounts_for_every_line(
    tmp_path: Path, items: list[tuple[str, bytes]], sep: bytes, final: bool
) -> None:
    path = tmp_path / "events.csv"
    header = ",".join(NATIVE_CSV_COLUMNS).encode()
    data = write_lines(path, [header, *(line for _, line in items)], sep, final)
    records = list(read(path, Format.NATIVE))
    assert records == list(read(path, Format.AUTO))
    assert_all_read(records, data, skip_first_line=True)
    for record in records:
        account_for(record)
    assert_items_read(records, items)


@FILE_PROPERTY
@given(
    csv_items(rees46_rows(), len(REES46_COLUMNS)),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
    st.booleans(),
)
def test_rees46_csv_accounts_for_every_line(
    tmp_path: Path, items: list[tuple[str, bytes]], sep: bytes, final: bool, header: bool
) -> None:
    path = tmp_path / "rees46.csv"
    lines = [line for _, line in items]
    data = write_lines(path, [REES46_HEADER, *lines] if header else lines, sep, final)
    records = list(read(path, Format.REES46))
    if header:
        assert records == list(read(path, Format.AUTO))
    assert_all_read(records, data, skip_first_line=header)
    for record in records:
        account_for(record)
    assert_items_read(records, items)


@FILE_PROPERTY
@given(
    valid_events(),
    st.lists(
        st.one_of(
            valid_events().map(lambda e: ("valid", orjson.dumps(e))),
            near_valid().map(lambda raw: ("near", raw)),
            json_values.map(lambda v: ("json", orjson.dumps(v))),
            junk_lines.map(lambda line: ("junk", line)),
            st.sampled_from([b"", b" ", b"\t \t"]).map(lambda line: ("blank", line)),
        ),
        max_size=12,
    ),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
)
def test_json_lines_account_for_every_line(
    tmp_path: Path, first: dict[str, Any], items: list[tuple[str, bytes]], sep: bytes, final: bool
) -> None:
    path = tmp_path / "events.jsonl"
    items = [
        ("valid", orjson.dumps(first)),
        *items,
    ]  # an object first: the file reads as JSON lines
    data = write_lines(path, [line for _, line in items], sep, final)
    records = list(read(path, Format.NATIVE))
    assert records == list(read(path, Format.AUTO))
    assert_all_read(records, data, skip_first_line=False, blank=b" \t")
    lines = [(kind, line) for kind, line in items if line.strip(b" \t")]
    assert len(records) == len(lines)
    for (kind, line), record in zip(lines, records, strict=True):
        assert record.raw == line
        verdict = account_for(record)
        assert kind != "valid" or isinstance(verdict, Event), record


@FILE_PROPERTY
@given(junk_lines, st.lists(valid_events().map(native_row).map(csv_line), max_size=3))
def test_a_file_without_a_native_header_is_a_format_error(
    tmp_path: Path, first: bytes, rows: list[bytes]
) -> None:
    text = first.decode(errors="surrogateescape")
    data = b"\n".join([first, *rows])
    assume(b"event_id" not in data and not text.lstrip().startswith(("{", "[")))
    path = tmp_path / "events.csv"
    path.write_bytes(data)
    with pytest.raises(FormatError, match="header"):
        list(read(path, Format.NATIVE))


@PROPERTY
@given(st.lists(st.text(max_size=40), min_size=9, max_size=9))
@example(["2019-10-01 00:00:00 UTC", "purchase", "1", "2", "", "", "", "3", ""])
def test_any_rees46_row_maps_to_a_valid_event_or_a_reasoned_rejection(row: list[str]) -> None:
    event = rees46_event(row)
    assert event["event_id"] == rees46_event_id(list(row)) and event["source"] == "rees46"
    verdict_of(wire(event))


@PROPERTY
@given(st.datetimes(), st.text(max_size=30))
def test_rees46_time_converts_its_own_form_and_passes_the_rest_on(
    moment: datetime, text: str
) -> None:
    moment = moment.replace(microsecond=0)
    own = f"{moment.year:04d}-{moment:%m-%d %H:%M:%S} UTC"
    assert rees46_time(own) == moment.isoformat() + "Z"
    converted = rees46_time(text)
    assert converted == text or datetime.fromisoformat(converted).tzinfo is not None


# ---------------------------------------------------------------- 3. the live mapper

#: Times meta.dt may hold, anywhere on the calendar.
dts = naive_datetimes(
    *WIDE,
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
    ),
).map(datetime.isoformat)
shaped_changes = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["edit", "new", "log", "categorize", "external"]) | json_values,
        "wiki": st.sampled_from(["enwiki", "wikidatawiki"]) | texts(100) | json_values,
        "title": texts(200) | json_values,
        "user": texts(200) | json_values,
        "id": st.integers(-(2**63), 2**64 - 1) | json_values,
        "timestamp": st.integers(-(2**63), 2**64 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | json_values,
        "namespace": st.integers(-(2**63), 2**64 - 1) | json_values,
        "bot": st.booleans() | json_values,
        "log_type": st.sampled_from(["delete", "move", "block"]) | json_values,
        "log_action": st.sampled_from(["delete", "restore"]) | json_values,
        "length": st.fixed_dictionaries(
            {},
            optional={
                "old": st.none() | st.integers(-(2**63), 2**64 - 1) | json_values,
                "new": st.integers(-(2**63), 2**64 - 1) | json_values,
            },
        )
        | json_values,
        "meta": st.fixed_dictionaries(
            {},
            optional={
                "domain": st.sampled_from(["canary", "en.wikipedia.org"]) | st.text(max_size=10),
                "id": st.uuids().map(str) | json_values,
                "dt": dts | json_values,
            },
        )
        | json_values,
    },
)
#: Where a real change is mutated: top-level keys and the nested ones the mapper reads.
# fmt: off
CHANGE_PATHS = [
    ("type",), ("wiki",), ("title",), ("user",), ("id",), ("timestamp",), ("namespace",),
    ("bot",), ("log_type",), ("log_action",), ("length",), ("length", "old"),
    ("length", "new"), ("meta",), ("meta", "domain"), ("meta", "id"), ("meta", "dt"),
]
# fmt: on
change_values = json_values | st.sampled_from(WEIRD) | dts


@st.composite
def mutated_real_changes(draw: st.DrawFn) -> dict[str, Any]:
    change = copy.deepcopy(draw(st.sampled_from(WIKIMEDIA_CHANGES)))
    for _ in range(draw(st.integers(1, 4))):
        *parents, key = draw(st.sampled_from(CHANGE_PATHS))
        target = change
        for parent in parents:
            target = target.get(parent) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = draw(change_values)
    return change


def assert_mapped(change: dict[str, Any], include_bots: bool = True) -> None:
    """One of the three kinds; an event passes the contract as the producer sends it."""
    result = map_change(change, include_bots=include_bots)
    if isinstance(result, Skip):
        assert result.reason
    elif isinstance(result, Rejection):
        assert_rejection(orjson.dumps(change), result)
    else:
        assert isinstance(result, dict), result
        verdict = verdict_of(wire(result))
        if isinstance(verdict, Rejection):  # only the job's clock rejects a mapped event
            assert verdict.reason is Reason.FUTURE_EVENT_TIME, (verdict, result)
            assert result["event_time"] > NOW + MAX_FUTURE
        else:
            assert (verdict.event_id, verdict.event_type.value) == (
                result["event_id"],
                result["event_type"],
            )


@PROPERTY
@given(shaped_changes | mutated_real_changes(), st.booleans())
@example({"type": "edit", "wiki": "w", "title": "t", "user": "u", "id": 1, "timestamp": 1e20}, True)
@example(
    {"type": "new", "wiki": "w" * 100, "title": "t", "user": "u", "id": 1, "timestamp": 1}, True
)
def test_map_change_never_raises_and_its_events_pass_the_contract(
    change: dict[str, Any], include_bots: bool
) -> None:
    assert_mapped(orjson.loads(orjson.dumps(change)), include_bots)  # as the producer reads it


def test_every_real_change_maps_to_an_event_that_passes_the_contract() -> None:
    for change in WIKIMEDIA_CHANGES:
        assert_mapped(change)


# ---------------------------------------------------------------- 3b. the SSE parser

# fmt: off
SSE_TOKENS = [
    "data", "event", "id", "retry", ":", ": ", " ", "x", "é", "42", "\x00", "\ufeff",
    "\r", "\n", "\r\n", "\n\n", "message",
]
# fmt: on
#: A constructed framing (event/id/data lines) around the real payloads of the ndjson sample.
PAYLOADS = [line.decode() for line in _lines(SHARED / WIKIMEDIA_FILES[0], 100)]


def feed_in_pieces(parser: SseParser, text: str, cuts: list[int]) -> list[Any]:
    bounds = sorted({c % (len(text) + 1) for c in cuts})
    events = []
    for start, end in zip([0, *bounds], [*bounds, len(text)], strict=True):
        events += parser.feed(text[start:end])
    return events


@PROPERTY
@given(
    st.lists(st.sampled_from(SSE_TOKENS), max_size=60).map("".join),
    st.lists(st.integers(0, 10**4), max_size=8),
)
@example("data: a\r", [8])
@example("data: a\r\n\r\n", [8, 9, 10])
def test_the_sse_parser_reads_any_split_of_a_stream_alike(text: str, cuts: list[int]) -> None:
    whole = SseParser()
    expected = whole.feed(text)
    pieces = SseParser()
    assert feed_in_pieces(pieces, text, cuts) == expected
    assert (pieces.last_event_id, pieces.retry_ms) == (whole.last_event_id, whole.retry_ms)
    assert pieces.close() == whole.close()


@PROPERTY
@given(
    st.lists(st.integers(0, len(PAYLOADS) - 1), min_size=1, max_size=4),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.lists(st.integers(0, 10**6), max_size=6),
)
def test_real_payloads_in_sse_frames_come_back_whole(
    picks: list[int], eol: str, cuts: list[int]
) -> None:
    payloads = [PAYLOADS[i] for i in picks]
    text = "".join(
        f"event: message{eol}id: {n}{eol}data: {p}{eol}{eol}" for n, p in enumerate(payloads)
    )
    parser = SseParser()
    events = feed_in_pieces(parser, text, cuts)
    assert [(e.data, e.id) for e in events] == [(p, str(n)) for n, p in enumerate(payloads)]
    assert parser.close() is False


# ---------------------------------------------------------------- 4. the operator


@BATCH_PROPERTY
@given(
    st.lists(
        st.none()
        | st.binary(max_size=200)
        | json_objects.map(orjson.dumps)
        | near_valid(wide=False)
        | valid_events().map(orjson.dumps),
        max_size=16,
    )
)
@example([None, b"", b"[1]", b'{"event_id": "e"}'])
def test_the_operator_gives_every_record_the_parsers_verdict(values: list[bytes | None]) -> None:
    assert_operator_agrees(values)


# ---------------------------------------------------------------- the seeded mutation fuzzer

#: Tokens spliced in: quotes and separators, non-UTF-8, escapes, long digits, line breaks.
# fmt: off
SPLICES = [
    b'"', b",", b"\xff", b"\xc3", b"\\u0000", b"null", b"-", b"9" * 25, b"\r\n", b"\n", b"{", b"]",
]
# fmt: on
ODD = [*WEIRD, *EDGE_TIMES, 1e20, float(2**64), "2023-07-29T07:51:39+05:30", "x" * 200]
SEED = 20261127


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """One to three byte mutations: flip a bit, insert, delete, truncate, splice, repeat."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(buf) + 1)
        op = rng.randrange(6)
        if op == 0 and i < len(buf):
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[i:i] = bytes([rng.randrange(256)])
        elif op == 2:
            del buf[i : i + rng.randint(1, 4)]
        elif op == 3:
            del buf[i:]
        elif op == 4:
            buf[i:i] = rng.choice(SPLICES)
        else:
            j = rng.randrange(len(buf) + 1)
            buf[i:i] = buf[j : j + rng.randint(1, 8)]
    return bytes(buf)


def swap_type(rng: random.Random, value: Any) -> Any:
    kinds: list[Callable[[Any], Any]] = [str, lambda v: [v], lambda v: {"v": v}, lambda v: None]
    if isinstance(value, str):
        kinds.append(lambda v: int(v) if v.isascii() and v.isdigit() else len(v))
    return rng.choice(kinds)(value)


def mutate_fields(rng: random.Random, change: dict[str, Any]) -> dict[str, Any]:
    """One to three field mutations of a RecentChange: drop, odd value, swapped type."""
    out = copy.deepcopy(change)
    for _ in range(rng.randint(1, 3)):
        *parents, key = rng.choice(CHANGE_PATHS)
        target: Any = out
        for parent in parents:
            target = target.get(parent) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        op = rng.randrange(3)
        if op == 0:
            target.pop(key, None)
        elif op == 1:
            target[key] = rng.choice(ODD)
        else:
            target[key] = swap_type(rng, target.get(key))
    return out


def test_fuzz_rees46_files_rows_and_the_operator(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    wires: list[bytes] = []
    for n in range(60):  # 60 files of 25 lines: a stray quote swallows at most one file's rest
        lines = [rng.choice(REES46_ROWS) for _ in range(25)]
        lines = [mutate_bytes(rng, line) if rng.random() < 0.8 else line for line in lines]
        header = n % 3 != 0
        path = tmp_path / f"rees46-{n}.csv"
        data = write_lines(path, [REES46_HEADER, *lines] if header else lines, b"\r\n", n % 2 == 0)
        records = list(read(path, Format.REES46))
        assert_all_read(records, data, skip_first_line=header)
        for record in records:
            account_for(record)
            if record.event is not None:
                wires.append(wire(record.event))
    for _ in range(1_500):  # field-level: one cell replaced by odd text
        row = next(csv.reader([rng.choice(REES46_ROWS[:-1]).decode()]))
        row[rng.randrange(len(row))] = str(rng.choice(ODD))
        wires.append(wire(rees46_event(row)))
    for raw in wires[::3]:
        verdict_of(mutate_bytes(rng, raw))  # and the wire bytes themselves, mutated
    assert_operator_agrees(wires)


def test_fuzz_wikimedia_changes_the_mapper_and_the_operator() -> None:
    rng = random.Random(SEED)
    wires: list[bytes] = []
    for _ in range(2_500):
        line = rng.choice(WIKIMEDIA_LINES)
        if rng.random() < 0.5:
            raw = mutate_bytes(rng, line)
            verdict_of(raw)  # the bytes as if a shop event: a rejection, never an exception
            try:
                change = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue  # the live producer dead-letters it as not_json
        else:
            change = orjson.loads(orjson.dumps(mutate_fields(rng, orjson.loads(line))))
        if not isinstance(change, dict):
            continue  # dead-lettered as not_an_object by the live producer
        assert_mapped(change, include_bots=rng.random() < 0.8)
        mapped = map_change(change)
        if isinstance(mapped, dict):
            wires.append(wire(mapped))
    assert_operator_agrees(wires)


# ---------------------------------------------------------------- regressions (fixed here)


def test_a_timestamp_beyond_the_calendar_falls_back_to_meta_dt() -> None:
    change = {"type": "edit", "wiki": "w", "title": "t", "user": "u", "id": 1}
    for huge in (1e20, 2**63, 2**64 - 1, 1e308):
        mapped = map_change({**change, "timestamp": huge, "meta": {"dt": "2023-07-29T07:51:39Z"}})
        assert isinstance(mapped, dict) and mapped["event_time"] == datetime(
            2023, 7, 29, 7, 51, 39, tzinfo=UTC
        )
        rejected = map_change({**change, "timestamp": huge})
        assert isinstance(rejected, Rejection) and rejected.reason is Reason.BAD_EVENT_TIME


def test_a_wiki_name_too_long_for_the_contract_is_rejected() -> None:
    change = {
        "type": "new",
        "wiki": "w" * 95,
        "title": "t" * 200,
        "user": "u",
        "id": 1,
        "timestamp": 1,
    }
    mapped = map_change(change)
    assert isinstance(mapped, Rejection) and mapped.reason is Reason.BAD_FIELD
    assert isinstance(map_change({**change, "wiki": "w" * 64}), dict)


@pytest.mark.parametrize("quantity", ["--5", "²", "9" * 5_000, "9" * 20, "-9" * 3])
def test_a_native_quantity_that_is_no_int64_stays_text_for_the_job(
    tmp_path: Path, quantity: str
) -> None:
    path = tmp_path / "events.csv"
    event = {**PAGE_VIEW, "event_time": "2026-01-01T00:00:00Z", "quantity": quantity}
    row = native_row(event)
    path.write_bytes(b"\n".join([",".join(NATIVE_CSV_COLUMNS).encode(), csv_line(row)]))
    (record,) = read(path, Format.NATIVE)
    assert record.event is not None and record.event["quantity"] == quantity
    verdict = account_for(record)
    assert isinstance(verdict, Rejection) and verdict.reason is Reason.BAD_FIELD


@pytest.mark.parametrize("fmt", [Format.NATIVE, Format.REES46])
def test_csv_lines_that_are_no_text_or_too_long_are_dead_lettered(
    tmp_path: Path, fmt: Format
) -> None:
    header = ",".join(NATIVE_CSV_COLUMNS).encode() if fmt is Format.NATIVE else REES46_HEADER
    good = (
        REES46_ROWS[0]
        if fmt is Format.REES46
        else csv_line(
            ["e", "2026-01-01T00:00:00Z", "page_view", "u", "", "p", "", "", "", "", "", ""]
        )
    )
    bad_utf8 = good.replace(b",", b",\xff", 1)
    too_long = b"x" * 200_000
    path = tmp_path / "input.csv"
    path.write_bytes(b"\n".join([header, bad_utf8, too_long, good]))
    records = list(read(path, fmt))
    assert [r.raw for r in records] == [bad_utf8, too_long, good]
    assert [r.rejection.reason if r.rejection else None for r in records] == [
        Reason.BAD_FIELD,
        Reason.BAD_FIELD,
        None,
    ]
    assert isinstance(account_for(records[2]), Event)


def test_a_json_line_of_non_json_whitespace_is_a_record(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"event_id": "e"}\n\x0c\n \t\n\xc2\xa0\n')
    records = list(read(path, Format.NATIVE))
    assert [(r.position, r.raw) for r in records] == [
        ("1", b'{"event_id": "e"}'),
        ("2", b"\x0c"),
        ("4", b"\xc2\xa0"),
    ]
    assert all(isinstance(account_for(r), Rejection) for r in records)


# --------------------------------------------------------- regressions: contract and operator


@pytest.mark.parametrize(
    "field_time",
    [
        ("event_time", "0001-01-01T00:00:00+01:00"),  # astimezone(UTC) overflowed
        ("event_time", "9999-12-31T23:59:59-01:00"),
        ("ingest_ts", "0001-01-01T00:30:00+01:00"),
        ("event_time", "1969-12-31T23:59:59Z"),  # before the contract's span
        ("ingest_ts", "2200-01-01T00:00:00Z"),  # past it
    ],
)
def test_a_time_outside_the_contracts_span_is_rejected(field_time: tuple[str, str]) -> None:
    field, value = field_time
    record = {"event_time": "2026-01-01T00:00:00Z", **PAGE_VIEW, field: value}
    verdict = validate(orjson.dumps(record), NOW)
    assert isinstance(verdict, Rejection)
    assert verdict.message.startswith(f"{field}: ") and "1970-01-01" in verdict.message


def test_map_change_rejects_a_meta_dt_at_the_calendars_edge() -> None:
    change = {"type": "edit", "wiki": "w", "title": "t", "user": "u", "id": 1}
    result = map_change({**change, "meta": {"dt": "0001-01-01T00:00:00+01:00"}})
    assert isinstance(result, Rejection)


@pytest.mark.parametrize(
    "record",
    [
        {**PAGE_VIEW, "event_time": "0001-01-01T00:00:00Z"},  # crashed the operator's columns
        {**PAGE_VIEW, "event_time": "2026-01-01T00:00:00Z", "ingest_ts": "9999-01-01T00:00:00Z"},
        {**PAGE_VIEW, "event_time": "9999-01-01T00:00:00Z"},  # a reject whose time parses
        {**PAGE_VIEW, "event_time": "2026-01-01T00:00:00Z", "schema_version": 2**31},
    ],
)
def test_the_operator_agrees_on_what_its_columns_could_not_hold(record: dict[str, Any]) -> None:
    assert_operator_agrees([orjson.dumps(record)])
