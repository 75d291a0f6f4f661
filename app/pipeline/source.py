"""The stream job's source: the bus as a Spark stream of raw records.

The job needs ``value`` (bytes), ``partition`` (int), ``offset`` (long) and
``publish_time`` (timestamp: when the bus accepted the record). Kafka is read
with Spark's own Kafka source, configured by the binding's
``spark_options()``. Any other bus binding provides
``spark_stream(spark, max_records_per_batch)`` returning those four columns,
usually from a Python streaming data source (Kinesis, Pub/Sub) that keeps its
positions in the job's checkpoint.
"""

from __future__ import annotations

from typing import Any, cast

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from adapters.errors import ConfigurationError
from adapters.ports import Bus


def bus_stream(spark: SparkSession, bus: Bus, max_records_per_batch: int) -> DataFrame:
    """The raw records of ``bus`` from its beginning (or the checkpoint's position)."""
    own_stream: Any = getattr(bus, "spark_stream", None)
    if own_stream is not None:
        return cast(DataFrame, own_stream(spark, max_records_per_batch))
    options: Any = getattr(bus, "spark_options", None)
    if options is None:
        msg = (
            f"the stream job has no Spark source for {bus!r}:"
            " it offers neither spark_stream() nor spark_options()"
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
