"""Settings for one test on the real stack: its own topics, database and directories."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from adapters.ports import Bus
from adapters.registry import open_hot_store
from app.pipeline.documents import JOB_COLLECTIONS
from app.settings import Settings
from tests.conftest import MONGO_URL, require_tcp


@contextmanager
def isolated_settings(
    topics: tuple[Bus, Bus], root: Path, prefix: str, **overrides: Any
) -> Iterator[Settings]:
    """Settings on ``topics``, a database ``<prefix>_<random>`` and directories under ``root``.

    The job's collections are dropped afterwards.
    """
    require_tcp(MONGO_URL, "the MongoDB-wire server")
    events, dead = topics
    settings = Settings(
        bus_url=events.url,
        deadletter_url=dead.url,
        hot_store_url=f"mongodb://{urlsplit(MONGO_URL).netloc}/{prefix}_{uuid.uuid4().hex[:10]}",
        archive_url=(root / "archive").as_uri(),
        state_dir=root / "state",
        **overrides,
    )
    try:
        yield settings
    finally:
        store = open_hot_store(settings.hot_store_url.get_secret_value())
        for collection in JOB_COLLECTIONS:
            store.drop(collection)
        store.close()
