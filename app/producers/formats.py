"""Input formats of ``streamkit replay``: native CSV / JSON lines, and REES46.

Each reader turns a file into :class:`InputRecord` values, one per input
record, in file order. A record is either an event object (to publish), raw
bytes that are one record but not an object (published as they are, for
the stream job to reject), or a framing failure (to dead-letter: a CSV row
cut short, a field over csv's size limit, a row that is not UTF-8 text).
Nothing is dropped: blank lines (JSON whitespace only; empty for CSV) are the
only input skipped, and they are counted.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import orjson

from app.events.rejects import Reason, Rejection

REES46_COLUMNS = (
    "event_time",
    "event_type",
    "product_id",
    "category_id",
    "category_code",
    "brand",
    "price",
    "user_id",
    "user_session",
)
REES46_TYPES = {
    "view": "page_view",
    "cart": "add_to_cart",
    "purchase": "purchase",
    "remove_from_cart": "remove_from_cart",
}
#: A native CSV quantity that becomes a JSON integer: ASCII digits that fit int64.
_QUANTITY = re.compile(r"-?[0-9]{1,18}")


class Format(StrEnum):
    """What ``--format`` accepts."""

    AUTO = "auto"
    NATIVE = "native"
    REES46 = "rees46"


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One record of an input file and what to do with it."""

    position: str  # line number in the file, for dead letters and messages
    raw: bytes
    event: dict[str, Any] | None = None
    rejection: Rejection | None = None


class FormatError(ValueError):
    """The file is not in a format replay understands; the message says which to pass."""


def open_text(path: Path) -> IO[str]:
    """The file as text, gunzipped when it ends in .gz; newlines untranslated for csv."""
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")


def sniff(path: Path) -> Format:
    """Tell native (JSON lines or CSV with contract columns) from REES46 by the first line."""
    with open_text(path) as f:
        first = f.readline().strip()
    if first.startswith(("{", "[")):
        return Format.NATIVE
    fields = _header([first])
    if "event_id" in fields:
        return Format.NATIVE
    if tuple(fields) == REES46_COLUMNS or (len(fields) == 9 and fields[0].endswith(" UTC")):
        return Format.REES46
    msg = f"cannot tell the format of {path} from its first line; pass --format native or rees46"
    raise FormatError(msg)


def read(path: Path, fmt: Format) -> Iterator[InputRecord]:
    """Every record of ``path`` in ``fmt`` (``auto`` sniffs)."""
    fmt = sniff(path) if fmt is Format.AUTO else fmt
    if fmt is Format.REES46:
        return read_rees46(path)
    with open_text(path) as f:
        first = f.readline()
    return read_jsonl(path) if first.lstrip().startswith(("{", "[")) else read_native_csv(path)


def _encode(line: str) -> bytes:
    return line.encode("utf-8", errors="surrogateescape")


def read_jsonl(path: Path) -> Iterator[InputRecord]:
    """JSON lines: objects become events; anything else is published raw."""
    with open_text(path) as f:
        for n, line in enumerate(f, start=1):
            text = line.rstrip("\r\n")
            if not text.strip(" \t"):  # JSON's whitespace: a line of "\x0c" is a record
                continue
            raw = _encode(text)
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                value = None
            event = value if isinstance(value, dict) else None
            yield InputRecord(str(n), raw, event=event)


def _truncated(n: int, got: int, want: int, raw: bytes) -> InputRecord:
    message = f"line {n} has {got} field(s), the header {want}: the record is cut short"
    return InputRecord(
        str(n), raw, rejection=Rejection(reason=Reason.TRUNCATED_RECORD, message=message)
    )


class _LineTap:
    """Feeds lines to ``csv.reader`` and keeps the ones it consumed.

    So a record's raw bytes are exactly the input's, quotes and all.
    """

    def __init__(self, lines: IO[str]) -> None:
        self._lines = lines
        self.taken: list[str] = []

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        return line

    def take(self) -> bytes:
        raw, self.taken = "".join(self.taken), []
        return _encode(raw.rstrip("\r\n"))


