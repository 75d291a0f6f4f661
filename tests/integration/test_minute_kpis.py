"""Minute KPIs of the stream job's operator equal the independent oracle's, minute by minute."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pandas as pd
import pytest

from app.events.contract import Event
from app.events.rejects import validate
from app.generate import Options, generate
from app.pipeline.minutes import minute_kpis
from app.pipeline.validate import parse_and_validate
from app.producers.formats import Format, read
from app.settings import Settings
from app.spark.session import build_session
from tests.support.oracle import compute

pytestmark = [pytest.mark.spark, pytest.mark.integration]

BATCH = 1_000
COUNTED = [
    "page_views",
    "add_to_carts",
    "purchases",
    "remove_from_carts",
    "events",
    "revenue_cents",
    "sessions",
    "late_dropped",
]


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    session = build_session("streamkit-minutes", settings=Settings())
    yield session
    session.stop()


def batches_of_generated_traffic(tmp_path: Path) -> list[list[bytes]]:
    rows, minutes = 12_000, 120
    out = tmp_path / "events.csv"
    generate(Options.over(out, rows, minutes))
    records = [orjson.dumps(r.event) for r in read(out, Format.NATIVE) if r.event is not None]
    return [records[i : i + BATCH] for i in range(0, len(records), BATCH)]


def test_every_minute_matches_the_oracle(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    batches = batches_of_generated_traffic(tmp_path)
    source = tmp_path / "in"
    source.mkdir()
    stream = (
        spark.readStream.option("maxFilesPerTrigger", 1)
        .text(str(source))
        .select(
            F.col("value").cast("binary").alias("value"),
            F.current_timestamp().alias("publish_time"),
        )
    )
    query = (
        minute_kpis(parse_and_validate(stream))
        .writeStream.format("memory")
        .queryName("minutes_test")
        .outputMode("update")
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .start()
    )
    try:
        for n, batch in enumerate(batches):
            (source / f"{n:05d}.txt").write_bytes(b"\n".join(batch) + b"\n")
            query.processAllAvailable()
        emitted = spark.sql("SELECT * FROM minutes_test").toPandas()
    finally:
        query.stop()

    # The last document of each minute is what the hot store ends with.
    emitted["minute"] = pd.to_datetime(emitted["minute"], utc=True)
    final = emitted.groupby("minute").tail(1).set_index("minute").sort_index()
    expected = compute(
        [r for b in batches for r in b], batch_sizes=[len(b) for b in batches]
    ).minutes
    expected = expected.set_index("minute").sort_index()
    # Minutes holding only rejected records (attributed to their publish or future time)
    # have no KPIs; the oracle lists minutes with events.
    extra = final.loc[~final.index.isin(expected.index)]
    assert (extra[COUNTED].to_numpy() == 0).all()
    assert set(expected.index) <= set(final.index)
    final = final.loc[expected.index]
    diff = (final[COUNTED].astype("int64") - expected[COUNTED]).abs()
    assert int(diff.to_numpy().sum()) == 0, final[COUNTED][diff.any(axis=1)].head(10)
    assert int(final["late_dropped"].sum()) > 0
    assert final["final"].sum() > 0
    rejected = sum(1 for b in batches for r in b if not isinstance(validate(r), Event))
    everything = emitted.groupby("minute").tail(1)
    assert int(everything["deadlettered"].sum()) == rejected > 0
