"""The demo end to end on the real stack, with outcomes checked against the generator's manifest."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from adapters.ports import Bus
from adapters.registry import open_hot_store
from app.demo import run_demo
from app.generate import Options, generate
from app.settings import Settings
from tests.conftest import MONGO_URL, require_tcp

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.mongo]


@pytest.fixture
def settings(topics: tuple[Bus, Bus], tmp_path: Path) -> Iterator[Settings]:
    require_tcp(MONGO_URL, "the MongoDB-wire server")
    events, dead = topics
    s = Settings(
        bus_url=events.url,
        deadletter_url=dead.url,
        hot_store_url=f"mongodb://{urlsplit(MONGO_URL).netloc}/demo_{uuid.uuid4().hex[:10]}",
        archive_url=(tmp_path / "archive").as_uri(),
    )
    yield s
    open_hot_store(s.hot_store_url.get_secret_value()).drop("demo_minutes")


def test_the_demo_accounts_for_every_generated_row(settings: Settings, tmp_path: Path) -> None:
    rows, minutes = 6_000, 120
    source = tmp_path / "events.csv.gz"
    generate(Options.over(source, rows, minutes))
    manifest = json.loads((tmp_path / "events.csv.gz.manifest.json").read_text())
    kinds = manifest["kinds"]
    malformed = kinds["malformed"]

    result = run_demo(settings, rows, lambda _: None, source)

    assert result.replayed + result.dead_lettered == rows
    assert result.dead_lettered == malformed["truncated_record"]
    assert result.read_back == result.replayed
    assert result.valid == kinds["valid_unique"]
    assert result.duplicates == kinds["duplicates"]
    expected_rejects = {r: n for r, n in malformed.items() if n and r != "truncated_record"}
    assert dict(result.rejected) == expected_rejects
    assert result.archived >= result.valid
