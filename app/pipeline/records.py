"""The bus's raw records as the stream operator's typed frame, by the contract's own validator.

The operator receives each record's bytes and its position on the bus. :func:`check` runs
:func:`app.events.rejects.validate` over them (the validator the producers use: one rule set,
in one place) and lays the verdicts out as columns: the contract's fields for valid events,
the reason code, the validator's message and the raw bytes for rejected ones, and for every
record its event time whenever that parses (a reject is counted in that minute,
docs/kpis.md).

Why here and not in Spark SQL: the same rules written as Spark expressions cost ~150 µs a
record (a variant lookup and a regular expression per field), the Python validator ~40 µs on
one core (docs/performance.md).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import orjson
import pandas as pd

from app.events.contract import TIMESTAMP_PATTERN, Event, in_span, parse_utc
from app.events.rejects import validate

#: The contract's fields, in its order: the operator's columns of a valid event.
EVENT_FIELDS = tuple(Event.model_fields)
#: Where a record sat on the bus, kept on archived and dead-lettered rows.
POSITION = ("partition", "offset", "publish_time")
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)
_CENT = Decimal("0.01")
_NO_FIELDS = (None,) * len(EVENT_FIELDS)


def check(raw: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Raw records (``value`` bytes and :data:`POSITION`) as the operator's typed columns.

    The columns: ``reason``, ``message``, ``parsed_event_time``, :data:`EVENT_FIELDS`,
    :data:`POSITION` and ``raw``. A valid record has a null ``reason`` and its fields; a
    rejected one its reason code, the validator's message, null fields and its bytes in
    ``raw`` (only rejects keep them: the dead-letter topic needs them). Times are UTC without
    a zone, as Spark hands timestamps to Python. ``now`` is the clock of the future-time rule.
    """
    values = raw["value"].tolist()
    n = len(values)
    reasons: list[str | None] = [None] * n
    messages: list[str | None] = [None] * n
    rows: list[tuple[Any, ...]] = [_NO_FIELDS] * n
    times: list[datetime | None] = [None] * n
    for i, value in enumerate(values):
        data = bytes(value) if value is not None else b""
        verdict = validate(data, now)
        if isinstance(verdict, Event):
            # A model's __dict__ holds its fields in declaration order: one tuple a record,
            # transposed below, is a third of the cost of a getattr per field.
            rows[i] = tuple(verdict.__dict__.values())
            times[i] = verdict.event_time
        else:
            reasons[i] = verdict.reason.value
            messages[i] = verdict.message
            times[i] = event_time_of(data)
    columns = zip(*rows, strict=True) if rows else iter([[]] * len(EVENT_FIELDS))
    fields: dict[str, list[Any]] = dict(zip(EVENT_FIELDS, map(list, columns), strict=True))
    # The contract's values as they are, but for the types the operator's columns have.
    typed = {
        "event_time": _utc_naive(fields["event_time"]),
        "event_type": [t.value if t is not None else None for t in fields["event_type"]],
        "price": [p.quantize(_CENT) if p is not None else None for p in fields["price"]],
        "quantity": pd.array(fields["quantity"], dtype="Int32"),
        "ingest_ts": _utc_naive(fields["ingest_ts"]),
        "schema_version": pd.array(fields["schema_version"], dtype="Int32"),
    }
    out = pd.DataFrame(
        {
            "reason": pd.array(reasons, dtype=object),
            "message": pd.array(messages, dtype=object),
            "parsed_event_time": _utc_naive(times),
            **{name: typed.get(name, fields[name]) for name in EVENT_FIELDS},
        }
    )
    out["partition"] = raw["partition"].to_numpy()
    out["offset"] = raw["offset"].to_numpy()
    out["publish_time"] = _utc_naive(raw["publish_time"].to_numpy())
    out["raw"] = [v if why is not None else None for v, why in zip(values, reasons, strict=True)]
    return out


def event_time_of(data: bytes) -> datetime | None:
    """A rejected record's ``event_time`` when it is a well-formed timestamp, else None."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    text = parsed.get("event_time") if isinstance(parsed, dict) else None
    if not isinstance(text, str) or not _TIMESTAMP.match(text):
        return None
    parsed = parse_utc(text)  # None for the right shape but an impossible date (2026-02-30)
    # Outside the contract's span the time attributes the reject to no minute (its publish
    # minute counts it), and the columns could not hold it.
    return parsed if parsed is not None and in_span(parsed) else None


def _utc_naive(values: Any) -> np.ndarray:
    """Datetimes (aware, or naive meaning UTC; None for none) as naive UTC ``datetime64[ns]``."""
    stamps = pd.to_datetime(pd.Series(list(values), dtype=object), utc=True)
    return np.asarray(stamps.dt.tz_localize(None).to_numpy(), dtype="datetime64[ns]")
