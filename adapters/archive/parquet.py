"""The Parquet archive: hour-partitioned datasets on any pyarrow filesystem.

One class serves ``file://`` URLs, plain paths, ``s3://bucket/prefix`` and
``gs://bucket/prefix``: the filesystem comes from the URL, and every byte
of data goes through it (never ``os``/``pathlib``), so the code that runs on
a laptop is the code that runs on a bucket.

Layout: ``<root>/<dataset>/year=YYYY/month=MM/day=DD/hour=HH/part-<batch_id>-<n>.parquet``.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any

from adapters.archive.partitioning import (
    batch_of,
    check_batch_id,
    check_dataset,
    common_prefix,
    is_data_file,
    is_partition,
    overlaps,
    part_file_name,
    require_pyarrow,
    split_by_hour,
    time_filter,
    with_batch_column,
)
from adapters.errors import StreamkitError, TerminalError, TransientError
from adapters.filesystems import open_filesystem
from adapters.ports import ArchiveWrite
from adapters.urls import mask_url

if TYPE_CHECKING:
    import pyarrow as pa


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn pyarrow and filesystem errors into the port's two error markers."""
    import pyarrow as pa

    try:
        yield
    except StreamkitError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
        # Bad schemas, corrupt files, unsupported types: retrying cannot help.
        msg = f"{action}: {e}"
        raise TerminalError(msg) from e
    except OSError as e:  # pyarrow's ArrowIOError is OSError
        msg = f"{action}: {e}"
        raise TransientError(msg) from e


class ParquetArchive:
    """An :class:`adapters.ports.Archive` of Parquet files on a pyarrow filesystem.

    A batch's files are written under a temporary dot-name and moved into
    place, so readers (which skip names starting with ``.`` or ``_``) never
    see half a file. Rewriting a batch replaces its files in place and then
    deletes its files in partitions the new rows no longer touch.
    """

    def __init__(self, url: str) -> None:
        require_pyarrow()
        self.url = url
        with _translated(f"open archive {mask_url(url)!r}"):
            self._fs, self._root = open_filesystem(url)

    def __repr__(self) -> str:
        return f"ParquetArchive({mask_url(self.url)!r})"

    def write(
        self, dataset: str, table: pa.Table, *, time_column: str, batch_id: str
    ) -> ArchiveWrite:
        """Write ``table`` under ``dataset``, one file per hour partition it touches."""
        base = self._dataset_path(dataset)
        check_batch_id(batch_id)
        parts = split_by_hour(table, time_column)
        with _translated(f"write batch {batch_id!r} of {dataset!r}"):
            before = {path for _, name, path in self._files(base) if batch_of(name) == batch_id}
            written = [self._write_file(base, part, rows, batch_id) for part, rows in parts]
            # New files first, stale ones after: a reader may briefly see too
            # much of a rewritten batch, never too little.
            for stale in sorted(before - set(written)):
                with suppress(FileNotFoundError):  # a concurrent rewrite got there first
                    self._fs.delete_file(stale)
        return ArchiveWrite(files=tuple(written), rows=table.num_rows)

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
        import pyarrow.dataset as ds

        base = self._dataset_path(dataset)
        with _translated(f"read {dataset!r}"):
            files = sorted(
                path
                for part, _, path in self._files(base, common_prefix(start, end))
                if overlaps(part, start, end)
            )
            if not files:
                return pa.table({})
            found = ds.dataset(files, filesystem=self._fs, format="parquet")
            # A later batch may add a column: read every file under one schema.
            schema = pa.unify_schemas(
                [fragment.physical_schema for fragment in found.get_fragments()],
                promote_options="permissive",
            )
            where = time_filter(schema, time_column, start, end)
            if not with_batch:
                return found.replace_schema(schema).to_table(filter=where)
            # The batch id is in each file's name, which a scan cannot project: per file.
            return pa.concat_tables(
                with_batch_column(
                    fragment.to_table(schema=schema, filter=where),
                    batch_of(posixpath.basename(fragment.path)),
                )
                for fragment in found.get_fragments()
            )

    def partitions(self, dataset: str) -> list[str]:
        """Partition paths holding data, e.g. ``year=2026/month=11/day=25/hour=18``, sorted."""
        base = self._dataset_path(dataset)
        with _translated(f"list partitions of {dataset!r}"):
            return sorted({part for part, _, _ in self._files(base)})

    def delete_dataset(self, dataset: str) -> None:
        """Remove a dataset entirely; no error when it does not exist."""
        from pyarrow import fs

        base = self._dataset_path(dataset)
        with _translated(f"delete {dataset!r}"):
            if self._fs.get_file_info(base).type != fs.FileType.NotFound:
                self._fs.delete_dir(base)

    def _dataset_path(self, dataset: str) -> str:
        return posixpath.join(self._root, check_dataset(dataset))

    def _files(self, base: str, below: str = "") -> Iterator[tuple[str, str, str]]:
        """``(partition, file name, path)`` of each data file under ``base/below``."""
        from pyarrow import fs

        top = posixpath.join(base, below) if below else base
        selector = fs.FileSelector(top, recursive=True, allow_not_found=True)
        for info in self._fs.get_file_info(selector):
            relative: str = info.path[len(base) + 1 :]
            part, _, name = relative.rpartition("/")
            if info.type == fs.FileType.File and is_partition(part) and is_data_file(name):
                yield part, name, str(info.path)

    def _write_file(self, base: str, partition: str, rows: pa.Table, batch_id: str) -> str:
        """Write one partition's rows atomically; return the final path."""
        import pyarrow.parquet as pq

        directory = posixpath.join(base, partition)
        final = posixpath.join(directory, part_file_name(batch_id))
        # Same directory, so the move is a rename (local) or a single copy (object
        # stores): either way the final name appears whole or not at all.
        temporary = posixpath.join(directory, f".tmp-{uuid.uuid4().hex}.parquet")
        self._fs.create_dir(directory, recursive=True)
        try:
            pq.write_table(rows, temporary, filesystem=self._fs)
            self._fs.move(temporary, final)
        except BaseException:
            with suppress(OSError):
                self._fs.delete_file(temporary)
            raise
        return final

    @property
    def filesystem(self) -> Any:
        """The pyarrow filesystem the archive lives on (for tools and tests)."""
        return self._fs

    @property
    def root(self) -> str:
        """The archive's root path on :attr:`filesystem`."""
        return str(self._root)
