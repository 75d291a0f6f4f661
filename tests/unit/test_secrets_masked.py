"""Secrets in settings never reach the output of the commands that show settings or services.

Passwords sit in URLs (``user:password@``, librdkafka's ``sasl.password``, pyarrow's S3
``secret_key``) and in ``SecretStr`` settings (API keys); ``streamkit config`` and
``streamkit local status`` print what they point at, masked.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adapters.registry import open_hot_store
from app.api.main import create_app
from app.cli import main as cli_main
from app.localstack.kafka import local_address
from app.localstack.tools import LocalStackError
from app.settings import Settings

SECRETS = ("hunter2", "kafkapass", "s3secret", "sesstoken", "apikey-1", "dashkey")


@pytest.fixture
def secret_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMKIT_STATE_DIR", str(tmp_path / "state"))  # no stack running here
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", "mongodb://app:hunter2@127.0.0.1:27017/streamkit")
    monkeypatch.setenv(
        "STREAMKIT_BUS_URL",
        "kafka://127.0.0.1:9092/events_raw?sasl.username=app&sasl.password=kafkapass",
    )
    monkeypatch.setenv(
        "STREAMKIT_ARCHIVE_URL",
        "s3://bucket/archive?access_key=AKIA&secret_key=s3secret&session_token=sesstoken",
    )
    monkeypatch.setenv("STREAMKIT_API__KEYS", '["apikey-1"]')
    monkeypatch.setenv("STREAMKIT_DASHBOARD__API_KEY", "dashkey")


@pytest.mark.parametrize(
    "args", [["config"], ["config", "--json"], ["local", "status"], ["local", "status", "--json"]]
)
@pytest.mark.usefixtures("secret_env")
def test_no_secret_is_printed(args: list[str]) -> None:
    result = CliRunner().invoke(cli_main.app, args)
    output = result.output
    assert output.strip(), result
    leaked = [s for s in SECRETS if s in output]
    assert not leaked, output


@pytest.mark.usefixtures("secret_env")
def test_config_still_shows_where_each_port_points() -> None:
    output = CliRunner().invoke(cli_main.app, ["config"]).output
    assert "mongodb://app:***@127.0.0.1:27017/streamkit" in output
    assert "sasl.username=app&sasl.password=***" in output
    assert "access_key=AKIA&secret_key=***&session_token=***" in output


def test_a_refused_remote_url_is_named_without_its_password() -> None:
    # `local up` refuses a hot store it cannot serve, and says which URL: masked.
    url = "mongodb://app:hunter2@db.example:27017/x"
    with pytest.raises(LocalStackError) as refused:
        local_address(url, "STREAMKIT_HOT_STORE_URL", 27017)
    assert "db.example" in str(refused.value) and "app:***@" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_health_names_a_bad_bus_url_without_its_password() -> None:
    # /health is open (no key): a bus that cannot be opened is reported, its secrets masked.
    settings = Settings(
        hot_store_url="memory://unused",
        bus_url="kafka://b.example:9092/?sasl.password=hunter2",
        api={"check_bus": True},
    )
    store = open_hot_store(f"memory://masked-{uuid.uuid4().hex[:8]}")
    with TestClient(create_app(settings, hot_store=store)) as api:
        body = api.get("/health").json()
    assert body["checks"]["bus"]["status"] == "fail"
    assert "hunter2" not in str(body) and "sasl.password=***" in body["checks"]["bus"]["detail"]
