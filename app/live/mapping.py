"""RecentChange → shop event: the mapping ``docs/live.md`` documents, as one pure function.

Wikipedia is the shop: a page is a product, an editor a shopper. Reading a
page (an edit) is a page view, creating one an add-to-cart, a substantial
edit (the page grew by ``PURCHASE_MIN_GROWTH`` bytes or more) a purchase,
and a deleted page leaves the cart. Prices come from the byte-size change.

Both schemas of the stream are handled: the current one (``$schema``,
``meta.stream``, ``Z`` times) and the 2018 one (``meta.schema_uri``,
``+00:00`` offsets, no ``length``/``revision``, and no rc ``id``, on log
events). The result is an event dict for :class:`app.events.contract.Event`,
a :class:`Skip` (a valid change we do not sell, with its reason), or a
``Rejection`` (a record we cannot map: it is dead-lettered).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeGuard

from app.events.contract import EventType, in_span, parse_utc
from app.events.rejects import Reason, Rejection

#: Byte growth from which an edit counts as a purchase: ~2-5 % of edits in the samples.
PURCHASE_MIN_GROWTH = 500
#: Every priced product costs at least this, so a zero-byte edit is not free.
PRICE_FLOOR = Decimal("1.00")
#: MediaWiki caps a page at 2 MiB (~20,972 USD); beyond the cap the length is corrupt.
PRICE_CAP = Decimal("99999.99")
SOURCE = "live"
_CENT = Decimal("0.01")
_MAX_ID = 128
#: A wiki is a dbname (enwiki, wikidatawiki); a longer one is no wiki and would not fit
#: the contract's brand and product id (128 characters) once prefixed.
_MAX_WIKI = 64

#: MediaWiki's canonical namespaces; others are per wiki (118 is Draft on enwiki only).
NAMESPACES = {
    -2: "media",
    -1: "special",
    0: "main",
    1: "talk",
    2: "user",
    3: "user_talk",
    4: "project",
    5: "project_talk",
    6: "file",
    7: "file_talk",
    8: "mediawiki",
    9: "mediawiki_talk",
    10: "template",
    11: "template_talk",
    12: "help",
    13: "help_talk",
    14: "category",
    15: "category_talk",
}


@dataclass(frozen=True, slots=True)
class Skip:
    """A well-formed change that maps to no shop event; ``reason`` is counted."""

    reason: str


Mapped = dict[str, Any] | Skip | Rejection


def map_change(change: Mapping[str, Any], *, include_bots: bool = True) -> Mapped:
    """The shop event for one RecentChange, or why there is none."""
    meta = change.get("meta")
    meta = meta if isinstance(meta, Mapping) else {}
    if meta.get("domain") == "canary":
        return Skip("canary")  # WMF's synthetic monitoring events, to be filtered by consumers
    kind = change.get("type")
    if not isinstance(kind, str) or not kind:
        return _missing("type")
    growth = _growth(change)
    event_type = _event_type(change, kind, growth)
    if isinstance(event_type, Skip):
        return event_type
    if not include_bots and change.get("bot") is True:
        return Skip("bot")
    return _event(change, meta, event_type, growth)


def _event(
    change: Mapping[str, Any], meta: Mapping[str, Any], event_type: EventType, growth: int | None
) -> dict[str, Any] | Rejection:
    wiki, title, user = (change.get(k) for k in ("wiki", "title", "user"))
    for name, value in (("wiki", wiki), ("title", title), ("user", user)):
        if not isinstance(value, str) or not value:
            return _missing(name)
    if len(str(wiki)) > _MAX_WIKI:
        msg = f"wiki is {len(str(wiki))} characters long, not a wiki id"
        return Rejection(reason=Reason.BAD_FIELD, message=msg)
    event_id = _event_id(str(wiki), change, meta)
    if event_id is None:
        return _missing("id/meta.id")
    event_time = _event_time(change, meta)
    if event_time is None:
        msg = "neither timestamp nor meta.dt is a time with an offset from 1970 to 2200"
        return Rejection(reason=Reason.BAD_EVENT_TIME, message=msg)
    return {
        "event_id": event_id,
        "event_time": event_time,
        "event_type": event_type.value,
        "user_id": _bounded("wm:", str(user)),
        "session_id": None,
        "product_id": _bounded(f"{wiki}:", str(title)),
        "category": f"{wiki}.{_namespace(change.get('namespace'))}",
        "brand": wiki,
        "price": _price(growth) if event_type is not EventType.REMOVE_FROM_CART else None,
        "quantity": 1,
        "currency": "USD",
        "source": SOURCE,
    }


def _event_type(change: Mapping[str, Any], kind: str, growth: int | None) -> EventType | Skip:
    if kind == "edit":
        big = growth is not None and growth >= PURCHASE_MIN_GROWTH
        return EventType.PURCHASE if big else EventType.PAGE_VIEW
    if kind == "new":
        return EventType.ADD_TO_CART
    if kind == "log":
        log_type = change.get("log_type")
        if log_type == "delete" and change.get("log_action") == "delete":
            return EventType.REMOVE_FROM_CART
        return Skip(f"log:{log_type}")
    return Skip(f"type:{kind}")  # categorize, external: no shopper acted on a product


def _growth(change: Mapping[str, Any]) -> int | None:
    length = change.get("length")
    if not isinstance(length, Mapping):
        return None  # log events have no length (2018 schema: the key is absent)
    new, old = length.get("new"), length.get("old") or 0  # a new page has old: null
    if not _is_int(new) or not _is_int(old):
        return None
    return new - old


def _price(growth: int | None) -> str | None:
    if growth is None:
        return None
    price = min(PRICE_CAP, max(PRICE_FLOOR, Decimal(abs(growth)) / 100))
    return str(price.quantize(_CENT))  # a string keeps exact cents on the wire


def _event_id(wiki: str, change: Mapping[str, Any], meta: Mapping[str, Any]) -> str | None:
    # The rc id is the change's primary key in its wiki: the same change keeps
    # it however often it is delivered. 2018 log events lack it; their
    # envelope uuid (meta.id) is just as stable across re-delivery.
    rc_id, meta_id = change.get("id"), meta.get("id")
    if _is_int(rc_id) and rc_id > 0:
        key = f"rc:{wiki}:{rc_id}"
    elif isinstance(meta_id, str) and meta_id:
        key = f"meta:{meta_id}"
    else:
        return None
    return "wm-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _event_time(change: Mapping[str, Any], meta: Mapping[str, Any]) -> datetime | None:
    # ``timestamp`` is rc_timestamp, the change itself; meta.dt is the envelope's
    # time (equal in every sample, but only the first is the shopper's act).
    # A time outside the contract's span is no time, as if absent: the event would only be
    # refused by the job, under a reason that blames the producer's mapping.
    ts = change.get("timestamp")
    if isinstance(ts, int | float) and not isinstance(ts, bool) and ts > 0:
        # Beyond the calendar (1e20) is no time either: meta.dt may still be one.
        with contextlib.suppress(OverflowError, OSError, ValueError):
            stamp = datetime.fromtimestamp(ts, UTC)
            if in_span(stamp):
                return stamp
    dt = parse_utc(meta.get("dt"))
    return dt if dt is not None and in_span(dt) else None


def _namespace(value: Any) -> str:
    if not _is_int(value):
        return "unknown"
    return NAMESPACES.get(value, f"ns{value}")


def _bounded(prefix: str, value: str) -> str:
    # Readable when it fits the contract's 128 chars; a stable hash when not.
    if len(prefix) + len(value) <= _MAX_ID:
        return prefix + value
    return f"{prefix}#{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _missing(field: str) -> Rejection:
    return Rejection(reason=Reason.MISSING_FIELD, message=f"RecentChange has no usable {field!r}")
