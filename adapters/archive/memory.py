"""The in-process archive: ``memory://NAME``, with the Parquet archive's semantics.

A first-class binding, not a mock: unit tests, the demo and the dead-letter
paths run against it. Archives opened with the same NAME in one process share
their data, as two clients of one bucket would. Tables are kept as written,
keyed by ``(dataset, partition, file name)``, so partition names, batch
replacement and range reads follow exactly the rules of ``parquet.py``
(both use :mod:`adapters.archive.partitioning`).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from adapters.archive.partitioning import (
    batch_of,
    check_batch_id,
    check_dataset,
    overlaps,
    part_file_name,
    require_pyarrow,
    split_by_hour,
    time_filter,
    with_batch_column,
)
from adapters.errors import ConfigurationError
from adapters.ports import ArchiveWrite

if TYPE_CHECKING:
    import pyarrow as pa

_Key = tuple[str, str, str]  # (dataset, partition, file name)

_STORES: dict[str, dict[_Key, pa.Table]] = {}
_LOCK = threading.Lock()


def reset(name: str | None = None) -> None:
    """Forget the data of archive ``name``, or of every memory archive (for tests)."""
    with _LOCK:
        if name is None:
            _STORES.clear()
        else:
            _STORES.pop(name, None)


class MemoryArchive:
    """An :class:`adapters.ports.Archive` held in this process's memory.

    Each call holds one process-wide lock, so a write (including the removal
    of a rewritten batch's stale files) is atomic to readers.
    """

    def __init__(self, url: str) -> None:
        require_pyarrow()
        parts = urlsplit(url)
        if parts.scheme != "memory":
            msg = f"MemoryArchive needs a memory://NAME URL, not {url!r}"
            raise ConfigurationError(msg)
        self.url = url
        self.name = (parts.netloc + parts.path).strip("/")

    def __repr__(self) -> str:
        return f"MemoryArchive({self.url!r})"

    def write(
        self, dataset: str, table: pa.Table, *, time_column: str, batch_id: str
    ) -> ArchiveWrite:
        """Write ``table`` under ``dataset``, one file per hour partition it touches."""
        check_dataset(dataset)
        check_batch_id(batch_id)
        new = {
            (dataset, part, part_file_name(batch_id)): rows
            for part, rows in split_by_hour(table, time_column)
        }
        with _LOCK:
            files = self._store()
            for key in [k for k in files if k[0] == dataset and batch_of(k[2]) == batch_id]:
                del files[key]
            files.update(new)
        return ArchiveWrite(files=tuple(self._path(key) for key in new), rows=table.num_rows)

    def read(
        self,
        dataset: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        time_column: str | None = None,
        with_batch: bool = False,
    ) -> pa.Table:
        """Rows of the hour partitions overlapping ``[start, end)``, without partition columns."""
        import pyarrow as pa

        check_dataset(dataset)
        with _LOCK:
            chosen = [
                with_batch_column(rows, batch_of(key[2])) if with_batch else rows
                for key, rows in sorted(self._store().items(), key=lambda item: item[0])
                if key[0] == dataset and overlaps(key[1], start, end)
            ]
        if not chosen:
            return pa.table({})
        # Same promotion as the Parquet archive: later batches may add columns.
        table = pa.concat_tables(chosen, promote_options="permissive")
        where = time_filter(table.schema, time_column, start, end)
        return table if where is None else table.filter(where)

    def partitions(self, dataset: str) -> list[str]:
        """Partition paths holding data, e.g. ``year=2026/month=11/day=25/hour=18``, sorted."""
        check_dataset(dataset)
        with _LOCK:
            return sorted({key[1] for key in self._store() if key[0] == dataset})

    def delete_dataset(self, dataset: str) -> None:
        """Remove a dataset entirely; no error when it does not exist."""
        check_dataset(dataset)
        with _LOCK:
            files = self._store()
            for key in [k for k in files if k[0] == dataset]:
                del files[key]

    def _store(self) -> dict[_Key, pa.Table]:
        # Looked up on every call (under the lock) so ``reset`` takes effect
        # for archives that are already open.
        return _STORES.setdefault(self.name, {})

    def _path(self, key: _Key) -> str:
        return "/".join((self.name, *key))
