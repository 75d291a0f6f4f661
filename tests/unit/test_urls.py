"""URL helpers: passwords never reach a log, query options read as a dict."""

from __future__ import annotations

import pytest

from adapters.urls import mask_url, query_options


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "mongodb://app:s3cret@127.0.0.1:27017/streamkit",
            "mongodb://app:***@127.0.0.1:27017/streamkit",
        ),
        (
            "mongodb+srv://app:s3cret@cluster0.example.net/streamkit?retryWrites=false",
            "mongodb+srv://app:***@cluster0.example.net/streamkit?retryWrites=false",
        ),
        (
            "mongodb://app:s3cret@db-1:27017,db-2:27017,db-3:27018/streamkit?replicaSet=rs0",
            "mongodb://app:***@db-1:27017,db-2:27017,db-3:27018/streamkit?replicaSet=rs0",
        ),
        (
            "mongodb://app:p%40ss%3Aw0rd@db-1:27017,db-2:27017/streamkit",
            "mongodb://app:***@db-1:27017,db-2:27017/streamkit",
        ),
        ("mongodb://app:pa:ss@db:27017/x", "mongodb://app:***@db:27017/x"),
        ("mongodb://app:@db:27017/x", "mongodb://app:***@db:27017/x"),
        ("kafka://user:pw@broker:9092/events_raw", "kafka://user:***@broker:9092/events_raw"),
        (
            "kafka://b:9093/events_raw?security.protocol=SASL_SSL&sasl.username=app"
            "&sasl.password=pw&ssl.key.password=kp",
            "kafka://b:9093/events_raw?security.protocol=SASL_SSL&sasl.username=app"
            "&sasl.password=***&ssl.key.password=***",
        ),
        (
            "s3://bucket/archive?access_key=AKIA1&secret_key=abc%2Fdef&session_token=t&region=x",
            "s3://bucket/archive?access_key=AKIA1&secret_key=***&session_token=***&region=x",
        ),
        ("https://api.example/x?API_KEY=k#top", "https://api.example/x?API_KEY=***#top"),
    ],
)
def test_passwords_are_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    "url",
    [
        "mongodb://127.0.0.1:27017/streamkit",
        "mongodb://db-1:27017,db-2:27017,db-3:27018/streamkit?replicaSet=rs0",
        "mongodb://app@db:27017/streamkit?authMechanism=MONGODB-X509",
        "kafka://127.0.0.1:9092/events_raw",
        "kafka://b1:9092,b2:9092/events_raw?security.protocol=SSL",
        "memory://hot",
        "file:///var/data/archive",
        "/var/data/archive",
        "s3://bucket/prefix",
        "kafka://b:9092/events_raw?sasl.password=",
        "mongodb://db:27017/x?fault.fail_keys=minute&fault.outage_file=/tmp/token",
    ],
)
def test_urls_without_a_password_are_unchanged(url: str) -> None:
    assert mask_url(url) == url


def test_only_the_authority_is_masked() -> None:
    # A colon and an @ later in the URL (path or query) are not credentials.
    url = "mongodb://db:27017/streamkit?appname=a:b@c"
    assert mask_url(url) == url


def test_query_options_last_value_wins_and_blanks_are_kept() -> None:
    url = "kafka://b:9092/t?acks=1&acks=all&client.id=&linger.ms=5"
    assert query_options(url) == {"acks": "all", "client.id": "", "linger.ms": "5"}


def test_query_options_of_a_url_without_a_query() -> None:
    assert query_options("memory://events") == {}
