"""What the Python streaming data sources of the buses share (Kinesis, Pub/Sub).

Each bus's source is a pyspark ``DataSource`` with the job's four source
columns, configured by the bus URL and a batch bound, and registered with the
session when the job builds its stream (see :mod:`app.pipeline.source`).
"""

from __future__ import annotations

from typing import ClassVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource

from adapters.errors import ConfigurationError

#: The columns the stream job reads from any bus.
SCHEMA = "value binary, partition int, offset long, publish_time timestamp"
DEFAULT_MAX_RECORDS = 50_000


class BusDataSource(DataSource):
    """A bus's source: ``spark.readStream.format(FORMAT).option("url", ...)``."""

    #: The format name the stream is read with.
    FORMAT: ClassVar[str]
    #: An example URL, for the error when none is given.
    URL_EXAMPLE: ClassVar[str]

    @classmethod
    def name(cls) -> str:
        """The format name the stream is read with."""
        return cls.FORMAT

    def schema(self) -> str:
        """The job's source columns."""
        return SCHEMA

    def reader_arguments(self) -> tuple[str, int]:
        """The bus URL and the records per batch the stream was given."""
        url = self.options.get("url")
        if not url:
            msg = f'the {self.FORMAT} source needs .option("url", "{self.URL_EXAMPLE}")'
            raise ConfigurationError(msg)
        return url, int(self.options.get("maxRecordsPerBatch", str(DEFAULT_MAX_RECORDS)))


def bus_stream(
    spark: SparkSession, source: type[BusDataSource], url: str, max_records_per_batch: int
) -> DataFrame:
    """The stream of ``url`` through ``source``, registered with ``spark`` first."""
    spark.dataSource.register(source)
    return (
        spark.readStream.format(source.FORMAT)
        .option("url", url)
        .option("maxRecordsPerBatch", str(max_records_per_batch))
        .load()
    )
