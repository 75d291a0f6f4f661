"""Stack outputs are the app's settings: the names exist in app/settings.py and map back."""

from __future__ import annotations

import io
import json

import pytest

from app.settings import Settings
from infra.common.settings_outputs import (
    SECRET_OUTPUTS,
    SETTING_OUTPUTS,
    env_name,
    environment,
    gcp_secret_ref,
    is_secret_ref,
)
from infra.common.stack_env import exports, main
from tests.infra.conftest import StackRun


@pytest.mark.parametrize("output", SETTING_OUTPUTS)
def test_each_setting_output_is_a_setting(output: str) -> None:
    model: type = Settings
    *groups, field = output.split("__")
    for group in groups:
        model = model.model_fields[group].annotation  # type: ignore[assignment]
    assert field in model.model_fields, f"{env_name(output)} is not a setting"


def test_settings_read_the_exported_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = {
        "env": "production",
        "bus_url": "kinesis://s?region=eu-west-1",
        "hot_store_url": "mongodb://db.internal:27017/streamkit",
        "archive_url": "s3://b/archive",
        "api__keys": "k1",
        "dashboard__api_url": "https://api.example",
        "api_url": "not a setting",
    }
    env = environment(outputs)
    assert "STREAMKIT_API_URL" not in env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.bus_url == outputs["bus_url"]
    assert settings.hot_store_url.get_secret_value() == outputs["hot_store_url"]
    assert settings.api.key_list() == ["k1"]
    assert settings.dashboard.api_url == "https://api.example"


def test_stack_env_prints_quoted_exports_of_setting_outputs_only() -> None:
    outputs = {
        "bus_url": "pubsub://p/t?subscription=s",
        "dashboard_url": "https://x",
        "env": "production",
    }
    lines = exports(json.dumps(outputs))
    assert lines == [
        "export STREAMKIT_ENV=production",
        "export STREAMKIT_BUS_URL='pubsub://p/t?subscription=s'",
    ]
    out = io.StringIO()
    assert (
        main(
            io.StringIO(
                '{"hot_store_url": "gcp-secretmanager://projects/p/secrets/s/versions/latest"}'
            ),
            out,
        )
        == 0
    )
    assert (
        out.getvalue()
        == "export STREAMKIT_HOT_STORE_URL=gcp-secretmanager://projects/p/secrets/s/versions/latest\n"
    )
    with pytest.raises(ValueError, match="JSON object"):
        exports("[]")


def test_secret_outputs_of_both_clouds_are_references(aws_dev: StackRun, gcp_dev: StackRun) -> None:
    for stack in (aws_dev, gcp_dev):
        for name in SECRET_OUTPUTS:
            assert is_secret_ref(stack.outputs[name]), name
    assert (
        gcp_secret_ref("projects/p/secrets/s")
        == "gcp-secretmanager://projects/p/secrets/s/versions/latest"
    )
