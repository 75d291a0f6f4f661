"""The Spark validator and the Python contract give every record the same verdict and reason."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from app.events.contract import Event
from app.events.rejects import Rejection, validate
from app.generate import Options, generate
from app.generate.writer import Format as GenFormat
from app.pipeline.validate import parse_and_validate
from app.producers.formats import Format, read
from app.settings import Settings
from app.spark.session import build_session

pytestmark = [pytest.mark.spark, pytest.mark.integration]

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


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    session = build_session("streamkit-parity", settings=Settings())
    yield session
    session.stop()


def generated(tmp_path: Path, fmt: GenFormat) -> list[bytes]:
    out = tmp_path / f"events.{fmt.value}"
    rows, minutes = 4_000, 60
    generate(Options.over(out, rows, minutes, fmt=fmt))
    records = read(out, Format.NATIVE)
    return [
        orjson.dumps(r.event) if r.event is not None else r.raw
        for r in records
        if r.rejection is None
    ]


def rees46() -> list[bytes]:
    path = SHARED / "rees46_2019-Oct_first4999rows_phamhoa2416.csv"
    return [orjson.dumps(r.event) for r in read(path, Format.REES46) if r.event is not None]


def python_verdict(raw: bytes) -> tuple[str | None, dict[str, object] | None]:
    result = validate(raw, now=NOW)
    if isinstance(result, Rejection):
        return result.reason.value, None
    assert isinstance(result, Event)
    fields = result.model_dump()
    fields["event_type"] = result.event_type.value
    return None, fields


def spark_verdicts(
    spark, records: list[bytes]
) -> list[tuple[str | None, dict[str, object] | None]]:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    df = spark.createDataFrame(
        [(i, bytearray(r)) for i, r in enumerate(records)], "i int, value binary"
    )
    out = parse_and_validate(df, now=F.lit(NOW)).orderBy("i").collect()
    fields = list(Event.model_fields)
    verdicts = []
    for row in out:
        if row.reason is not None:
            verdicts.append((row.reason, None))
        else:
            verdicts.append((None, {f: row[f] for f in fields}))
    return verdicts


def compare(spark, records: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    mismatches = []
    for raw, (s_reason, s_fields) in zip(records, spark_verdicts(spark, records), strict=True):
        p_reason, p_fields = python_verdict(raw)
        if s_reason != p_reason:
            mismatches.append((raw[-40:], "python", p_reason, "spark", s_reason))
        elif p_fields is not None and s_fields is not None:
            for name, value in p_fields.items():
                other = s_fields[name]
                if isinstance(other, datetime):
                    other = (
                        other.replace(tzinfo=UTC) if other.tzinfo is None else other.astimezone(UTC)
                    )
                if value != other:
                    mismatches.append((raw[-40:], name, value, other))
    assert mismatches == []


def test_edge_cases(spark) -> None:  # type: ignore[no-untyped-def]
    compare(spark, EDGE_CASES)


@pytest.mark.parametrize("fmt", [GenFormat.CSV, GenFormat.JSONL])
def test_generated_traffic_with_every_malformed_kind(spark, tmp_path: Path, fmt: GenFormat) -> None:  # type: ignore[no-untyped-def]
    compare(spark, generated(tmp_path, fmt))


def test_the_rees46_sample(spark) -> None:  # type: ignore[no-untyped-def]
    compare(spark, rees46())
