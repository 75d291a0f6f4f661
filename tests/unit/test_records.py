"""The operator's validation: raw bus records to typed columns, by the contract's validator.

Every record gets exactly the verdict and reason of :func:`app.events.rejects.validate` (the
producers' validator), valid ones its fields in the operator's column types, rejected ones
their raw bytes; the edge cases below are the contract's corners.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pandas as pd
import pytest

from app.events.contract import Event
from app.events.rejects import Rejection, validate
from app.generate import Options, generate
from app.generate.writer import Format as GenFormat
from app.pipeline.records import EVENT_FIELDS, check, event_time_of
from app.producers.formats import Format, read

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
BASE = {
    "event_id": "e1",
    "event_time": "2026-01-01T10:00:00Z",
    "event_type": "purchase",
    "user_id": "u1",
    "product_id": "p1",
    "price": "19.99",
}


def variant(**changes: object) -> bytes:
    record = {**BASE, **changes}
    return orjson.dumps({k: v for k, v in record.items() if v is not ...})


EDGE_CASES = [
    b"",
    b"   ",
    b"\xff\xfe{}",
    b"[1]",
    b"42",
    b"null",
    b'{"event_id": "e", "price": NaN}',
    variant(),
    variant(event_id=...),
    variant(event_id=None),
    variant(event_id="   "),
    variant(event_id=12),
    variant(event_id="x" * 129),
    variant(event_id="  padded  "),
    variant(event_time=...),
    variant(event_time=None),
    variant(event_time=1_700_000_000),
    variant(event_time="2026-01-01"),
    variant(event_time="2026-01-01T10:00:00"),
    variant(event_time="2026-01-01 10:00:00+01:00"),
    variant(event_time="2026-01-01T10:00:00.123456Z"),
    variant(event_time="2026-01-01T10:00:00.1234567Z"),
    variant(event_time="2026-02-30T10:00:00Z"),
    variant(event_time="2026-01-02T12:04:59Z"),
    variant(event_time="2026-01-02T12:05:01Z"),
    variant(event_type="view"),
    variant(event_type=None),
    variant(event_type=1),
    variant(event_type=" page_view"),
    variant(event_type="remove_from_cart"),
    variant(user_id=None),
    variant(session_id=None),
    variant(session_id=""),
    variant(session_id=5),
    variant(category="c" * 257),
    variant(category_id="1" * 64),
    variant(category_id="1" * 65),
    variant(brand=None),
    variant(price=...),
    variant(price=None),
    variant(price=19.99),
    variant(price=20),
    variant(price=-0.01),
    variant(price="-1"),
    variant(price="19.999"),
    variant(price="19.990"),
    variant(price=19.990),
    variant(price="1e3"),
    variant(price=" 1"),
    variant(price=True),
    variant(price=[1]),
    variant(price="9999999999.99"),
    variant(price="10000000000.00"),
    variant(event_type="page_view", price=...),
    variant(quantity=2),
    variant(quantity=0),
    variant(quantity=10_001),
    variant(quantity=2.0),
    variant(quantity="2"),
    variant(quantity=None),
    variant(quantity=True),
    variant(currency="usd"),
    variant(currency="EURO"),
    variant(currency=" EUR "),
    variant(source="s" * 65),
    variant(ingest_ts="2026-01-01T10:00:01Z"),
    variant(ingest_ts="yesterday"),
    variant(ingest_ts=None),
    variant(schema_version=2),
    variant(schema_version=0),
    variant(schema_version="1"),
    variant(extra_field={"nested": [1, 2]}),
]


def frame(records: list[bytes | None]) -> pd.DataFrame:
    n = len(records)
    return pd.DataFrame(
        {
            "value": records,
            "partition": [1] * n,
            "offset": list(range(n)),
            "publish_time": pd.to_datetime(["2026-01-02T11:59:00"] * n),
        }
    )


def naive(value: datetime | None) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value.astimezone(UTC).replace(tzinfo=None))


def assert_same_as_the_contract(records: list[bytes]) -> None:
    out = check(frame(list(records)), NOW)
    assert len(out) == len(records)
    mismatches = []
    for raw, row in zip(records, out.itertuples(index=False), strict=True):
        verdict = validate(raw, NOW)
        if isinstance(verdict, Rejection):
            expected = (verdict.reason.value, verdict.message, raw)
            if (row.reason, row.message, row.raw) != expected or row.event_id is not None:
                mismatches.append((raw[-60:], verdict.reason.value, row.reason))
            continue
        assert isinstance(verdict, Event)
        got = {name: getattr(row, name) for name in EVENT_FIELDS}
        want = verdict.model_dump()
        want["event_type"] = verdict.event_type.value
        for name in ("event_time", "ingest_ts"):
            want[name] = naive(want[name])
            got[name] = None if pd.isna(got[name]) else got[name]
        if got != want or (row.reason, row.message, row.raw) != (None, None, None):
            mismatches.append((raw[-60:], got, want))
        if row.parsed_event_time != want["event_time"]:
            mismatches.append((raw[-60:], "parsed_event_time", row.parsed_event_time))
    assert mismatches == []


def test_the_contract_corners_get_the_contract_verdicts() -> None:
    assert_same_as_the_contract(EDGE_CASES)


@pytest.mark.parametrize("fmt", [GenFormat.CSV, GenFormat.JSONL])
def test_generated_traffic_with_every_malformed_kind(tmp_path: Path, fmt: GenFormat) -> None:
    out = tmp_path / f"events.{fmt.value}"
    generate(Options.over(out, 4_000, 60, fmt=fmt))
    records = [
        orjson.dumps(r.event) if r.event is not None else r.raw
        for r in read(out, Format.NATIVE)
        if r.rejection is None
    ]
    assert_same_as_the_contract(records)


def test_the_rees46_sample() -> None:
    path = SHARED / "rees46_2019-Oct_first4999rows_phamhoa2416.csv"
    assert_same_as_the_contract(
        [orjson.dumps(r.event) for r in read(path, Format.REES46) if r.event is not None]
    )


def test_columns_have_the_operators_types_and_positions_pass_through() -> None:
    out = check(frame([variant(), variant(event_type="view"), None]), NOW)
    assert out["reason"].tolist() == [None, "unknown_event_type", "not_json"]
    assert out["event_time"].dtype == "datetime64[ns]"  # naive UTC, as Spark hands them over
    assert out.loc[0, "event_time"] == pd.Timestamp("2026-01-01T10:00:00")
    assert out.loc[0, "price"] == Decimal("19.99") and out.loc[0, "quantity"] == 1
    assert out.loc[0, "currency"] == "USD" and out.loc[0, "source"] == "unknown"
    assert out["offset"].tolist() == [0, 1, 2] and out["partition"].tolist() == [1, 1, 1]
    assert out["publish_time"].dtype == "datetime64[ns]"
    # A reject keeps its event time when it parses (it is counted in that minute) ...
    assert out.loc[1, "parsed_event_time"] == pd.Timestamp("2026-01-01T10:00:00")
    # ... and its bytes; a missing value is an empty record, not JSON.
    assert out.loc[1, "raw"] == variant(event_type="view")
    assert pd.isna(out.loc[2, "parsed_event_time"]) and out.loc[2, "raw"] is None


def test_prices_carry_two_places() -> None:
    out = check(frame([variant(price=20), variant(price="19.9")]), NOW)
    assert [str(p) for p in out["price"]] == ["20.00", "19.90"]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (b'{"event_time": "2026-01-01T10:00:00+01:00", "event_type": 5}', "2026-01-01T09:00:00"),
        (b'{"event_time": "2026-01-01 10:00:00Z"}', "2026-01-01T10:00:00"),
        (b'{"event_time": "2026-02-30T10:00:00Z"}', None),
        (b'{"event_time": "2026-01-01"}', None),
        (b'{"event_time": 1700000000}', None),
        (b"[1]", None),
        (b"\xff", None),
    ],
)
def test_a_rejects_event_time_is_read_when_well_formed(record: bytes, expected: str | None) -> None:
    got = event_time_of(record)
    assert (got.replace(tzinfo=None).isoformat() if got else None) == expected


def test_an_empty_batch_has_every_column() -> None:
    out = check(frame([]), NOW)
    assert out.empty
    assert list(out.columns) == [
        "reason",
        "message",
        "parsed_event_time",
        *EVENT_FIELDS,
        "partition",
        "offset",
        "publish_time",
        "raw",
    ]
