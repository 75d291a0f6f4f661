"""``gcp-secretmanager://`` references through google-cloud-secret-manager's real client.

Google has no Secret Manager emulator: the client talks real gRPC to the
stand-in of :mod:`tests.support.secretmanager_fake`, reached by the
reference's ``?endpoint=`` as an emulator would be.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from adapters.errors import ConfigurationError
from app.settings import Settings
from tests.support.secretmanager_fake import FakeSecretManager, running_secret_manager

URL = "mongodb+srv://streamkit:s3cret@cluster0.example.mongodb.net/streamkit"
SECRET = "projects/streamkit-dev/secrets/hot-store-url"


@pytest.fixture
def manager() -> Iterator[FakeSecretManager]:
    with running_secret_manager() as fake:
        yield fake


def reference(manager: FakeSecretManager, name: str = SECRET, suffix: str = "") -> str:
    return f"gcp-secretmanager://{name}{suffix}?endpoint={manager.endpoint}"


def test_latest_is_the_newest_version_and_children_get_the_reference(
    manager: FakeSecretManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager.add_version(SECRET, "mongodb://old")
    manager.add_version(SECRET, URL)
    ref = reference(manager)
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", ref)
    settings = Settings()
    assert settings.hot_store_url.get_secret_value() == URL
    assert manager.requests == [f"{SECRET}/versions/latest"]
    assert "s3cret" not in repr(settings)
    assert settings.environment()["STREAMKIT_HOT_STORE_URL"] == ref


def test_a_pinned_version_and_one_field_of_a_json_secret(
    manager: FakeSecretManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager.add_version(SECRET, orjson.dumps({"url": URL}))
    manager.add_version(SECRET, orjson.dumps({"url": "mongodb://newer"}))
    monkeypatch.setenv(
        "STREAMKIT_HOT_STORE_URL",
        f"gcp-secretmanager://{SECRET}/versions/1?endpoint={manager.endpoint}#url",
    )
    assert Settings().hot_store_url.get_secret_value() == URL
    assert manager.requests == [f"{SECRET}/versions/1"]


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        (lambda m: None, "hot-store-url/versions/latest from Secret Manager: Secret .* not found"),
        (lambda m: m.add_version(SECRET, URL, enabled=False), "DISABLED state"),
        (lambda m: (m.add_version(SECRET, URL), m.denied.add(SECRET)), "Permission .* denied"),
    ],
    ids=["missing", "disabled", "denied"],
)
def test_refusals_are_configuration_errors_naming_the_secret(
    manager: FakeSecretManager, monkeypatch: pytest.MonkeyPatch, arrange: object, message: str
) -> None:
    arrange(manager)  # type: ignore[operator]
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", reference(manager))
    with pytest.raises(
        ConfigurationError, match=f"STREAMKIT_HOT_STORE_URL: cannot read .*{message}"
    ):
        Settings()
