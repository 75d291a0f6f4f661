"""What a side's pipeline produced, in a form two sides can be compared in.

Read through the same ports the API and the tools use: minute documents
(as the API shows them, minus what depends on when and how fast the run
went: latency, watermark, write time), closed sessions, and the row counts
of the archive's datasets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.registry import open_archive, open_hot_store
from app.pipeline.documents import KPI_MINUTES, minute_view
from app.pipeline.sinks import SESSION_FIELDS
from app.rehearse.sides import Side, credentials_of

#: Minute fields compared: every KPI of docs/kpis.md except the run-dependent ones.
RUN_DEPENDENT = ("latency_ms", "watermark", "written_at")
#: Counts that show a minute holds data, not only dead letters.
DATA_COUNTS = ("events", "late_dropped")
ARCHIVE_DATASETS = ("events", "late_events", "sessions", "kpi_minutes")


@dataclass(frozen=True)
class Outputs:
    """One side's results."""

    #: minute (ISO) -> its compared KPI fields.
    minutes: dict[str, dict[str, Any]]
    #: session_id -> its fields.
    sessions: dict[str, dict[str, Any]]
    #: archive dataset -> row count.
    archived_rows: dict[str, int]

    def data_minutes(self) -> dict[str, dict[str, Any]]:
        """Minutes holding events (counted or late).

        Records rejected for their time are counted in the minute they were
        published, which is wall-clock time and differs between two runs:
        those minutes hold only dead letters and are compared as a total.
        """
        return {m: kpis for m, kpis in self.minutes.items() if any(kpis[f] for f in DATA_COUNTS)}

    def dead_letters_elsewhere(self) -> int:
        """Dead letters counted in minutes without events (publish-time minutes)."""
        data = self.data_minutes()
        return sum(k["deadlettered"] for m, k in self.minutes.items() if m not in data)


def collect(side: Side) -> Outputs:
    """Read ``side``'s hot store and archive."""
    with credentials_of(side):
        store = open_hot_store(side.env["STREAMKIT_HOT_STORE_URL"])
        try:
            minutes = {}
            for doc in store.find_range(KPI_MINUTES, "minute"):
                view = minute_view(doc)
                minutes[view["minute"]] = {k: v for k, v in view.items() if k not in RUN_DEPENDENT}
            sessions = {
                str(doc["session_id"]): {f: _plain(doc.get(f)) for f in SESSION_FIELDS}
                for doc in store.find_range("sessions", "session_id")
            }
        finally:
            store.close()
        archive = open_archive(side.env["STREAMKIT_ARCHIVE_URL"])
        archived = {name: archive.read(name).num_rows for name in ARCHIVE_DATASETS}
    return Outputs(minutes, sessions, archived)


def _plain(value: Any) -> Any:
    """Datetimes as ISO strings, so both sides' values compare and print alike."""
    return value.isoformat() if hasattr(value, "isoformat") else value