def _bad_field(n: int, raw: bytes, message: str) -> InputRecord:
    return InputRecord(str(n), raw, rejection=Rejection(reason=Reason.BAD_FIELD, message=message))


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def _header(lines: Iterable[str]) -> list[str]:
    try:
        return next(csv.reader(lines), [])
    except csv.Error:  # e.g. over csv's field size limit: no header replay knows
        return []


def _csv_rows(
    path: Path, header: tuple[str, ...]
) -> Iterator[tuple[int, list[str] | InputRecord, bytes]]:
    with open_text(path) as f:
        tap = _LineTap(f)
        rows = csv.reader(tap)
        for n in itertools.count(1):
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as e:  # a field over csv's size limit; the reader resumes after it
                raw = tap.take()
                yield n, _bad_field(n, raw, f"line {n} cannot be read as CSV: {e}"), raw
                continue
            raw = tap.take()
            if n == 1 and tuple(row) == header:
                continue
            if not row or row == [""]:
                continue
            yield n, row, raw


def _csv_records(
    path: Path, header: tuple[str, ...], to_event: Callable[[list[str]], dict[str, Any]]
) -> Iterator[InputRecord]:
    for n, row, raw in _csv_rows(path, header):
        if isinstance(row, InputRecord):
            yield row
        elif len(row) != len(header):
            yield _truncated(n, len(row), len(header), raw)
        elif not _is_utf8(raw):  # its text cannot go on the wire as JSON
            yield _bad_field(n, raw, f"line {n} is not UTF-8 text")
        else:
            yield InputRecord(str(n), raw, event=to_event(row))


def read_native_csv(path: Path) -> Iterator[InputRecord]:
    """Native CSV: a header of contract fields; an empty cell means the field is absent."""
    with open_text(path) as f:
        header = tuple(_header(f))
    if "event_id" not in header:
        msg = f"{path}: a native CSV needs a header row naming the contract's fields"
        raise FormatError(msg)

    def event(row: list[str]) -> dict[str, Any]:
        fields: dict[str, Any] = {k: v for k, v in zip(header, row, strict=True) if v != ""}
        if (q := fields.get("quantity")) is not None and _QUANTITY.fullmatch(q):
            fields["quantity"] = int(q)  # bad values stay text for the job to reject
        return fields

    yield from _csv_records(path, header, event)


def rees46_event_id(row: list[str]) -> str:
    """A hash of the row's fields: identical rows (the dataset has some) are one event."""
    return "r46-" + hashlib.sha256("\x1f".join(row).encode()).hexdigest()[:24]


def rees46_time(text: str) -> str:
    """``2019-10-01 00:00:00 UTC`` as ISO 8601 with ``Z``; unparsable text is passed on."""
    try:
        parsed = datetime.strptime(text, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
    except ValueError:
        return text
    return parsed.isoformat().replace("+00:00", "Z")


def rees46_event(row: list[str]) -> dict[str, Any]:
    """One REES46 row in the contract's terms."""
    values = dict(zip(REES46_COLUMNS, row, strict=True))
    event: dict[str, Any] = {
        "event_id": rees46_event_id(row),
        "event_time": rees46_time(values["event_time"]),
        "event_type": REES46_TYPES.get(values["event_type"], values["event_type"]),
        "user_id": values["user_id"],
        "session_id": values["user_session"] or None,
        "product_id": values["product_id"],
        "category": values["category_code"] or values["category_id"] or None,
        "category_id": values["category_id"] or None,
        "brand": values["brand"] or None,
        "price": values["price"] or None,
        "currency": "USD",
        "source": "rees46",
    }
    return {k: v for k, v in event.items() if v is not None}


def read_rees46(path: Path) -> Iterator[InputRecord]:
    """REES46 clickstream CSV, with or without its header, LF or CRLF."""
    return _csv_records(path, REES46_COLUMNS, rees46_event)
