"""Write a recomputation's minutes and sessions of a range back to the hot store and archive.

* Each minute document of the range is upserted whole (its counts, ``final`` and
  ``watermark``); one document is one minute, so each replacement is atomic. Fields the
  recomputation does not produce — the latency histogram, which measured the original run's
  wall clock — are left as stored.
* Sessions that started in the range are upserted by session id, stored ones the
  recomputation no longer has (an added event merged or moved them) are deleted, and the
  ``session_minutes`` sums of the minutes in the range are set to the recomputed sessions'
  sums (absolute values, not increments: a backfill run twice writes the same).
* Events added to the recomputation (``--events``, app/recompute/arrivals.py) are archived
  first: each batch they joined has its events, late events and duplicates rewritten.
* In the archive, each batch that closed a minute or a session of the range has its
  ``kpi_minutes`` and ``sessions`` files rewritten from the recomputation, under the same
  batch id (a write replaces that batch's files), so the cold copy matches too.

A minute stored in the hot store but absent from the recomputation is reported, not removed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from adapters.ports import Archive, HotStore
from app.pipeline.documents import KPI_MINUTES, SESSION_MINUTES, SESSION_SUMS, SESSIONS
from app.recompute.inputs import utc
from app.recompute.reconcile import in_range
from app.recompute.rerun import Document, Recomputed


@dataclass
class Backfilled:
    """What a backfill wrote."""

    minutes: int = 0
    sessions: int = 0
    sessions_removed: int = 0  # stored in the range, gone from the recomputation
    session_minutes: int = 0
    archive_batches: list[str] = field(default_factory=list)
    stored_only: list[datetime] = field(default_factory=list)  # in the hot store, not recomputed


def backfill(
    hot: HotStore,
    archive: Archive,
    recomputed: Recomputed,
    start: datetime,
    end: datetime,
) -> Backfilled:
    """Replace the range's minutes and sessions with the recomputation's."""
    out = Backfilled()
    # Added events first: a backfill stopped after this finds them archived when run again,
    # and the dedup drops the copies it adds again.
    for batch_id, datasets in sorted(recomputed.archived.items()):
        for dataset, rows in datasets.items():
            if rows.num_rows:
                archive.write(dataset, rows, time_column="event_time", batch_id=batch_id)
    now = datetime.now(UTC)
    stamp = {"written_at": now, "backfilled_at": now}
    minutes = [doc | stamp for m, doc in sorted(recomputed.minutes.items()) if start <= m < end]
    if minutes:
        hot.upsert_many(KPI_MINUTES, minutes, ["minute"])
    out.minutes = len(minutes)
    written = {doc["minute"] for doc in minutes}
    out.stored_only = [
        utc(doc["minute"])
        for doc in hot.find_range(KPI_MINUTES, "minute", start, end)
        if utc(doc["minute"]) not in written
    ]

    recomputed_sessions = recomputed.session_documents()
    sessions = [
        doc | stamp for doc in recomputed_sessions.values() if in_range(doc["start"], start, end)
    ]
    if sessions:
        hot.upsert_many(SESSIONS, sessions, ["session_id"])
    out.sessions = len(sessions)
    # A session id is its user and start: an added event that starts a session earlier, or
    # bridges two, leaves stored sessions the recomputation no longer has.
    kept = {doc["session_id"] for doc in sessions}
    stale = [
        doc["session_id"]
        for doc in hot.find_range(SESSIONS, "start", start, end)
        if doc["session_id"] not in kept
    ]
    out.sessions_removed = hot.delete_keys(SESSIONS, "session_id", stale) if stale else 0
    sums = _session_sums(recomputed_sessions.values(), start, end, now)
    summed = {doc["minute"] for doc in sums}
    sums += [  # minutes whose sessions all went: their sums are zero now
        {"minute": utc(doc["minute"]), **dict.fromkeys(SESSION_SUMS, 0), "written_at": now}
        for doc in hot.find_range(SESSION_MINUTES, "minute", start, end)
        if utc(doc["minute"]) not in summed
    ]
    if sums:
        hot.upsert_many(SESSION_MINUTES, sums, ["minute"])
    out.session_minutes = len(sums)

    for batch_id in sorted(recomputed.closing.keys() | recomputed.sessions.keys()):
        closing = recomputed.closing.get(batch_id, pa.table({}))
        closed = recomputed.sessions.get(batch_id, pa.table({}))
        touches = any(in_range(m, start, end) for m in _column(closing, "minute")) or any(
            in_range(s, start, end) for s in _column(closed, "start")
        )
        if not touches:
            continue
        if closing.num_rows:
            archive.write(KPI_MINUTES, closing, time_column="minute", batch_id=batch_id)
        if closed.num_rows:
            archive.write(SESSIONS, closed, time_column="start", batch_id=batch_id)
        out.archive_batches.append(batch_id)
    return out


def _column(table: pa.Table, name: str) -> list[datetime]:
    return table[name].to_pylist() if table.num_rows else []


def _session_sums(
    sessions: Iterable[Document], start: datetime, end: datetime, now: datetime
) -> list[Document]:
    """Per minute of session end in the range, the sums the job adds up (absolute)."""
    sums: dict[datetime, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SESSION_SUMS, 0))
    for doc in sessions:
        if not in_range(doc["end"], start, end):
            continue
        minute = utc(doc["end"]).replace(second=0, microsecond=0)
        row = sums[minute]
        row["sessions"] += 1
        row["converted"] += int(bool(doc["converted"]))
        row["events"] += int(doc["events"])
        row["duration_ms"] += round(doc["duration_s"] * 1000)
        row["revenue_cents"] += int(doc["revenue_cents"])
    return [{"minute": m, **row, "written_at": now} for m, row in sorted(sums.items())]
