"""The settings model: defaults, ``STREAMKIT_*`` overrides, derived paths, secrets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from app.settings import PROJECT_ROOT, Settings, get_settings

PASSWORD = "s3cr3t-Pa55"  # noqa: S105 - a test value, checked not to leak


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ``STREAMKIT_*`` from the caller's shell, and a fresh ``get_settings`` cache."""
    for name in list(os.environ):
        if name.upper().startswith("STREAMKIT_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults_run_the_local_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    s = Settings()
    assert s.env == "development"
    assert s.bus_url == "kafka://127.0.0.1:9092/events_raw"
    assert s.deadletter_url == "kafka://127.0.0.1:9092/events_deadletter"
    assert s.hot_store_url.get_secret_value() == "mongodb://127.0.0.1:27017/streamkit"
    assert s.state_dir == (PROJECT_ROOT / ".streamkit").resolve()
    assert s.cache_dir == (tmp_path / "xdg" / "streamkit").resolve()
    assert s.local.kafka_controller_port == 9093
    assert s.local.kafka_heap == "768m"
    assert s.local.mongo_server == "auto"
    assert s.local.start_timeout_s == 120.0
    assert (s.local.events_partitions, s.local.deadletter_partitions) == (3, 1)
    assert s.spark.master == "local[2]"
    assert s.spark.ui_enabled is False
    assert s.spark.jars == ""


def test_the_cache_dir_defaults_under_home_without_xdg(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Settings().cache_dir == (tmp_path / ".cache" / "streamkit").resolve()


def test_env_overrides_with_the_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STREAMKIT_ENV", "test")
    monkeypatch.setenv("STREAMKIT_BUS_URL", "memory://events_raw")
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", "memory://hot")
    monkeypatch.setenv("STREAMKIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("STREAMKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BUS_URL", "kafka://unprefixed:1/ignored")
    s = Settings()
    assert s.env == "test"
    assert s.bus_url == "memory://events_raw"
    assert s.hot_store_url.get_secret_value() == "memory://hot"
    assert s.state_dir == tmp_path / "state"
    assert s.cache_dir == tmp_path / "cache"


def test_env_nests_with_double_underscores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMKIT_LOCAL__KAFKA_HEAP", "2g")
    monkeypatch.setenv("STREAMKIT_LOCAL__KAFKA_CONTROLLER_PORT", "19093")
    monkeypatch.setenv("STREAMKIT_SPARK__SHUFFLE_PARTITIONS", "8")
    s = Settings()
    assert s.local.kafka_heap == "2g"
    assert s.local.kafka_controller_port == 19093
    assert s.local.mongo_server == "auto"  # untouched fields keep their defaults
    assert s.spark.shuffle_partitions == 8
    assert s.spark.master == "local[2]"


def test_spark_conf_is_json_in_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "spark.sql.streaming.stateStore.rocksdb.compactOnCommit"
    monkeypatch.setenv("STREAMKIT_SPARK__CONF", f'{{"{key}": "true"}}')
    assert Settings().spark.conf == {key: "true"}


def test_get_settings_reads_the_env_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMKIT_LOCAL__KAFKA_HEAP", "1g")
    first = get_settings()
    assert first.local.kafka_heap == "1g"
    monkeypatch.setenv("STREAMKIT_LOCAL__KAFKA_HEAP", "2g")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().local.kafka_heap == "2g"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STREAMKIT_LOCAL__KAFKA_HEAP", "lots"),
        ("STREAMKIT_LOCAL__KAFKA_CONTROLLER_PORT", "70000"),
        ("STREAMKIT_LOCAL__MONGO_SERVER", "postgres"),
        ("STREAMKIT_LOCAL__EVENTS_PARTITIONS", "0"),
        ("STREAMKIT_ENV", "staging"),
    ],
)
def test_bad_values_are_rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_archive_and_checkpoints_derive_from_the_state_dir(tmp_path: Path) -> None:
    s = Settings(state_dir=tmp_path / "state")
    assert s.archive_url == (tmp_path / "state" / "archive").as_uri()
    assert s.archive_url.startswith("file://")
    assert s.checkpoint_dir == str(tmp_path / "state" / "checkpoints")
    assert s.checkpoints == tmp_path / "state" / "checkpoints"


def test_explicit_archive_and_checkpoints_are_kept(tmp_path: Path) -> None:
    s = Settings(
        state_dir=tmp_path / "state",
        archive_url="s3://bucket/archive",
        checkpoint_dir=str(tmp_path / "ckpt"),
    )
    assert s.archive_url == "s3://bucket/archive"
    assert s.checkpoints == tmp_path / "ckpt"


@pytest.mark.parametrize("url", ["s3://bucket/checkpoints", "gs://bucket/checkpoints/"])
def test_a_checkpoint_url_is_kept_as_it_is(url: str) -> None:
    # The cluster writes it (EMRFS, the GCS connector); a Path would mangle s3:// into s3:/.
    s = Settings(checkpoint_dir=url)
    assert s.checkpoint_dir == url
    assert s.checkpoints is None  # nothing on this machine's disk
    assert s.environment()["STREAMKIT_CHECKPOINT_DIR"] == url
    from app.pipeline.job import checkpoint_of

    assert checkpoint_of(s) == url.rstrip("/") + "/pipeline"


def test_a_relative_checkpoint_path_is_made_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings(checkpoint_dir="ck").checkpoint_dir == str(tmp_path.resolve() / "ck")


def test_a_relative_state_dir_is_made_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREAMKIT_STATE_DIR", "rel/state")
    s = Settings()
    assert s.state_dir == tmp_path.resolve() / "rel" / "state"
    assert s.state_dir.is_absolute()
    assert s.checkpoints == s.state_dir / "checkpoints"


@pytest.mark.parametrize("env", ["production", "test"])
@pytest.mark.parametrize("placeholder", ["changeme", "CHANGE-ME", "placeholder", "<password>"])
def test_placeholder_passwords_are_rejected_outside_development(
    monkeypatch: pytest.MonkeyPatch, env: str, placeholder: str
) -> None:
    monkeypatch.setenv("STREAMKIT_ENV", env)
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", f"mongodb://app:{placeholder}@db:27017/streamkit")
    with pytest.raises(ValidationError, match="placeholder password") as info:
        Settings()
    assert env in str(info.value)


def test_placeholder_passwords_are_accepted_in_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", "mongodb://app:changeme@db:27017/streamkit")
    assert "changeme" in Settings().hot_store_url.get_secret_value()


def test_a_real_password_is_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMKIT_ENV", "production")
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", f"mongodb://app:{PASSWORD}@db:27017/streamkit")
    s = Settings()
    assert s.env == "production"
    assert PASSWORD in s.hot_store_url.get_secret_value()


def test_the_hot_store_url_does_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", f"mongodb://app:{PASSWORD}@db:27017/streamkit")
    s = Settings()
    assert isinstance(s.hot_store_url, SecretStr)
    assert PASSWORD not in repr(s)
    assert PASSWORD not in str(s)
    assert PASSWORD not in str(s.hot_store_url)
    assert PASSWORD not in repr(s.hot_store_url)
    assert PASSWORD not in s.model_dump_json()
    assert PASSWORD in s.hot_store_url.get_secret_value()
