"""Stored-shape documents, as the stream job writes them to the hot store (docs/kpis.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def minute_doc(
    i: int, views: int = 100, carts: int = 10, buys: int = 3, cents: int = 12_345
) -> dict[str, Any]:
    return {
        "minute": T0 + timedelta(minutes=i),
        "page_views": views,
        "add_to_carts": carts,
        "purchases": buys,
        "remove_from_carts": 1,
        "events": views + carts + buys + 1,
        "revenue_cents": cents,
        "sessions": 40,
        "late_dropped": 2,
        "deadlettered": 1,
        "final": True,
        "watermark": T0,
        "written_at": T0,
        "batch_id": 7,
        "latency": {"b40": 3},
    }
