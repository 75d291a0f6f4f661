"""Where the stream job's output differs from the oracle's: minute KPIs and closed sessions.

Each comparison returns what differs (empty when nothing does) rather than asserting, so
``streamkit chaos`` can report it per scenario and the tests can assert on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from app.chaos.oracle import OracleResult, closed

#: Minute fields compared exactly with the oracle.
COUNTED = [
    "page_views",
    "add_to_carts",
    "purchases",
    "remove_from_carts",
    "events",
    "revenue_cents",
    "sessions",
    "late_dropped",
]
SESSION_FIELDS = ["user_id", "events", "page_views", "add_to_carts", "purchases", "revenue_cents"]
_EXAMPLES = 5


@dataclass(frozen=True)
class Differences:
    """What differs, as counts and a few examples; ``ok`` when nothing does."""

    #: Per compared field: the sum of absolute differences (minutes) or rows differing (sessions).
    by_field: dict[str, int] = field(default_factory=dict)
    #: Keys the oracle has and the job lacks, and the reverse.
    missing: int = 0
    unexpected: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing differs."""
        return not (self.missing or self.unexpected or any(self.by_field.values()))

    @property
    def total(self) -> int:
        """One number for a report's "differences" column."""
        return self.missing + self.unexpected + sum(self.by_field.values())

    def describe(self) -> str:
        """A few lines saying what differs, for an assertion message or a log."""
        if self.ok:
            return "no differences"
        fields = ", ".join(f"{k} {v:,}" for k, v in self.by_field.items() if v)
        head = f"{self.missing} missing, {self.unexpected} unexpected; differing: {fields or '-'}"
        return "\n".join([head, *self.examples])


def compare_minutes(emitted: pd.DataFrame, oracle: OracleResult) -> Differences:
    """The job's last document of each minute against the oracle's minute, field by field.

    Minutes holding only rejected records (attributed to their publish or future time)
    have no KPIs and the oracle does not list them: such a minute is unexpected only when
    it counts something.
    """
    emitted = emitted.assign(minute=pd.to_datetime(emitted["minute"], utc=True))
    final = emitted.groupby("minute").tail(1).set_index("minute").sort_index()
    expected = oracle.minutes.set_index("minute").sort_index()
    extra = final.loc[~final.index.isin(expected.index)]
    extra = extra[(extra[COUNTED].to_numpy() != 0).any(axis=1)]
    missing = expected.index[~expected.index.isin(final.index)]
    both = expected.index[expected.index.isin(final.index)]
    mine = final.loc[both, COUNTED].astype("int64")
    theirs = expected.loc[both, COUNTED].astype("int64")
    diff = (mine - theirs).abs()
    return Differences(
        by_field={c: int(diff[c].sum()) for c in COUNTED},
        missing=len(missing),
        unexpected=len(extra),
        examples=_examples("minute", missing, extra.index, diff != 0, mine, theirs),
    )


def compare_sessions(
    emitted: pd.DataFrame, oracle: OracleResult, last_event_time: pd.Timestamp
) -> Differences:
    """Closed sessions against the oracle's: each emitted once, equal, and known to it.

    Every session the oracle has closed by ``last_event_time`` must be emitted once and
    equal field by field; every emitted session must be one of the oracle's.
    ``missing`` counts closed sessions not emitted; ``unexpected`` emitted sessions the oracle
    does not have, plus repeated ids.
    """
    must = closed(oracle.sessions, last_event_time).set_index("session_id")
    repeated = int(emitted["session_id"].duplicated().sum())
    emitted = emitted.drop_duplicates("session_id").set_index("session_id")
    known = oracle.sessions.set_index("session_id")
    missing = must.index[~must.index.isin(emitted.index)]
    unknown = emitted.index[~emitted.index.isin(known.index)]
    columns = [*SESSION_FIELDS, "start", "end"]
    ids = emitted.index[emitted.index.isin(known.index)]
    mine = emitted.loc[ids, columns].copy()
    theirs = known.loc[ids, columns].copy()
    for column in ["start", "end"]:
        mine[column] = pd.to_datetime(mine[column], utc=True)
        theirs[column] = pd.to_datetime(theirs[column], utc=True)
    mine[SESSION_FIELDS[1:]] = mine[SESSION_FIELDS[1:]].astype("int64")
    differs = mine != theirs
    return Differences(
        by_field={c: int(differs[c].sum()) for c in columns},
        missing=len(missing),
        unexpected=len(unknown) + repeated,
        examples=_examples("session", missing, unknown, differs, mine, theirs),
    )


def _examples(
    kind: str,
    missing: pd.Index,
    unexpected: pd.Index,
    differs: pd.DataFrame,
    mine: pd.DataFrame,
    theirs: pd.DataFrame,
) -> list[str]:
    """A few keys of each sort of difference; for differing rows, each field's two values."""
    examples = [f"{kind} {_label(k)} missing" for k in missing[:_EXAMPLES]]
    examples += [f"{kind} {_label(k)} unexpected" for k in unexpected[:_EXAMPLES]]
    for key in differs.index[differs.any(axis=1)][:_EXAMPLES]:
        fields = [c for c in differs.columns if differs.at[key, c]]
        pairs = ", ".join(f"{c} {mine.at[key, c]} vs {theirs.at[key, c]}" for c in fields)
        examples.append(f"{kind} {_label(key)}: {pairs} (job vs oracle)")
    return examples


def _label(key: object) -> str:
    return key.isoformat() if isinstance(key, pd.Timestamp) else str(key)
