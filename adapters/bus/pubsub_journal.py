"""The Pub/Sub Spark source's journal: each planned batch's messages, kept until acknowledged.

Spark re-runs a planned batch after a crash with the offsets in its
checkpoint and expects the same records: the job's sinks are idempotent per
batch id only under that condition (see :mod:`app.pipeline.sinks`). Kafka can
re-read an offset range; Pub/Sub cannot. So the source writes each batch's
messages here before handing the batch's end offset to Spark, and a re-run
batch is read back from here, exactly (Spark Streaming's receiver write-ahead
log did the same for sources without replay).

Layout under the journal's root (a path, ``file://``, ``gs://`` or ``s3://``;
one directory per query, named by the run id the query's offsets carry):
``<run>/<seq>.arrow`` (Arrow IPC: ``message_id``, ``value``, ``partition``,
``offset``, ``publish_time``) and ``<run>/leases.json`` (until when
messages leased by this query's reader may still be out).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pyarrow as pa
from pyarrow import fs as pafs

from adapters.errors import TerminalError, TransientError
from adapters.filesystems import open_filesystem

SCHEMA = pa.schema(
    [
        ("message_id", pa.string()),
        ("value", pa.binary()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("publish_time", pa.timestamp("us", tz="UTC")),
    ]
)
_SUFFIX = ".arrow"


class Journal:
    """The journal directory of one query run."""

    def __init__(self, root_url: str, run: str) -> None:
        self.filesystem, root = open_filesystem(root_url)
        self.root = root.rstrip("/")
        self.dir = f"{self.root}/{run}"
        self.run = run

    def _path(self, seq: int) -> str:
        return f"{self.dir}/{seq:012d}{_SUFFIX}"

    def write(self, seq: int, table: pa.Table, *, redelivered: int = 0) -> None:
        """Store batch ``seq`` whole (written aside, then moved into place).

        ``redelivered`` counts the copies of earlier batches' messages that the
        batch acknowledges (Pub/Sub redelivered them after a restart); it is
        kept as the file's metadata, for operators and tests.
        """
        final, partial = self._path(seq), f"{self.dir}/.partial-{seq:012d}"
        schema = SCHEMA.with_metadata({"redelivered": str(redelivered)})
        try:
            self.filesystem.create_dir(self.dir, recursive=True)
            with (
                self.filesystem.open_output_stream(partial) as out,
                pa.ipc.new_file(out, schema) as writer,
            ):
                writer.write_table(table.cast(schema))
            self.filesystem.move(partial, final)
        except OSError as e:
            msg = f"could not write the Pub/Sub journal entry {final}: {e}"
            raise TransientError(msg) from e

    def read(self, seq: int) -> pa.Table:
        """Batch ``seq``; a ``TerminalError`` naming the cause when it is gone."""
        path = self._path(seq)
        try:
            with self.filesystem.open_input_file(path) as source:
                return pa.ipc.open_file(source).read_all()
        except FileNotFoundError as e:
            msg = (
                f"the Pub/Sub journal has no entry {path}, so the batch Spark is re-running "
                "cannot be read again exactly. The journal must outlive the checkpoint: point "
                "the bus URL's journal= at durable storage every Spark process reaches (gs://...)"
            )
            raise TerminalError(msg) from e
        except OSError as e:
            msg = f"could not read the Pub/Sub journal entry {path}: {e}"
            raise TransientError(msg) from e

    def redelivered(self, seq: int) -> int:
        """How many redelivered copies batch ``seq`` acknowledged (see :meth:`write`)."""
        metadata = self.read(seq).schema.metadata or {}
        return int(metadata.get(b"redelivered", b"0"))

    def seqs(self) -> list[int]:
        """The batches stored, in order."""
        selector = pafs.FileSelector(self.dir, allow_not_found=True)
        names = [info.base_name for info in self.filesystem.get_file_info(selector)]
        return sorted(int(n[: -len(_SUFFIX)]) for n in names if n.endswith(_SUFFIX) and n[0] != ".")

    def delete(self, seq: int) -> None:
        """Forget batch ``seq``; no error when it is gone."""
        try:
            self.filesystem.delete_file(self._path(seq))
        except FileNotFoundError:
            pass

    def other_runs(self) -> list[str]:
        """Directories of earlier query runs under the same root."""
        # Recursive: object stores (and their emulators) list prefixes unevenly.
        selector = pafs.FileSelector(self.root, allow_not_found=True, recursive=True)
        runs = {
            info.path[len(self.root) + 1 :].split("/", 1)[0]
            for info in self.filesystem.get_file_info(selector)
        }
        return sorted(f"{self.root}/{run}" for run in runs - {self.run, ""})

    def remove_other_runs(self) -> None:
        """Delete the journals of earlier runs (a new checkpoint has replaced theirs)."""
        for path in self.other_runs():
            self.filesystem.delete_dir(path)

    def note_leases(self, until: float) -> None:
        """Record that leased messages may be out until ``until`` (wall-clock seconds)."""
        self._put("leases.json", {"until": until, "written": time.time()})

    def leases_until(self) -> float:
        """Until when an earlier process of this run may have held messages (0: never)."""
        return float(self._get("leases.json").get("until", 0.0))

    def _put(self, name: str, document: dict[str, Any]) -> None:
        try:
            self.filesystem.create_dir(self.dir, recursive=True)
            with self.filesystem.open_output_stream(f"{self.dir}/{name}") as out:
                out.write(json.dumps(document).encode())
        except OSError as e:
            msg = f"could not write {self.dir}/{name}: {e}"
            raise TransientError(msg) from e

    def _get(self, name: str) -> dict[str, Any]:
        try:
            with self.filesystem.open_input_stream(f"{self.dir}/{name}") as source:
                document: dict[str, Any] = json.loads(source.read())
                return document
        except (FileNotFoundError, ValueError):
            return {}
