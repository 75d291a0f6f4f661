"""Secret references: what is one, and malformed ones refused before any call."""

from __future__ import annotations

import pytest

from adapters import secrets
from adapters.errors import ConfigurationError
from app.settings import Settings


def test_plain_values_are_not_references() -> None:
    assert not secrets.is_reference("mongodb://127.0.0.1:27017/streamkit")
    assert secrets.resolve("mongodb://x/y", "S") == "mongodb://x/y"
    assert secrets.is_reference("aws-secretsmanager://arn:aws:secretsmanager:eu-west-1:1:secret:x")
    assert secrets.is_reference("gcp-secretmanager://projects/p/secrets/s")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("aws-secretsmanager://", "needs a secret ARN or name"),
        ("gcp-secretmanager://secrets/s", "expected gcp-secretmanager://projects/"),
        ("gcp-secretmanager://projects/p/secrets/s/versions/1/extra", "expected"),
        ("gcp-secretmanager://projects/p/secrets/s?host=x", "takes only \\?endpoint=host:port"),
        ("gcp-secretmanager://projects/p/secrets/s?endpoint=", "needs host:port"),
    ],
)
def test_malformed_references_name_the_form(value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        secrets.resolve(value, "STREAMKIT_HOT_STORE_URL")


def test_settings_without_references_hand_on_their_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", "mongodb://127.0.0.1:1/x")
    assert Settings().environment()["STREAMKIT_HOT_STORE_URL"] == "mongodb://127.0.0.1:1/x"
