"""On a cluster the platform's entry script starts Spark first; the job then reuses that session."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from app.settings import Settings
from app.spark.session import build_session

pytestmark = [pytest.mark.spark]


def test_a_running_session_is_reused_with_the_job_sql_settings(tmp_path: Path) -> None:
    platform = (
        SparkSession.builder.master("local[1]")
        .appName("platform")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "Europe/Paris")
        .getOrCreate()
    )
    try:
        lines: list[str] = []
        # No connector jars and no Maven: a cluster's job would not resolve them either.
        settings = Settings(
            state_dir=tmp_path,
            spark={
                "jars": "/nonexistent.jar",
                "conf": {"spark.sql.streaming.stateStore.rocksdb.compactOnCommit": "true"},
            },
        )
        session = build_session(
            "streamkit-pipeline",
            settings=settings,
            extra_conf={"spark.sql.shuffle.partitions": "1"},
            progress=lines.append,
        )
        assert session is platform
        assert session.sparkContext.master == "local[1]"  # the platform's, not local[2]
        assert session.conf.get("spark.sql.session.timeZone") == "UTC"
        assert session.conf.get("spark.sql.shuffle.partitions") == "1"
        # STREAMKIT_SPARK__CONF, the user's settings, apply to a reused session too.
        assert session.conf.get("spark.sql.streaming.stateStore.rocksdb.compactOnCommit") == "true"
        assert lines == ["using the running Spark session (master local[1])"]
    finally:
        platform.stop()
