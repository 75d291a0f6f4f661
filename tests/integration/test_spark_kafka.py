"""Spark reads the real broker through the connector jars the session factory resolves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import psutil
import pytest

from adapters.registry import open_bus
from app.settings import Settings
from app.spark.session import build_session
from tests.conftest import KAFKA_URL, require_tcp
from tests.support.sockets import listening, loopback

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.integration]


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    session = build_session("streamkit-tests", settings=Settings())
    yield session
    session.stop()


@pytest.fixture
def topic_url() -> Iterator[str]:
    require_tcp(KAFKA_URL, "Kafka")
    url = f"kafka://{urlsplit(KAFKA_URL).netloc}/spark_{uuid.uuid4().hex[:10]}"
    bus = open_bus(url)
    bus.ensure(3)
    yield url
    bus.delete()


def test_the_driver_listens_on_loopback_only(spark) -> None:  # type: ignore[no-untyped-def]
    # Issue 8: the driver's RPC, block manager and py4j gateway stay on this machine.
    assert spark.range(100).count() == 100
    jvms = [p for p in psutil.Process().children(recursive=True) if p.name() == "java"]
    found = {socket for jvm in jvms for socket in listening(jvm.pid)}
    assert jvms and found, "no Spark JVM or no listening socket found under this process"
    assert all(loopback(ip) for ip, _ in found), found


def test_the_session_is_utc_with_rocksdb_state(spark) -> None:  # type: ignore[no-untyped-def]
    conf = spark.conf
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.sql.streaming.stateStore.providerClass").endswith(
        "RocksDBStateStoreProvider"
    )
    assert "spark-sql-kafka-0-10_2.13-4.2.0.jar" in conf.get("spark.jars")


def test_a_stream_reads_every_message_published_to_kafka(spark, topic_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bus = open_bus(topic_url)
    publisher = bus.publisher()
    for i in range(300):
        publisher.publish(f'{{"n": {i}}}'.encode(), key=f"user-{i % 11}".encode())
    assert publisher.flush().delivered == 300

    options = bus.spark_options()  # type: ignore[attr-defined]
    stream = (
        spark.readStream.format("kafka")
        .options(**options)
        .option("startingOffsets", "earliest")
        .load()
    )
    query = (
        stream.selectExpr("CAST(value AS STRING) AS value", "partition")
        .writeStream.format("memory")
        .queryName("spark_kafka_test")
        .option("checkpointLocation", str(tmp_path / "ckpt"))
        .start()
    )
    try:
        query.processAllAvailable()
        rows = spark.sql("SELECT value, partition FROM spark_kafka_test").collect()
    finally:
        query.stop()
    assert sorted(int(r.value.split(":")[1].strip(" }")) for r in rows) == list(range(300))
    assert {r.partition for r in rows} == {0, 1, 2}
