"""A checkpoint remembers the query it was written for; a changed query is refused on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.pipeline.identity import MANIFEST, QueryChangedError, check_identity, identity


def test_the_first_start_records_the_query_and_the_same_query_passes(tmp_path: Path) -> None:
    checkpoint = str(tmp_path / "pipeline")
    check_identity(checkpoint, "kafka:events_raw")
    recorded = json.loads((tmp_path / "pipeline" / MANIFEST).read_text())
    assert recorded == identity("kafka:events_raw")
    assert recorded["watermark_ms"] == 600_000 and recorded["session_gap_ms"] == 1_800_000
    check_identity(checkpoint, "kafka:events_raw")  # unchanged: no error


def test_another_source_is_refused_naming_the_change_and_the_fixes(tmp_path: Path) -> None:
    checkpoint = str(tmp_path / "pipeline")
    check_identity(checkpoint, "kafka:events_raw")
    before = (tmp_path / "pipeline" / MANIFEST).read_bytes()
    with pytest.raises(QueryChangedError) as refused:
        check_identity(checkpoint, "kafka:other_topic")
    message = str(refused.value)
    assert "source: 'kafka:events_raw' -> 'kafka:other_topic'" in message
    assert "STREAMKIT_CHECKPOINT_DIR" in message and "--reset" in message
    assert (tmp_path / "pipeline" / MANIFEST).read_bytes() == before  # untouched


def test_changed_time_rules_are_refused(tmp_path: Path) -> None:
    # A checkpoint written by a version with a 15-minute watermark and no session state.
    (tmp_path / "pipeline").mkdir()
    old = identity("kafka:events_raw") | {"watermark_ms": 900_000, "state_variables": ["ids"]}
    (tmp_path / "pipeline" / MANIFEST).write_text(json.dumps(old))
    with pytest.raises(QueryChangedError, match="watermark_ms: 900000 -> 600000") as refused:
        check_identity(str(tmp_path / "pipeline"), "kafka:events_raw")
    assert "state_variables" in str(refused.value)


def test_a_checkpoint_from_before_the_check_is_adopted(tmp_path: Path) -> None:
    (tmp_path / "pipeline" / "offsets").mkdir(parents=True)
    check_identity(str(tmp_path / "pipeline"), "kafka:events_raw")
    assert (tmp_path / "pipeline" / MANIFEST).is_file()
