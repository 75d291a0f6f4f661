"""The one place Spark sessions are built.

pyspark from PyPI lacks the Kafka connector; it is resolved from Maven
Central (``infra/local/spark/pom.xml``, version equal to pyspark's) into the
cache and put on ``spark.jars``, which only takes effect when the JVM starts:
so every session of the process must come from here.

On a cluster (EMR Serverless, Dataproc Serverless) the platform's entry
script starts the session from spark-submit's configuration first; then the
session is reused, and only the job's runtime SQL settings (time zone, state
store, shuffle partitions) are applied to it: the local ones (``local[2]``, a
driver on 127.0.0.1, the Maven jars, the Java check) would be wrong there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.localstack.maven import resolve_jars
from app.localstack.paths import INFRA_LOCAL, StackPaths
from app.localstack.tools import Progress, require_java
from app.settings import Settings, get_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: What spark-sql-kafka needs beyond the jars pyspark ships (no second lz4/snappy/slf4j).
CONNECTOR_ARTIFACTS = (
    "spark-sql-kafka-0-10_2.13",
    "spark-token-provider-kafka-0-10_2.13",
    "kafka-clients",
    "commons-pool2",
)
_ROCKSDB = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"


def connector_jars(settings: Settings, progress: Progress = print) -> list[str]:
    """The Kafka connector jars: ``STREAMKIT_SPARK__JARS`` if set, else resolved from Maven."""
    if settings.spark.jars:
        return [j.strip() for j in settings.spark.jars.split(",") if j.strip()]
    jars = resolve_jars(
        INFRA_LOCAL / "spark" / "pom.xml",
        StackPaths.of(settings).spark_jars,
        include=CONNECTOR_ARTIFACTS,
        progress=progress,
    )
    return [str(j) for j in jars]


def build_session(
    app_name: str = "streamkit",
    *,
    settings: Settings | None = None,
    extra_conf: dict[str, str] | None = None,
    progress: Progress = print,
) -> SparkSession:
    """A Spark session with the Kafka connector, UTC time and the RocksDB state store.

    ``extra_conf`` is the caller's; ``STREAMKIT_SPARK__CONF`` (the user's) applies over both.
    """
    from pyspark.sql import SparkSession

    s = settings or get_settings()
    active = SparkSession.getActiveSession()
    if active is not None:
        return _adopt(active, s, extra_conf or {}, progress)
    require_java(17)
    # Python workers must run this interpreter, or they miss pandas/pyarrow.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    conf = {
        "spark.master": s.spark.master,
        "spark.app.name": app_name,
        "spark.jars": ",".join(connector_jars(s, progress)),
        "spark.driver.memory": s.spark.driver_memory,
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.ui.enabled": str(s.spark.ui_enabled).lower(),
        # Stage progress bars would interleave with the job's own progress lines.
        "spark.ui.showConsoleProgress": "false",
        "spark.pyspark.python": sys.executable,
        "spark.sql.warehouse.dir": str(Path(s.state_dir) / "spark-warehouse"),
        **_sql_conf(s),
        **(extra_conf or {}),
        **s.spark.conf,
    }
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


def _sql_conf(settings: Settings) -> dict[str, str]:
    """The job's SQL settings, which a running session also takes."""
    return {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.spark.shuffle_partitions),
        "spark.sql.streaming.stateStore.providerClass": _ROCKSDB,
        # Commit a batch's state as a small changelog, not a full RocksDB snapshot.
        "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    }


def _adopt(
    session: SparkSession, settings: Settings, extra_conf: dict[str, str], progress: Progress
) -> SparkSession:
    """Reuse a session the platform started; set the job's SQL settings on it."""
    progress(f"using the running Spark session (master {session.sparkContext.master})")
    for key, value in {**_sql_conf(settings), **extra_conf, **settings.spark.conf}.items():
        if key.startswith("spark.sql."):
            session.conf.set(key, value)
    return session
