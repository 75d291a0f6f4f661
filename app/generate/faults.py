"""What a consumer must survive: duplicates, disorder, late and malformed records.

Faults are planned once, as exact counts placed on random clean events (by
serial), and applied chunk by chunk. Disorder is made by *publishing* an event
later than its event time: each row gets a publish key (``pkey``, ms) and the
file is written in publish-key order. What a consumer then sees is measured
by :class:`Tally` on the rows as written, with the same rules a reader of the
file would use (docs/generate.md), so the manifest states outcomes, not intents.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from adapters.errors import ConfigurationError
from app.events.rejects import Reason
from app.generate.traffic import I64, MINUTE_MS, PURCHASE, SECOND_MS, Events

#: The stream job's watermark: rows later than this behind the newest are dropped.
WATERMARK_MS = 10 * MINUTE_MS
#: Lateness up to this is jitter ("out of order"); beyond it, "late".
JITTER_MAX_MS = 2 * MINUTE_MS
#: From here on a run is large enough for every malformed kind to appear at least once.
ALL_KINDS_FROM_ROWS = 1_000
_NONE = -(2**62)  # "no valid row yet" for running maxima; far from overflowing


class Kind(IntEnum):
    """What was done to a clean event; malformed ones are ``MALFORMED + reason index``."""

    CLEAN = 0
    OUT_OF_ORDER = 1
    LATE_WITHIN = 2
    LATE_BEYOND = 3
    DUPLICATED = 4
    MALFORMED = 16


REASONS = tuple(Reason)
# Publish delays in ms (low, high) for each kind of disorder, and for re-sent copies.
DELAYS = {
    Kind.OUT_OF_ORDER: (2 * SECOND_MS, 60 * SECOND_MS),
    Kind.LATE_WITHIN: (5 * MINUTE_MS, 8 * MINUTE_MS),
    Kind.LATE_BEYOND: (12 * MINUTE_MS, 45 * MINUTE_MS),
    Kind.DUPLICATED: (20 * SECOND_MS, 4 * MINUTE_MS),
}
#: Reasons made by changing one field's text; the others are made by the writer
#: on the whole record (they depend on the format).
FIELD_REASONS = (
    Reason.MISSING_FIELD,
    Reason.UNKNOWN_EVENT_TYPE,
    Reason.NEGATIVE_PRICE,
    Reason.PURCHASE_WITHOUT_PRICE,
    Reason.BAD_EVENT_TIME,
    Reason.FUTURE_EVENT_TIME,
    Reason.BAD_FIELD,
)
_REQUIRED = ("event_id", "event_time", "event_type", "user_id", "product_id")
_UNKNOWN_TYPES = ("checkout", "PageView", "view", "wishlist")
FUTURE_YEARS = 100  # ahead of the data and of any clock that will ever validate it


def malformed_reasons(fmt: str) -> tuple[Reason, ...]:
    """The reasons a file of ``fmt`` can carry: CSV has no JSON to break, JSON lines no columns."""
    framing = {"csv": {Reason.TRUNCATED_RECORD}, "jsonl": {Reason.NOT_JSON, Reason.NOT_AN_OBJECT}}
    return tuple(r for r in REASONS if r in FIELD_REASONS or r in framing[fmt])


def code(reason: Reason) -> int:
    """The kind code of rows made malformed for ``reason``."""
    return Kind.MALFORMED + REASONS.index(reason)


@dataclass(frozen=True)
class Fractions:
    """Each fault as a fraction of the rows written."""

    duplicates: float = 0.01
    out_of_order: float = 0.02
    late_within: float = 0.005
    late_beyond: float = 0.002
    malformed: float = 0.002

    def __post_init__(self) -> None:
        total = sum(getattr(self, f.name) for f in fields(self))
        if min(getattr(self, f.name) for f in fields(self)) < 0 or total > 0.5:
            msg = f"fault fractions must be >= 0 and add up to at most 0.5 (they add up to {total})"
            raise ConfigurationError(msg)


@dataclass
class Rows(Events):
    """Events as published: when (``pkey``), what was done (``kind``), re-sent ``copy``."""

    pkey: I64
    kind: npt.NDArray[np.int8]
    copy: npt.NDArray[np.bool_]


class Injector:
    """Plans exact fault counts for ``rows`` rows and applies them to clean chunks."""

    def __init__(
        self, rows: int, fractions: Fractions, reasons: tuple[Reason, ...], rng: np.random.Generator
    ) -> None:
        self._rng = rng
        self.duplicates = round(rows * fractions.duplicates)
        self.clean = rows - self.duplicates
        counts: dict[int, int] = {
            Kind.OUT_OF_ORDER: round(rows * fractions.out_of_order),
            Kind.LATE_WITHIN: round(rows * fractions.late_within),
            Kind.LATE_BEYOND: round(rows * fractions.late_beyond),
            Kind.DUPLICATED: self.duplicates,
        }
        malformed = round(rows * fractions.malformed)
        if fractions.malformed > 0 and rows >= ALL_KINDS_FROM_ROWS:
            malformed = max(malformed, len(reasons))
        even, extra = divmod(malformed, len(reasons))
        for n, reason in enumerate(reasons):
            counts[code(reason)] = even + (n < extra)
        planned = sum(counts.values())
        if planned > self.clean:
            msg = f"{rows} rows are too few for the faults asked for; ask for more events"
            raise ConfigurationError(msg)
        serials = rng.choice(self.clean, size=planned, replace=False)
        kinds = np.repeat(np.array(list(counts), dtype=np.int8), list(counts.values()))
        order = np.argsort(serials)
        self._serials, self._kinds = serials[order], kinds[order]

    def apply(self, events: Events) -> Rows:
        """The chunk's rows with their publish keys, plus the re-sent copies."""
        first = int(events.serial[0])
        lo, hi = np.searchsorted(self._serials, [first, first + len(events)])
        kind = np.zeros(len(events), dtype=np.int8)
        kind[self._serials[lo:hi] - first] = self._kinds[lo:hi]
        pkey = events.time.copy()
        for delayed in (Kind.OUT_OF_ORDER, Kind.LATE_WITHIN, Kind.LATE_BEYOND):
            where = np.flatnonzero(kind == delayed)
            pkey[where] += self._rng.integers(*DELAYS[delayed], len(where))
        columns = {f.name: getattr(events, f.name) for f in fields(events)}
        rows = Rows(**columns, pkey=pkey, kind=kind, copy=np.zeros(len(events), np.bool_))
        again = rows.take(np.flatnonzero(kind == Kind.DUPLICATED))
        again.pkey = again.pkey + self._rng.integers(*DELAYS[Kind.DUPLICATED], len(again))
        again.copy = np.ones(len(again), np.bool_)
        return rows.concat(again)


