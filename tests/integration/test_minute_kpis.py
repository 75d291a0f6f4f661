"""The stream operator's minutes and sessions equal the independent oracle's, batch by batch;
its state layout guards the checkpoint.

A file source with one file per micro-batch fixes the batch boundaries, so
the oracle knows exactly which events each batch's watermark made late.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pandas as pd
import pytest
from pyspark.sql.streaming.stateful_processor import StatefulProcessor, StatefulProcessorHandle

from app.chaos.oracle import compute
from app.events.contract import Event
from app.events.rejects import validate
from app.generate import Options, generate
from app.pipeline.job import check_state_layout
from app.pipeline.operator import operate
from app.pipeline.state import LayoutError
from app.producers.formats import Format, read
from app.settings import Settings
from app.spark.session import build_session
from tests.support.compare import assert_minutes_match, assert_sessions_match

pytestmark = [pytest.mark.spark, pytest.mark.integration]

BATCH = 1_000


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
            F.lit(0).alias("partition"),
            F.lit(0).cast("long").alias("offset"),
            F.current_timestamp().alias("publish_time"),
        )
    )
    query = (
        operate(stream)
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
        everything = spark.sql("SELECT * FROM minutes_test").toPandas()
    finally:
        query.stop()

    emitted = everything[everything["kind"] == "minute"].copy()
    oracle = compute([r for b in batches for r in b], batch_sizes=[len(b) for b in batches])
    assert_minutes_match(emitted, oracle)
    last_docs = emitted.groupby("minute").tail(1)
    assert int(last_docs["late_dropped"].sum()) > 0
    assert last_docs["final"].sum() > 0
    rejected = sum(1 for b in batches for r in b if not isinstance(validate(r), Event))
    assert int(last_docs["deadlettered"].sum()) == rejected > 0
    assert (everything["kind"] == "reject").sum() == rejected
    # Rejected for a future event time, a record counts where it was published:
    # no minute document lies years ahead of the traffic.
    rejects = everything[everything["kind"] == "reject"]
    assert (rejects["reason"] == "future_event_time").sum() > 0
    newest = max(
        everything.loc[everything["kind"] == "event", "event_time"].max(),
        pd.Timestamp.now(tz="UTC").tz_localize(None),  # Spark hands back naive UTC
    )
    assert emitted["minute"].max() <= newest + pd.Timedelta(minutes=6)
    emitted_sessions = everything[everything["kind"] == "session"].drop(columns="session_id")
    last_time = pd.Timestamp(
        everything.loc[everything["kind"] == "event", "event_time"].max(), tz="UTC"
    )
    assert_sessions_match(emitted_sessions.rename(columns={"sid": "session_id"}), oracle, last_time)


class _OneRowLayout(StatefulProcessor):
    """The state layout before the split: one value named ``clock``."""

    def init(self, handle: StatefulProcessorHandle) -> None:
        self.clock = handle.getValueState("clock", "max_ms long")

    def handleInputRows(self, key, rows, timerValues):  # type: ignore[no-untyped-def]  # noqa: N802, N803
        self.clock.update((sum(len(r) for r in rows),))
        yield pd.DataFrame({"n": [1]})

    def close(self) -> None:
        pass


def test_a_checkpoint_of_the_old_state_layout_is_refused_before_the_query_starts(
    spark, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    source = tmp_path / "in"
    source.mkdir()
    (source / "0.txt").write_text("x\n")
    checkpoint = str(tmp_path / "checkpoint")
    query = (
        spark.readStream.text(str(source))
        .withColumn("clock", F.lit(0))
        .groupBy("clock")
        .transformWithStateInPandas(_OneRowLayout(), "n long", "update", "None")
        .writeStream.format("memory")
        .queryName("old_layout")
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    with pytest.raises(LayoutError, match="clock.*streamkit pipeline --reset"):
        check_state_layout(spark, checkpoint)
    check_state_layout(spark, str(tmp_path / "new"))  # nothing there yet: accepted
