"""Compare the hot store with a recomputation from the archive, minute by minute.

A minute document is compared on its counts and its ``final`` flag: every field the operator
computes but ``watermark``, which says when the document was last written, not what it
counts (a batch of duplicates only leaves no records to replay, so the recomputation may
rewrite a minute one batch later; docs/operations.md). The latency histogram is not
compared: it measures the wall clock of the run, which a recomputation cannot repeat.
Sessions are compared whole, by session id, for sessions that started in the range.

A document that differs and was written by a batch newer than the archive's last complete
one is listed as *ahead*, not as a difference: a running job writes a batch to the hot store,
then to the archive dataset by dataset, and reports it done in its health document after; the
archive's newest batch counts as complete once the job has reported it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.ports import HotStore
from app.pipeline.documents import KPI_MINUTES, SESSIONS
from app.pipeline.output import MINUTE_COLUMNS
from app.pipeline.sinks import SESSION_FIELDS
from app.recompute.inputs import utc
from app.recompute.rerun import Document, Recomputed
from app.rehearse.diff import FieldDiff, keyed

#: The fields of a minute document a recomputation must reproduce.
COMPARED = tuple(name for name in MINUTE_COLUMNS if name not in ("minute", "watermark"))


@dataclass
class Reconciliation:
    """What differs between the hot store and the archive's recomputation over a range."""

    start: datetime
    end: datetime
    minutes: list[FieldDiff] = field(default_factory=list)
    sessions: list[FieldDiff] = field(default_factory=list)
    compared_minutes: int = 0
    compared_sessions: int = 0
    ahead: list[str] = field(default_factory=list)  # written after the archive's last batch

    @property
    def differing_minutes(self) -> list[str]:
        """The minutes with at least one difference, sorted."""
        return sorted({d.where for d in self.minutes})

    @property
    def identical(self) -> bool:
        """True when nothing differs."""
        return not self.minutes and not self.sessions


def in_range(stamp: Any, start: datetime, end: datetime) -> bool:
    """``start <= stamp < end`` for a datetime from any store."""
    return isinstance(stamp, datetime) and start <= utc(stamp) < end


def reconcile(
    hot: HotStore,
    recomputed: Recomputed,
    start: datetime,
    end: datetime,
    *,
    job_batch: int | None = None,
) -> Reconciliation:
    """The differences of the hot store's minutes and sessions in ``[start, end)``.

    ``job_batch`` is the last batch the job reported done (its health document), if any.
    """
    out = Reconciliation(start, end)
    last = int(recomputed.last_batch) if recomputed.last_batch is not None else -1
    if job_batch is not None and job_batch < last:
        # The job has not finished the archive's newest batch: its archive files may be
        # part-written (the hot store first, then the datasets one by one).
        last -= 1
    stored = {_iso(doc["minute"]): doc for doc in hot.find_range(KPI_MINUTES, "minute", start, end)}
    fresh = {_iso(m): doc for m, doc in recomputed.minutes.items() if start <= m < end}
    out.minutes = _differences(stored, fresh, _minute, last, out.ahead)
    out.compared_minutes = len(stored.keys() | fresh.keys())
    stored = {doc["session_id"]: doc for doc in hot.find_range(SESSIONS, "start", start, end)}
    fresh = {
        sid: doc
        for sid, doc in recomputed.session_documents().items()
        if in_range(doc["start"], start, end)
    }
    out.sessions = _differences(stored, fresh, _session, last, out.ahead)
    out.compared_sessions = len(stored.keys() | fresh.keys())
    return out


def _differences(
    stored: dict[str, Document],
    fresh: dict[str, Document],
    compared: Callable[[Document], Document],
    last_batch: int,
    ahead: list[str],
) -> list[FieldDiff]:
    """Differences of the compared fields; those of documents newer than the archive apart."""
    found = keyed(
        {key: compared(doc) for key, doc in stored.items()},
        {key: compared(doc) for key, doc in fresh.items()},
    )
    newer = {key for key, doc in stored.items() if int(doc.get("batch_id", -1)) > last_batch}
    ahead.extend(sorted({d.where for d in found if d.where in newer}))
    return [d for d in found if d.where not in newer]


def _minute(doc: Document) -> Document:
    return {name: doc.get(name) for name in COMPARED}


def _session(doc: Document) -> Document:
    return {
        name: utc(doc[name]) if isinstance(doc.get(name), datetime) else doc.get(name)
        for name in SESSION_FIELDS
    }


def _iso(stamp: datetime) -> str:
    return utc(stamp).strftime("%Y-%m-%dT%H:%MZ")
