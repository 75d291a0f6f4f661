"""RecentChange → shop event, on the real recorded samples of both stream schemas."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.events.contract import Event, EventType
from app.events.rejects import Reason, Rejection
from app.live.mapping import PURCHASE_MIN_GROWTH, Skip, map_change
from tests.support.sse_server import CURRENT, DATA, WIKIDATA_2018, WIKIDATA_2018_REVERTS

SSE_3_PAYLOADS = DATA / "wikimedia_recentchange_sse_3events_wiki_visualizer.derived.jsonl"
ALL_FILES = [CURRENT, WIKIDATA_2018, WIKIDATA_2018_REVERTS, SSE_3_PAYLOADS]


def changes(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def mapped(change: dict[str, Any], **kw: Any) -> dict[str, Any]:
    result = map_change(change, **kw)
    assert isinstance(result, dict), result
    return result


@pytest.fixture(scope="module")
def edit() -> dict[str, Any]:
    return changes(CURRENT)[0]


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name[:40])
def test_every_record_maps_to_a_valid_event_or_is_skipped_with_a_reason(path: Path) -> None:
    for change in changes(path):
        result = map_change(change)
        assert not isinstance(result, Rejection), (result, change["meta"])
        if isinstance(result, Skip):
            assert change["type"] == "log", "only log events of the samples are skipped"
            assert result.reason == f"log:{change['log_type']}"
            continue
        event = Event.model_validate(result)
        assert event.source == "live"
        assert event.event_time.tzinfo is UTC
        assert event.user_id == f"wm:{change['user']}"
        assert event.product_id == f"{change['wiki']}:{change['title']}"
        assert event.brand == change["wiki"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (CURRENT, {"page_view": 95, "purchase": 5}),
        (
            WIKIDATA_2018,
            {
                "page_view": 3679,
                "purchase": 75,
                "add_to_cart": 42,
                "log:abusefilter": 14,
                "log:patrol": 6,
                "log:tag": 2,
            },
        ),
        (
            WIKIDATA_2018_REVERTS,
            {
                "page_view": 1738,
                "purchase": 25,
                "add_to_cart": 21,
                "log:abusefilter": 3,
                "log:patrol": 2,
            },
        ),
    ],
    ids=["current", "2018", "2018-reverts"],
)
def test_the_mix_of_the_samples(path: Path, expected: dict[str, int]) -> None:
    counts: Counter[str] = Counter()
    for change in changes(path):
        result = map_change(change)
        counts[result.reason if isinstance(result, Skip) else result["event_type"]] += 1  # type: ignore[index]
    assert counts == expected
    # Purchases stay rare, a few per cent, as in a shop.
    assert 0.01 <= counts["purchase"] / sum(counts.values()) <= 0.05


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name[:40])
def test_event_ids_are_deterministic_and_unique_per_change(path: Path) -> None:
    records = changes(path)
    first = [map_change(c) for c in records]
    again = [map_change(copy.deepcopy(c)) for c in records]
    assert first == again
    ids = [m["event_id"] for m in first if isinstance(m, dict)]
    assert len(ids) == len(set(ids))
    rc_ids = [c["id"] for c in records if isinstance(map_change(c), dict)]
    assert len(set(rc_ids)) == len(ids), "one event id per rc id"


def test_a_redelivered_change_keeps_its_event_id_even_in_a_new_envelope(
    edit: dict[str, Any],
) -> None:
    redelivered = copy.deepcopy(edit)
    redelivered["meta"].update(id="another-envelope", offset=1, partition=3)
    assert mapped(redelivered)["event_id"] == mapped(edit)["event_id"]
    other_wiki = {**copy.deepcopy(edit), "wiki": "dewiki"}
    assert mapped(other_wiki)["event_id"] != mapped(edit)["event_id"], "rc ids are per wiki"


def test_2018_log_events_have_no_rc_id_and_fall_back_to_meta_id() -> None:
    logs = [c for c in changes(WIKIDATA_2018) if c["type"] == "log"]
    assert logs
    assert all(c["id"] is None and "length" not in c and "revision" not in c for c in logs)
    delete = {**logs[0], "log_type": "delete", "log_action": "delete"}
    event = Event.model_validate(mapped(delete))
    assert event.event_type is EventType.REMOVE_FROM_CART
    assert event.price is None  # log events have no length
    moved = copy.deepcopy(delete)
    moved["meta"]["id"] = "other"
    assert mapped(moved)["event_id"] != event.event_id


@pytest.mark.parametrize(
    ("length", "kind", "event_type", "price"),
    [
        ({"old": 91108, "new": 91166}, "edit", "page_view", "1.00"),  # +58 bytes: the floor
        ({"old": 1000, "new": 1000}, "edit", "page_view", "1.00"),  # no change: still priced
        ({"old": 9000, "new": 1234}, "edit", "page_view", "77.66"),  # shrinking: |change|
        ({"old": 100, "new": 100 + PURCHASE_MIN_GROWTH - 1}, "edit", "page_view", "4.99"),
        ({"old": 100, "new": 100 + PURCHASE_MIN_GROWTH}, "edit", "purchase", "5.00"),
        ({"old": 10, "new": 4900}, "edit", "purchase", "48.90"),
        ({"old": 0, "new": 10**12}, "edit", "purchase", "99999.99"),  # a corrupt length: capped
        ({"old": None, "new": 237}, "new", "add_to_cart", "2.37"),  # a new page has old: null
        ({"old": None, "new": 80_000}, "new", "add_to_cart", "800.00"),  # new pages never buy
    ],
)
def test_prices_come_from_the_byte_change(
    edit: dict[str, Any], length: dict[str, Any], kind: str, event_type: str, price: str
) -> None:
    event = Event.model_validate(mapped({**edit, "type": kind, "length": length}))
    assert event.event_type == event_type
    assert event.price == Decimal(price)


def test_an_edit_without_length_is_a_page_view_without_price(edit: dict[str, Any]) -> None:
    change = {k: v for k, v in edit.items() if k != "length"}
    result = mapped(change)
    assert (result["event_type"], result["price"]) == ("page_view", None)


def test_times_are_utc_from_both_schemas() -> None:
    current, old = changes(CURRENT)[0], changes(WIKIDATA_2018)[0]
    assert mapped(current)["event_time"] == datetime(2023, 7, 29, 7, 51, 39, tzinfo=UTC)
    assert old["meta"]["dt"].endswith("+00:00")
    assert mapped(old)["event_time"] == datetime(2018, 3, 7, 16, 16, 17, tzinfo=UTC)


def test_meta_dt_is_the_fallback_time_and_an_offset_is_required(edit: dict[str, Any]) -> None:
    no_ts = {k: v for k, v in edit.items() if k != "timestamp"}
    no_ts["meta"] = {**edit["meta"], "dt": "2023-07-29T09:51:39+02:00"}
    assert mapped(no_ts)["event_time"] == datetime(2023, 7, 29, 7, 51, 39, tzinfo=UTC)
    no_ts["meta"]["dt"] = "2023-07-29T09:51:39"  # naive: ambiguous
    result = map_change(no_ts)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.BAD_EVENT_TIME


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "categorize"}, "type:categorize"),
        ({"type": "external"}, "type:external"),
        ({"type": "log", "log_type": "upload"}, "log:upload"),
        ({"meta": {"domain": "canary"}}, "canary"),
    ],
)
def test_changes_we_do_not_sell_are_skipped(
    edit: dict[str, Any], change: dict[str, Any], reason: str
) -> None:
    assert map_change({**edit, **change}) == Skip(reason)


def test_bots_are_kept_unless_excluded() -> None:
    bot = next(c for c in changes(CURRENT) if c["bot"])
    assert isinstance(map_change(bot), dict)
    assert map_change(bot, include_bots=False) == Skip("bot")


@pytest.mark.parametrize("field", ["user", "wiki", "title", "type"])
def test_a_change_missing_a_needed_field_is_rejected(edit: dict[str, Any], field: str) -> None:
    result = map_change({k: v for k, v in edit.items() if k != field})
    assert isinstance(result, Rejection)
    assert result.reason is Reason.MISSING_FIELD
    assert field in result.message


def test_a_change_with_no_id_at_all_is_rejected(edit: dict[str, Any]) -> None:
    change = {**edit, "id": None, "meta": {k: v for k, v in edit["meta"].items() if k != "id"}}
    result = map_change(change)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.MISSING_FIELD


def test_long_titles_and_users_become_stable_hashes(edit: dict[str, Any]) -> None:
    long = {**edit, "title": "T" * 300, "user": "U" * 200}
    event = Event.model_validate(mapped(long))
    assert event.product_id.startswith("enwiki:#")
    assert event.user_id.startswith("wm:#")
    assert mapped(long) == mapped(copy.deepcopy(long))


def test_namespaces_name_the_category() -> None:
    cats = Counter(mapped(c)["category"] for c in changes(CURRENT))
    assert cats == {"enwiki.main": 86, "enwiki.user": 8, "enwiki.ns118": 4, "enwiki.project": 2}