def corrupt(reason: Reason, variant: int, row: dict[str, str | None]) -> None:
    """Break one field of ``row`` (text values; ``None`` = absent) so it fails for ``reason``."""
    time = row["event_time"] or ""
    if reason is Reason.MISSING_FIELD:
        row[_REQUIRED[variant % len(_REQUIRED)]] = None
    elif reason is Reason.UNKNOWN_EVENT_TYPE:
        row["event_type"] = _UNKNOWN_TYPES[variant % len(_UNKNOWN_TYPES)]
    elif reason is Reason.NEGATIVE_PRICE:
        row["price"] = f"-{row['price']}"
    elif reason is Reason.PURCHASE_WITHOUT_PRICE:
        row["event_type"], row["price"] = "purchase", None
    elif reason is Reason.BAD_EVENT_TIME:
        # Two classic producer bugs: a local time without offset, a day-first string.
        day_first = f"{time[8:10]}/{time[5:7]}/{time[:4]} {time[11:16]}"
        row["event_time"] = time.removesuffix("Z") if variant % 2 else day_first
    elif reason is Reason.FUTURE_EVENT_TIME:
        ahead = f"{int(time[:4]) + FUTURE_YEARS:04d}{time[4:]}"
        row["event_time"] = ahead.replace("-02-29T", "-02-28T")  # not every +100 is a leap year
    elif reason is Reason.BAD_FIELD and variant % 2:
        row["quantity"] = "0"
    elif reason is Reason.BAD_FIELD:
        row["currency"] = "usd"


@dataclass
class Tally:
    """What the written rows hold, measured in publish order the way a consumer sees them.

    A row is *valid* unless it was made malformed; the first valid row with an
    id is *unique*, later ones are duplicates. A unique row's lateness is the
    newest valid event time published before it minus its own: up to
    ``JITTER_MAX_MS`` it is out of order, up to ``WATERMARK_MS`` late within
    the watermark, beyond that late beyond it.
    """

    price_cents: I64
    rows: int = 0
    valid_unique: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    late_within: int = 0
    late_beyond: int = 0
    #: Late-beyond rows per minute of their event time (minute start, ms).
    late_beyond_minutes: Counter[int] = field(default_factory=Counter)
    malformed: dict[Reason, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    funnel: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    revenue_cents: int = 0
    time_min: int = 2**62
    time_max: int = _NONE

    def add(self, rows: Rows) -> None:
        """Count ``rows``, which follow every row added before."""
        self.rows += len(rows)
        valid = rows.kind < Kind.MALFORMED
        bad = np.bincount(rows.kind[~valid] - Kind.MALFORMED, minlength=len(REASONS))
        for reason, count in zip(REASONS, bad.tolist(), strict=True):
            self.malformed[reason] += count
        newest = np.maximum.accumulate(np.r_[self.time_max, np.where(valid, rows.time, _NONE)])
        self.time_max = int(newest[-1])
        lateness = np.where(newest[:-1] == _NONE, 0, newest[:-1] - rows.time)
        unique = valid & ~rows.copy
        self.valid_unique += int(unique.sum())
        self.duplicates += int((valid & rows.copy).sum())
        late = lateness[unique]
        self.out_of_order += int(((late > 0) & (late <= JITTER_MAX_MS)).sum())
        self.late_within += int(((late > JITTER_MAX_MS) & (late <= WATERMARK_MS)).sum())
        self.late_beyond += int((late > WATERMARK_MS).sum())
        beyond_times = rows.time[unique][late > WATERMARK_MS]
        self.late_beyond_minutes.update((beyond_times // MINUTE_MS * MINUTE_MS).tolist())
        if valid.any():
            self.time_min = min(self.time_min, int(rows.time[valid].min()))
        types = rows.etype[unique]
        for n, count in enumerate(np.bincount(types, minlength=4).tolist()):
            self.funnel[n] += count
        bought = unique & (rows.etype == PURCHASE)
        spent = self.price_cents[rows.product[bought]] * rows.quantity[bought]
        self.revenue_cents += int(spent.sum())
