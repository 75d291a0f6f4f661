"""Entry point of the stream job on EMR Serverless and Dataproc Serverless.

Each stack uploads this file next to the streamkit wheel and the job's Python environment
and submits it as the PySpark main file. It runs ``streamkit pipeline`` in-process with the
arguments it was given (``--once``, ``--reset``), the settings coming from the
``STREAMKIT_*`` variables the stack sets on the driver and the executors.

The platform's Spark session is created first, from the configuration spark-submit was
given (the cluster's master, the driver's address, the archives). The app's session factory
then finds it active and reuses it: its local defaults (``local[2]``, a driver bound to
127.0.0.1, the Kafka connector jars from Maven) are static settings, which Spark ignores for
a session that already exists.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence


def _platform_session() -> object:
    from pyspark.sql import SparkSession

    return SparkSession.builder.getOrCreate()


def _streamkit_cli() -> None:
    from app.cli.main import run

    run()


def main(
    argv: Sequence[str],
    *,
    session: Callable[[], object] = _platform_session,
    cli: Callable[[], None] = _streamkit_cli,
) -> None:
    """Run ``streamkit pipeline <argv>`` on the platform's Spark session."""
    session()
    # The Kafka connector jars are never needed in the clouds (Kinesis and Pub/Sub are Python
    # data sources); a non-empty value stops the factory from resolving them with Maven.
    os.environ.setdefault("STREAMKIT_SPARK__JARS", "provided-by-the-platform")
    sys.argv = ["streamkit", "pipeline", *argv]
    cli()


if __name__ == "__main__":
    main(sys.argv[1:])
