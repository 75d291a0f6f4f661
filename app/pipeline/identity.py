"""What a checkpoint was written for, so a changed query is refused instead of run on it.

Spark keeps running a query whose source or semantics changed under an old checkpoint, as
long as the shapes still fit: another topic's offsets, or state built with another watermark
or session gap, would be taken as this query's, and the numbers silently wrong. The job
therefore writes ``streamkit-query.json`` next to Spark's files on its first start and
compares it on every start, before the query runs (so nothing in the checkpoint changes).
The operator's state layout has its own, deeper check (:func:`app.pipeline.job.check_state_layout`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from adapters.errors import StreamkitError
from app.pipeline import sessions, state

MANIFEST = "streamkit-query.json"


class QueryChangedError(StreamkitError):
    """The checkpoint belongs to a query that reads another source or means other things."""


def identity(source: str) -> dict[str, Any]:
    """What must not change under a checkpoint: the source, the state's layout, its time rules."""
    return {
        "source": source,
        "state_variables": list(state.VARIABLES),
        "watermark_ms": state.WATERMARK_MS,
        "session_gap_ms": sessions.GAP_MS,
    }


def changes(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Each item that differs, as ``name: recorded -> current``."""
    return [
        f"{name}: {recorded.get(name)!r} -> {current.get(name)!r}"
        for name in sorted(set(recorded) | set(current))
        if recorded.get(name) != current.get(name)
    ]


def check_identity(checkpoint: str, source: str) -> None:
    """Refuse a checkpoint written for another query; record this one's on a first start."""
    from adapters.filesystems import open_filesystem  # noqa: PLC0415 - needs pyarrow

    filesystem, root = open_filesystem(checkpoint.rstrip("/"))
    path = f"{root}/{MANIFEST}"
    current = identity(source)
    if filesystem.get_file_info(path).type.name != "NotFound":
        with filesystem.open_input_stream(path) as stream:
            recorded = json.loads(stream.read())
        if differences := changes(recorded, current):
            raise QueryChangedError(_refusal(checkpoint, differences))
        return
    # A new checkpoint, or one from before this check: from now on, it is this query's.
    filesystem.create_dir(root, recursive=True)
    with filesystem.open_output_stream(path) as stream:
        stream.write(json.dumps(current, indent=2).encode())


def _refusal(checkpoint: str, differences: list[str]) -> str:
    return (
        f"the checkpoint {checkpoint} was written by another query ({'; '.join(differences)}); "
        "running this one on it would mix the two. Undo the change, or give the new query "
        "its own checkpoint (STREAMKIT_CHECKPOINT_DIR), or start over with "
        "`streamkit pipeline --reset`, which reprocesses what the bus still holds"
    )
