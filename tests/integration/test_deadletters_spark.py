"""Dead letters made by the Spark job are the same records the Python writers make."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from app.events.rejects import DeadLetter, Reason, dead_letter_id
from app.pipeline.deadletters import dead_letters
from app.pipeline.validate import parse_and_validate
from app.settings import Settings
from app.spark.session import build_session

pytestmark = [pytest.mark.spark, pytest.mark.integration]

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
RAW = [
    b"{not json",
    b"",
    b"\xff\xfe\x00binary",
    b"[1, 2]",
    b'{"event_id": "e"}',
    "ünïcode".encode() * 100,
]


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    session = build_session("streamkit-deadletters", settings=Settings())
    yield session
    session.stop()


def test_spark_dead_letters_match_the_python_record(spark) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    rows = [(bytearray(raw), 2, 1000 + i) for i, raw in enumerate(RAW)]
    df = spark.createDataFrame(rows, "value binary, partition int, offset long")
    checked = parse_and_validate(df, now=F.lit(NOW)).where("reason IS NOT NULL")
    out = dead_letters(checked, "kafka:events_raw", F.lit(NOW)).collect()
    assert len(out) == len(RAW)

    letters = sorted(
        (DeadLetter.model_validate_json(bytes(r.value)) for r in out),
        key=lambda d: d.source_position,
    )
    for i, (raw, letter) in enumerate(zip(RAW, letters, strict=True)):
        position = f"2/{1000 + i}"
        assert letter.source_position == position
        assert letter.dead_letter_id == dead_letter_id(raw, "kafka:events_raw", position)
        assert letter.raw_b64 == base64.b64encode(raw).decode()
        assert letter.rejected_at == NOW
        assert letter.message
    assert {bytes(r.key) for r in out} == {d.dead_letter_id.encode() for d in letters}
    assert [d.reason for d in letters] == [
        Reason.NOT_JSON,
        Reason.NOT_JSON,
        Reason.NOT_JSON,
        Reason.NOT_AN_OBJECT,
        Reason.MISSING_FIELD,
        Reason.NOT_JSON,
    ]
