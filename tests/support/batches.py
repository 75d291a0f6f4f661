"""A micro-batch of operator output rows (app.pipeline.output.OUTPUT), as the sinks receive it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pyarrow as pa
from pyspark.sql.pandas.types import to_arrow_schema

from app.pipeline.output import OUTPUT, conform

MINUTE = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def event(n: int, **extra: object) -> dict[str, object]:
    return {
        "event_id": f"e{n}",
        "event_time": MINUTE + timedelta(seconds=n),
        "event_type": "purchase",
        "user_id": "u1",
        "product_id": "p1",
        "price": Decimal("12.50"),
        "quantity": 2,
        "currency": "USD",
        "source": "test",
        "ingest_ts": datetime.now(UTC) - timedelta(milliseconds=300),
        "schema_version": 1,
        "partition": 0,
        "offset": n,
        "publish_time": MINUTE,
        **extra,
    }


def batch(*, closing: bool) -> pa.Table:
    counts = {"page_views": 0, "add_to_carts": 0, "purchases": 2, "remove_from_carts": 0}
    rows = [
        {"kind": "event", **event(1)},
        {"kind": "event", **event(2)},
        {"kind": "late", **event(3, event_time=MINUTE - timedelta(minutes=30))},
        {
            "kind": "reject",
            "raw": b"{not json",
            "reason": "not_json",
            "message": "not JSON: unexpected character",
            "partition": 1,
            "offset": 9,
            "publish_time": MINUTE,  # every bus stamps it (the job counts rejects by it)
        },
        {
            "kind": "minute",
            "minute": MINUTE,
            **counts,
            "events": 2,
            "revenue_cents": 5000,
            "sessions": 1,
            "late_dropped": 0,
            "deadlettered": 1,
            "final": closing,
            "closing": closing,
            "watermark": MINUTE - timedelta(minutes=5),
        },
        {
            "kind": "session",
            "sid": "s" * 32,
            "user_id": "u0",
            "start": MINUTE - timedelta(hours=2),
            "end": MINUTE - timedelta(hours=1),
            "duration_s": 3600.0,
            "events": 3,
            **counts,
            "revenue_cents": 5000,
            "converted": True,
        },
    ]
    frame = conform(pd.DataFrame(rows))
    schema = to_arrow_schema(OUTPUT, timezone="UTC")
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
