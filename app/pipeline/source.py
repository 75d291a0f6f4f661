"""The stream job's source: the bus as a Spark stream of raw records.

The job needs ``value`` (bytes), ``partition``, ``offset`` and
``publish_time`` (when the bus accepted the record). Kafka is read with
Spark's own Kafka source; a bus binding offers it through
``spark_options()``. Other buses (Kinesis, Pub/Sub) get their Spark sources
with their bindings.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from adapters.errors import ConfigurationError
from adapters.ports import Bus


def bus_stream(spark: SparkSession, bus: Bus, max_records_per_batch: int) -> DataFrame:
    """The raw records of ``bus`` from its beginning (or the checkpoint's position)."""
    options: Any = getattr(bus, "spark_options", None)
    if options is None:
        msg = (
            f"the stream job has no Spark source for {bus!r} yet; use a kafka:// STREAMKIT_BUS_URL"
        )
        raise ConfigurationError(msg)
    return (
        spark.readStream.format("kafka")
        .options(**options())
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", str(max_records_per_batch))
        # A record that vanished before it was read (retention) stops the job
        # with an error rather than being skipped silently.
        .option("failOnDataLoss", "true")
        .load()
        .select(
            F.col("value"),
            F.col("partition"),
            F.col("offset"),
            F.col("timestamp").alias("publish_time"),
        )
    )
