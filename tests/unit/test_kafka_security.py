"""Kafka security settings become the same options for every librdkafka client and for Spark.

The settings' ``kafka`` group is mapped to librdkafka's names; the Kafka binding merges them
with the URL's query (the URL wins), hands them to each client it makes, and translates them
into the JVM client's ``kafka.*`` options (a JAAS config, a PEM truststore) for Spark. The
password is a ``SecretStr``: never in ``repr``, ``streamkit config`` or a masked URL.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from adapters.bus import kafka as kafka_binding
from adapters.bus import kafka_security
from adapters.bus.kafka import KafkaBus
from adapters.errors import ConfigurationError
from adapters.urls import mask_url
from app import bootstrap
from app.cli import main as cli_main
from app.localstack.kafka_secure import SecureListener
from app.settings import KafkaSettings, Settings

PASSWORD = 's3cr3t-"quoted"\\pass'


def scram(**extra: Any) -> KafkaSettings:
    values: dict[str, Any] = {
        "security_protocol": "sasl_ssl",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "app",
        "sasl_password": PASSWORD,
        "ssl_ca_location": "/etc/ca.pem",
    }
    return KafkaSettings(**{**values, **extra})


def test_settings_map_to_librdkafka_names() -> None:
    assert scram().client_options() == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "app",
        "sasl.password": PASSWORD,
        "ssl.ca.location": "/etc/ca.pem",
    }
    assert KafkaSettings().client_options() == {}
    off = scram(ssl_endpoint_identification=False).client_options()
    assert off["ssl.endpoint.identification.algorithm"] == "none"


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"sasl_mechanism": "PLAIN"}, "needs security_protocol SASL_SSL"),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256"},
            "needs sasl_username and sasl_password",
        ),
        ({"security_protocol": "TLS"}, "security_protocol"),
    ],
)
def test_inconsistent_settings_are_refused(values: dict[str, str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        KafkaSettings(**values)  # type: ignore[arg-type]


def test_every_client_of_the_binding_gets_the_security(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def recording(kind: str) -> Any:
        def make(config: dict[str, Any]) -> Any:
            seen.append((kind, config))
            raise RuntimeError(kind)  # stop here: no broker in unit tests

        return make

    monkeypatch.setattr(kafka_binding.ck, "Producer", recording("producer"))
    monkeypatch.setattr(kafka_binding.ck, "Consumer", recording("consumer"))
    monkeypatch.setattr(kafka_binding, "AdminClient", recording("admin"))
    bus = KafkaBus("kafka://h:9094/t", security=scram().client_options())
    for make in (
        bus.publisher,
        lambda: bus.reader("g"),
        lambda: bus.admin,
        lambda: bus.publish_times({0: 1}),
    ):
        with pytest.raises(RuntimeError):
            make()
    assert [kind for kind, _ in seen] == ["producer", "consumer", "admin", "consumer"]
    for _, config in seen:
        assert config["security.protocol"] == "SASL_SSL"
        assert config["sasl.mechanism"] == "SCRAM-SHA-512"
        assert config["sasl.password"] == PASSWORD
        assert config["ssl.ca.location"] == "/etc/ca.pem"


def test_the_url_query_wins_over_the_settings() -> None:
    bus = KafkaBus(
        "kafka://h:9094/t?sasl.mechanism=PLAIN&sasl.username=other",
        security=scram().client_options(),
    )
    options = bus.spark_options()
    assert options["kafka.sasl.mechanism"] == "PLAIN"
    assert options["kafka.sasl.jaas.config"].startswith(
        'org.apache.kafka.common.security.plain.PlainLoginModule required username="other" '
    )


def test_spark_options_use_the_jvm_clients_names() -> None:
    bus = KafkaBus(
        "kafka://h:9094/t?client.id=job",
        security=scram(ssl_endpoint_identification=False).client_options(),
    )
    assert bus.spark_options() == {
        "kafka.bootstrap.servers": "h:9094",
        "subscribe": "t",
        "kafka.client.id": "job",
        "kafka.security.protocol": "SASL_SSL",
        "kafka.sasl.mechanism": "SCRAM-SHA-512",
        "kafka.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            'username="app" password="s3cr3t-\\"quoted\\"\\\\pass";'
        ),
        "kafka.ssl.truststore.type": "PEM",
        "kafka.ssl.truststore.location": "/etc/ca.pem",
        "kafka.ssl.endpoint.identification.algorithm": "",
    }


def test_plaintext_spark_options_are_unchanged() -> None:
    assert KafkaBus("kafka://h:9092/t").spark_options() == {
        "kafka.bootstrap.servers": "h:9092",
        "subscribe": "t",
    }


def test_msk_iam_signs_a_token_for_librdkafka_and_names_the_jvm_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
    settings = KafkaSettings(
        security_protocol="SASL_SSL", sasl_mechanism="AWS_MSK_IAM", aws_region="eu-west-1"
    )
    config = kafka_security.client_config(settings.client_options())
    assert config["sasl.mechanism"] == "OAUTHBEARER"
    assert "sasl.aws.region" not in config
    token, expiry = config["oauth_cb"]("")
    assert token and expiry > time.time()
    spark = kafka_security.spark_options(settings.client_options())
    assert spark["kafka.sasl.mechanism"] == "AWS_MSK_IAM"
    assert "IAMLoginModule" in spark["kafka.sasl.jaas.config"]
    assert "sasl.aws.region" not in str(spark)


def test_msk_iam_without_a_region_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(ConfigurationError, match="STREAMKIT_KAFKA__AWS_REGION"):
        kafka_security.client_config({"sasl.mechanism": "AWS_MSK_IAM"})


def test_bootstrap_applies_the_settings_to_kafka_buses_only(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka=scram(), bus_url="kafka://h:9094/t")
    bus = bootstrap.bus(settings)
    assert bus.spark_options()["kafka.security.protocol"] == "SASL_SSL"  # type: ignore[attr-defined]
    memory = Settings(state_dir=tmp_path, kafka=scram(), bus_url="memory://x")
    assert type(bootstrap.bus(memory)).__name__ == "MemoryBus"


def test_the_password_is_never_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = scram()
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in settings.model_dump_json()
    assert PASSWORD not in repr(KafkaBus("kafka://h:9094/t", security=settings.client_options()))
    assert "***" in mask_url(f"kafka://h:9094/t?sasl.password={PASSWORD}")
    assert "s3cr3t" not in mask_url("kafka://h:9094/t?sasl.password=s3cr3t")
    monkeypatch.setenv("STREAMKIT_STATE_DIR", str(tmp_path))
    for name, value in settings.environment().items():
        monkeypatch.setenv(name, value)
    from app.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_main.app, ["config", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert '"sasl_username": "app"' in result.output
    assert "s3cr3t" not in result.output


def test_a_placeholder_password_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="STREAMKIT_KAFKA__SASL_PASSWORD"):
        Settings(env="production", kafka=scram(sasl_password="changeme"))


def test_the_local_listener_keeps_its_password_private(tmp_path: Path) -> None:
    listener = SecureListener(tmp_path / "secure", "127.0.0.1", 9094)
    listener.prepare()
    assert listener.password_file.stat().st_mode & 0o777 == 0o600
    assert listener.keystore_file.stat().st_mode & 0o777 == 0o600
    password = listener.password()
    assert len(password) >= 24
    assert not any(password in line for line in listener.hint(["events_raw", "dead"]))
    listener.prepare()  # idempotent: the same password, so SCRAM credentials stay valid
    assert listener.password() == password
    assert listener.client_options()["sasl.password"] == password
