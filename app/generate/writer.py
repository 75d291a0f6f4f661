"""Rows as text on disk: native CSV or JSON lines, gzip when the name ends in ``.gz``.

Per-row Python would cap generation far below the 200k events/s it must
reach, so a chunk's lines are assembled by one Arrow join over a few columns:
the event id, a fixed-width timestamp built by numpy from digit tables, and
pre-rendered blocks taken by index (one per product: id, category, brand,
price; one per session: user and session id; one per type and quantity).
No value needs CSV quoting: ids, ISO times, category paths, brands and prices
hold no comma, quote or newline. Only malformed records, a handful per chunk,
are rendered in Python.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from app.events.contract import NATIVE_CSV_COLUMNS, EventType
from app.events.rejects import Reason
from app.generate.faults import FIELD_REASONS, REASONS, Kind, Rows, corrupt
from app.generate.traffic import BRANDS, CATEGORIES, DAY_MS, I64, Catalogue

GZIP_LEVEL = 1  # the fastest: deflate is most of the run time even so
MAX_QUANTITY = 9  # the traffic model sells at most 3 at once
_U8 = npt.NDArray[np.uint8]
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_U64 = np.uint64


def _table(width: int) -> _U8:
    values = np.arange(10**width)[:, None] // 10 ** np.arange(width - 1, -1, -1) % 10
    return (values + ord("0")).astype(np.uint8)


_TWO, _THREE = _table(2), _table(3)  # "00".."99", "000".."999" as byte rows


class Format(StrEnum):
    """Output formats: the native CSV (header = contract columns) or JSON lines."""

    CSV = "csv"
    JSONL = "jsonl"


def fixed_width(chars: _U8) -> Any:
    """An Arrow string array over an ``(n, width)`` byte matrix, without a copy per value."""
    n, width = chars.shape
    offsets = np.arange(0, n * width + 1, width, dtype=np.int32)
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars))
    )


def padded_ids(prefix: str, count: int) -> Any:
    """``prefix`` + zero-padded 0..count-1 (at least 6 digits), e.g. ``u000123``."""
    width = max(6, len(str(count - 1)))
    return pc.binary_join_element_wise(
        prefix, pc.utf8_lpad(pc.cast(pa.array(np.arange(count)), pa.string()), width, "0"), ""
    )


def iso_times(ms: I64) -> Any:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` for epoch milliseconds (UTC)."""
    days, rest = np.divmod(ms, DAY_MS)
    first = int(days.min()) if len(days) else 0
    # A chunk spans a day or two: render each date once, in Python, and index it.
    span = range(first, int(days.max()) + 1 if len(days) else first)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    dates = [(epoch + timedelta(days=d)).strftime("%Y-%m-%dT").encode() for d in span]
    out = np.empty((len(ms), 24), dtype=np.uint8)
    out[:, :11] = np.frombuffer(b"".join(dates), np.uint8).reshape(-1, 11)[days - first]
    out[:, 11:13] = _TWO[rest // 3_600_000]
    out[:, 14:16] = _TWO[rest // 60_000 % 60]
    out[:, 17:19] = _TWO[rest // 1000 % 60]
    out[:, 20:23] = _THREE[rest % 1000]
    out[:, [13, 16, 19, 23]] = np.frombuffer(b"::.Z", np.uint8)
    return fixed_width(out)


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    # splitmix64's finaliser: a cheap, well-spread bijection of 64-bit integers (wraps by design).
    z = x + _U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def session_ids(session: I64, seed: int) -> Any:
    """A UUID-v4-looking id per session number, the same for the same seed."""
    key = session.astype(np.uint64) ^ _U64(seed % 2**64)
    halves = np.stack((_mix(key ^ _U64(1)), _mix(key ^ _U64(2))), axis=1)
    raw = halves.astype(">u8").view(np.uint8).reshape(len(session), 16)
    nib = np.empty((len(session), 32), dtype=np.uint8)
    nib[:, 0::2], nib[:, 1::2] = raw >> 4, raw & 15
    nib[:, 12] = 4  # version 4 ...
    nib[:, 16] = 8 | (nib[:, 16] & 3)  # ... and the RFC 4122 variant
    out = np.full((len(session), 36), ord("-"), dtype=np.uint8)
    hexes = _HEX[nib]
    for start, stop, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        out[:, at : at + stop - start] = hexes[:, start:stop]
    return fixed_width(out)


class Renderer:
    """Turns published rows into lines of ``fmt``, malformed records included."""

    def __init__(self, fmt: Format, seed: int, catalogue: Catalogue, users: int) -> None:
        self._fmt, self._seed, self._csv = fmt, seed, fmt is Format.CSV
        self._users = padded_ids("u", users)
        unknown = catalogue.brand < 0
        cents = catalogue.price_cents
        self._product_fields = {
            "product_id": padded_ids("p", len(cents)),
            "category": pa.array([c[0] for c in CATEGORIES]).take(catalogue.category),
            "brand": pa.array(BRANDS).take(
                pa.array(np.where(unknown, 0, catalogue.brand), mask=unknown)
            ),
            "price": pc.binary_join_element_wise(
                pc.cast(pa.array(cents // 100), pa.string()), fixed_width(_TWO[cents % 100]), "."
            ),
        }
        self._types = pa.array([t.value for t in EventType])
        self._product_block = self._block(self._product_fields)
        if self._csv:
            self._type_block = pa.array([f",{t}," for t in EventType])
            self._tail = pa.array([f",{q},USD,generate\n" for q in range(MAX_QUANTITY + 1)])
        else:
            self._type_block = pa.array([f'","event_type":"{t}",' for t in EventType])
            tail = ',"quantity":{},"currency":"USD","source":"generate"}}\n'
            self._tail = pa.array([tail.format(q) for q in range(MAX_QUANTITY + 1)])

    def header(self) -> bytes:
        """What the file starts with: the CSV header row, nothing for JSON lines."""
        return (",".join(NATIVE_CSV_COLUMNS) + "\n").encode() if self._csv else b""

    def lines(self, rows: Rows) -> Any:
        """One line per row (newline included), in row order."""
        sessions, first, inverse = np.unique(rows.session, return_index=True, return_inverse=True)
        people = self._block(
            {
                "user_id": self._users.take(pa.array(rows.user[first])),
                "session_id": session_ids(sessions, self._seed),
            }
        )
        lead = ("g", ",") if self._csv else ('{"event_id":"g', '","event_time":"')
        lines = pc.binary_join_element_wise(
            f"{lead[0]}{self._seed}-",
            pc.cast(pa.array(rows.serial), pa.string()),
            lead[1],
            iso_times(rows.time),
            self._type_block.take(pa.array(rows.etype)),
            people.take(pa.array(inverse)),
            ",",
            self._product_block.take(pa.array(rows.product)),
            self._tail.take(pa.array(rows.quantity)),
            "",
        )
        bad = np.flatnonzero(rows.kind >= Kind.MALFORMED)
        if not len(bad):
            return lines
        return _replace(lines, bad.tolist(), self._malformed(rows.take(bad)))

    def _block(self, fields: dict[str, Any]) -> Any:
        # Several fields pre-rendered as one piece; in JSON an absent field leaves no pair.
        if self._csv:
            return pc.binary_join_element_wise(
                *fields.values(), ",", null_handling="replace", null_replacement=""
            )
        pairs = [pc.binary_join_element_wise(f'"{k}":"', v, '"', "") for k, v in fields.items()]
        return pc.binary_join_element_wise(*pairs, ",", null_handling="skip")

    def records(self, rows: Rows) -> list[dict[str, str | None]]:
        """The rows' fields as text (None = absent), in column order, before any corruption."""
        product = pa.array(rows.product)
        columns = {
            "event_id": [f"g{self._seed}-{s}" for s in rows.serial.tolist()],
            "event_time": iso_times(rows.time).to_pylist(),
            "event_type": self._types.take(pa.array(rows.etype)).to_pylist(),
            "user_id": self._users.take(pa.array(rows.user)).to_pylist(),
            "session_id": session_ids(rows.session, self._seed).to_pylist(),
            **{k: v.take(product).to_pylist() for k, v in self._product_fields.items()},
            "quantity": [str(q) for q in rows.quantity.tolist()],
            "currency": ["USD"] * len(rows),
            "source": ["generate"] * len(rows),
        }
        return [{k: columns[k][i] for k in NATIVE_CSV_COLUMNS} for i in range(len(rows))]

    def _malformed(self, rows: Rows) -> list[str]:
        lines = []
        for record, kind, serial in zip(
            self.records(rows), rows.kind.tolist(), rows.serial.tolist(), strict=True
        ):
            reason = REASONS[kind - Kind.MALFORMED]
            if reason in FIELD_REASONS:
                corrupt(reason, serial, record)
                lines.append(self._line(record))
            elif reason is Reason.NOT_AN_OBJECT:
                lines.append(
                    orjson.dumps([v for v in record.values() if v is not None]).decode() + "\n"
                )
            else:  # cut short, between 30 % and 60 % of the way: before the last comma or brace
                text = self._line(record)
                lines.append(text[: len(text) * (30 + serial % 31) // 100] + "\n")
        return lines

    def _line(self, record: dict[str, str | None]) -> str:
        if self._csv:
            return ",".join(v or "" for v in record.values()) + "\n"
        pairs = (
            f'"{k}":{v}' if k == "quantity" else f'"{k}":"{v}"'
            for k, v in record.items()
            if v is not None
        )
        return "{" + ",".join(pairs) + "}\n"


def _replace(array: Any, positions: list[int], values: Sequence[str]) -> Any:
    # Positions ascend: Arrow hands out the replacements in mask order.
    mask = np.zeros(len(array), dtype=np.bool_)
    mask[positions] = True
    return pc.replace_with_mask(array, pa.array(mask), pa.array(values, pa.string()))


class Sink:
    """A file written front to back, gzip-compressed when asked; counts the text bytes."""

    def __init__(self, path: Path, gzip: bool) -> None:
        self._file = path.open("wb")
        # zlib's own gzip framing has no file name and a zero mtime: equal input, equal bytes.
        self._zip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if gzip else None
        self.text_bytes = 0

    def write(self, data: bytes | memoryview) -> None:
        """Append ``data`` (uncompressed)."""
        self.text_bytes += len(data)
        self._file.write(self._zip.compress(data) if self._zip else data)

    def write_lines(self, lines: Any) -> None:
        """Append the bytes of an Arrow string array of lines, in one piece."""
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
        first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
        self.write(memoryview(lines.buffers()[2])[first:last])

    def close(self) -> None:
        """Finish the gzip stream and close the file."""
        if self._zip:
            self._file.write(self._zip.flush())
        self._file.close()

    def __enter__(self) -> Sink:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
