"""The local emulators as the tests' AWS: dummy credentials, Kinesis stream URLs.

Kinesis runs on moto's server and on kinesalite (which reshards like
Kinesis); the readers' checkpoint table is on moto's DynamoDB either way.
"""

from __future__ import annotations

import pytest

from tests.conftest import KINESALITE_ENDPOINT, MOTO_ENDPOINT, require_tcp


def use_moto_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials through the default chain, as in production: here the environment.

    moto's conventional dummy keys (it checks no signature); no instance
    metadata lookups, which would wait for a timeout on a laptop.
    """
    require_tcp(f"http://{MOTO_ENDPOINT}", "moto's server (`streamkit local up --emulators`)")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def kinesis_url(stream: str, query: str = "", *, kinesalite: bool = False) -> str:
    """The URL of ``stream`` on moto's Kinesis, or on kinesalite's."""
    if kinesalite:
        require_tcp(f"http://{KINESALITE_ENDPOINT}", "kinesalite (`local up --emulators`)")
        endpoint = f"endpoint=http://{KINESALITE_ENDPOINT}&dynamodb_endpoint=http://{MOTO_ENDPOINT}"
    else:
        endpoint = f"endpoint=http://{MOTO_ENDPOINT}"
    base = f"kinesis://{stream}?region=us-east-1&{endpoint}"
    return f"{base}&{query}" if query else base
