"""Secret settings given as Secrets Manager references, resolved on moto's server."""

from __future__ import annotations

import uuid

import boto3
import orjson
import pytest

from adapters.errors import ConfigurationError
from app.settings import Settings
from tests.conftest import MOTO_ENDPOINT
from tests.support.moto import use_moto_credentials

pytestmark = [pytest.mark.emulators, pytest.mark.integration]

URL = "mongodb://streamkit:s3cret@docdb.internal:27017/streamkit?tls=true&retryWrites=false"


@pytest.fixture
def secrets_manager(monkeypatch: pytest.MonkeyPatch) -> object:
    """moto's Secrets Manager, reached the way a VPC endpoint would be: by the SDK's variable."""
    use_moto_credentials(monkeypatch)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://{MOTO_ENDPOINT}")
    return boto3.client(
        "secretsmanager", region_name="us-east-1", endpoint_url=f"http://{MOTO_ENDPOINT}"
    )


def test_a_reference_is_resolved_and_handed_on_as_a_reference(
    secrets_manager: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"streamkit/hot-store-{uuid.uuid4().hex[:8]}"
    arn = secrets_manager.create_secret(Name=name, SecretString=URL)["ARN"]  # type: ignore[attr-defined]
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", f"aws-secretsmanager://{arn}")
    monkeypatch.setenv("STREAMKIT_API__KEYS", f"aws-secretsmanager://{name}")
    settings = Settings()
    assert settings.hot_store_url.get_secret_value() == URL
    assert settings.api.keys.get_secret_value() == URL  # by name as well as by ARN
    assert "s3cret" not in repr(settings)  # still masked
    # Child processes get the reference, never the password.
    assert settings.environment()["STREAMKIT_HOT_STORE_URL"] == f"aws-secretsmanager://{arn}"


def test_one_field_of_a_json_secret(
    secrets_manager: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"streamkit/keys-{uuid.uuid4().hex[:8]}"
    secrets_manager.create_secret(  # type: ignore[attr-defined]
        Name=name, SecretString=orjson.dumps({"url": URL, "other": 1}).decode()
    )
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", f"aws-secretsmanager://{name}#url")
    assert Settings().hot_store_url.get_secret_value() == URL
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", f"aws-secretsmanager://{name}#other")
    with pytest.raises(ConfigurationError, match="no string field 'other'"):
        Settings()


def test_a_missing_secret_names_it(
    secrets_manager: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", "aws-secretsmanager://streamkit/nowhere")
    with pytest.raises(ConfigurationError, match="streamkit/nowhere.*ResourceNotFoundException"):
        Settings()
