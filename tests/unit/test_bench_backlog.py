"""Committed offsets from a Spark checkpoint's logs, and the backlog against the end offsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.bench.backlog import behind, committed_offsets

TOPIC = "events_raw"


def planned(checkpoint: Path, batch: int, offsets: dict[str, int], *, committed: bool) -> None:
    """An offset-log entry as Spark writes it (version, metadata, one line per source)."""
    (checkpoint / "offsets").mkdir(parents=True, exist_ok=True)
    (checkpoint / "commits").mkdir(parents=True, exist_ok=True)
    metadata = {"batchWatermarkMs": 0, "batchTimestampMs": 1, "conf": {}}
    lines = ["v1", json.dumps(metadata), json.dumps({TOPIC: offsets})]
    (checkpoint / "offsets" / str(batch)).write_text("\n".join(lines))
    if committed:
        (checkpoint / "commits" / str(batch)).write_text('v1\n{"nextBatchWatermarkMs":0}')


def test_the_highest_committed_batch_counts_not_the_planned_one(tmp_path: Path) -> None:
    planned(tmp_path, 0, {"0": 10, "1": 5, "2": 0}, committed=True)
    planned(tmp_path, 1, {"0": 20, "1": 9, "2": 4}, committed=True)
    planned(tmp_path, 2, {"0": 30, "1": 9, "2": 8}, committed=False)  # planned, still running
    (tmp_path / "commits" / ".1.crc").write_text("")  # Spark's checksum files are ignored
    assert committed_offsets(tmp_path, TOPIC) == {0: 20, 1: 9, 2: 4}
    assert behind({0: 31, 1: 9, 2: 4}, committed_offsets(tmp_path, TOPIC)) == 11


def test_an_entry_purged_from_the_offset_log_falls_back_to_an_older_commit(tmp_path: Path) -> None:
    planned(tmp_path, 4, {"0": 7}, committed=True)
    (tmp_path / "commits" / "5").write_text("v1\n{}")  # its offsets entry is gone
    assert committed_offsets(tmp_path, TOPIC) == {0: 7}


def test_before_any_commit_everything_is_behind(tmp_path: Path) -> None:
    assert committed_offsets(tmp_path, TOPIC) == {}
    assert behind({0: 3, 1: 4}, {}) == 7


def test_a_checkpoint_of_another_topic_or_format_is_refused(tmp_path: Path) -> None:
    planned(tmp_path, 0, {"0": 1}, committed=True)
    with pytest.raises(ValueError, match="no offsets for topic 'other'"):
        committed_offsets(tmp_path, "other")
    (tmp_path / "offsets" / "0").write_text("v1")
    with pytest.raises(ValueError, match="not a Spark offset log entry"):
        committed_offsets(tmp_path, TOPIC)
