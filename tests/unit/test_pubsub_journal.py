"""The Pub/Sub Spark source's journal on a local directory (no service, no Spark)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from adapters.bus.pubsub_journal import Journal
from adapters.bus.pubsub_spark import rows_of
from adapters.errors import TerminalError

AT = datetime(2026, 11, 26, 6, 0, 1, 250_000, tzinfo=UTC)


def batch(*ids: str) -> pa.Table:
    return pa.table(
        {
            "message_id": list(ids),
            "value": [i.encode() for i in ids],
            "partition": [1] * len(ids),
            "offset": [int(i[1:]) for i in ids],
            "publish_time": [AT] * len(ids),
        }
    )


def test_a_batch_reads_back_exactly_as_the_sources_rows(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path), "run1")
    journal.write(1, batch("m7", "m9"), redelivered=3)
    assert list(rows_of(journal.read(1))) == [(b"m7", 1, 7, AT), (b"m9", 1, 9, AT)]
    assert journal.redelivered(1) == 3
    assert not list(tmp_path.glob("run1/.partial-*"))  # written aside, then moved


def test_batches_are_listed_in_order_and_forgotten_on_delete(tmp_path: Path) -> None:
    journal = Journal(tmp_path.as_uri(), "run1")
    for seq in (3, 1, 2):
        journal.write(seq, batch(f"m{seq}"))
    journal.write(4, batch())  # an empty batch is a batch too
    assert journal.seqs() == [1, 2, 3, 4]
    journal.delete(2)
    journal.delete(2)  # no error when gone
    assert journal.seqs() == [1, 3, 4]
    assert Journal(str(tmp_path), "run2").seqs() == []


def test_a_missing_entry_is_terminal_and_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(TerminalError, match="journal= at durable storage"):
        Journal(str(tmp_path), "run1").read(5)


def test_leases_are_remembered_per_run(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path), "run1")
    assert journal.leases_until() == 0.0
    journal.note_leases(1234.5)
    assert Journal(str(tmp_path), "run1").leases_until() == 1234.5
    assert Journal(str(tmp_path), "run2").leases_until() == 0.0


def test_a_new_run_removes_earlier_runs(tmp_path: Path) -> None:
    Journal(str(tmp_path), "old").write(1, batch("m1"))
    fresh = Journal(str(tmp_path), "new")
    fresh.write(1, batch("m2"))
    fresh.remove_other_runs()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]
