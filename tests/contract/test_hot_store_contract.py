"""One behavioural suite for every hot-store binding: memory always, MongoDB-wire on the stack.

The MongoDB-wire server is the one of ``STREAMKIT_HOT_STORE_URL`` (FerretDB
locally, MongoDB/DocumentDB/Atlas elsewhere); a missing server fails the
``mongo`` tests, it never skips them. Each test writes only to collections
named after a fresh uuid and drops them afterwards.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from adapters import registry
from adapters.errors import TerminalError, TransientError
from adapters.hot import memory
from adapters.hot.memory import MemoryHotStore
from adapters.hot.mongo import MongoHotStore
from adapters.ports import Document, HotStore, UpsertResult
from tests.conftest import MONGO_URL, require_tcp
from tests.support.tls_mongo import tls_mongo
from tests.support.urls import with_query

pytestmark = pytest.mark.timeout(60)

T0 = datetime(2026, 11, 25, 18, 0, 0, 123000, tzinfo=UTC)  # millisecond precision, as BSON keeps


@dataclass
class Hot:
    """A store under test, its URL and a collection name of its own."""

    kind: str
    url: str
    store: HotStore
    coll: str = field(default_factory=lambda: f"contract_{uuid.uuid4().hex[:12]}")

    def all(self, by: str = "id") -> list[Document]:
        return self.store.find_range(self.coll, by)


@pytest.fixture(scope="module")
def tls_mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """FerretDB behind TLS only, reached like DocumentDB (tlsCAFile, retryWrites=false)."""
    with tls_mongo(tmp_path_factory.mktemp("tls-mongo")) as url:
        yield url


@pytest.fixture(
    params=[
        "memory",
        pytest.param("mongo", marks=pytest.mark.mongo),
        pytest.param("mongo-tls", marks=pytest.mark.mongo),
    ]
)
def hot(request: pytest.FixtureRequest) -> Iterator[Hot]:
    if request.param == "memory":
        url = f"memory://contract-{uuid.uuid4().hex[:12]}"
    elif request.param == "mongo-tls":
        url = request.getfixturevalue("tls_mongo_url")
    else:
        require_tcp(MONGO_URL, "the MongoDB-wire server")
        url = MONGO_URL
    h = Hot(request.param, url, registry.open_hot_store(url))
    try:
        yield h
    finally:
        h.store.drop(h.coll)
        h.store.close()
        if request.param == "memory":
            memory.reset(MemoryHotStore(url).name)


def kpis(n: int, **extra: Any) -> list[Document]:
    return [{"id": i, "ts": T0 + timedelta(minutes=i), "orders": i * 10, **extra} for i in range(n)]


# ---------------------------------------------------------------------- basics


def test_ping_returns_seconds(hot: Hot) -> None:
    took = hot.store.ping(timeout_s=5.0)
    assert isinstance(took, float)
    assert 0 <= took < 5


@pytest.mark.mongo
def test_tls_is_verified_against_the_ca_of_the_url(tls_mongo_url: str) -> None:
    # The TLS listener really is TLS: without our CA the certificate is refused
    # (as a DocumentDB URL without Amazon's bundle would be), and plain TCP gets nowhere.
    untrusted = re.sub(r"&tlsCAFile=[^&]+", "", tls_mongo_url).replace("=5000", "=1500")
    plain = untrusted.replace("tls=true&", "")
    for url, says in ((untrusted, "certificate"), (plain, None)):
        store = registry.open_hot_store(url)
        try:
            with pytest.raises(TransientError, match=says):
                store.ping(timeout_s=1.5)
        finally:
            store.close()


def test_open_hot_store_picks_the_binding_by_scheme() -> None:
    assert isinstance(registry.open_hot_store("memory://x"), MemoryHotStore)
    store = registry.open_hot_store("mongodb://127.0.0.1:27017/streamkit")  # connects lazily
    try:
        assert isinstance(store, MongoHotStore)
        assert isinstance(store, HotStore)
    finally:
        store.close()


def test_mongo_database_comes_from_the_url_path() -> None:
    for url, db in [
        ("mongodb://127.0.0.1:27017/kpis?retryWrites=false", "kpis"),
        ("mongodb://127.0.0.1:27017", "streamkit"),
        ("mongodb://127.0.0.1:27017/", "streamkit"),
    ]:
        store = MongoHotStore(url)
        assert store.database == db
        store.close()


def test_memory_stores_of_one_name_share_data() -> None:
    name = f"shared-{uuid.uuid4().hex[:8]}"
    writer, reader = MemoryHotStore(f"memory://{name}"), MemoryHotStore(f"memory://{name}")
    other = MemoryHotStore(f"memory://{name}-other")
    try:
        writer.upsert_many("c", kpis(2), key=["id"])
        assert len(reader.find_range("c", "id")) == 2
        assert other.find_range("c", "id") == []
    finally:
        memory.reset(name)
    assert reader.find_range("c", "id") == []


# --------------------------------------------------------------------- upserts


def test_upsert_inserts_then_updates_idempotently(hot: Hot) -> None:
    docs = kpis(3)
    assert hot.store.upsert_many(hot.coll, docs, key=["id"]) == UpsertResult(3, 0)
    assert hot.store.upsert_many(hot.coll, docs, key=["id"]) == UpsertResult(0, 3)
    assert hot.all() == docs
    assert all("_id" not in d for d in hot.all())


@pytest.mark.timeout(120)
def test_a_large_upsert_of_existing_documents_completes(hot: Hot) -> None:
    # FerretDB v1 hangs for good on one update command with ~100 statements that
    # match existing documents (each keeps a pooled connection): the binding
    # must split such writes (adapters/hot/mongo.py, _CHUNK).
    # Keyed on a datetime, like the minute documents: FerretDB does not push an
    # _id of that type down to SQLite, so each matching statement holds a cursor.
    docs = kpis(300)
    assert hot.store.upsert_many(hot.coll, docs, key=["ts"]) == UpsertResult(300, 0)
    changed = [d | {"orders": -1} for d in docs]
    assert hot.store.upsert_many(hot.coll, changed, key=["ts"]) == UpsertResult(0, 300)
    assert {d["orders"] for d in hot.all()} == {-1}
    # The server must still serve writes and DDL afterwards (with one command of
    # 500 statements, FerretDB answered that one, then hung on the next).
    assert hot.store.upsert_many(hot.coll, docs[:1], key=["ts"]) == UpsertResult(0, 1)
    hot.store.drop(hot.coll)
    assert hot.store.ping() < 5


def test_upsert_of_nothing_is_a_no_op(hot: Hot) -> None:
    assert hot.store.upsert_many(hot.coll, iter([]), key=["id"]) == UpsertResult(0, 0)
    assert hot.all() == []


def test_partial_update_keeps_absent_fields(hot: Hot) -> None:
    hot.store.upsert_many(hot.coll, [{"id": 1, "a": 1, "b": "x"}], key=["id"])
    result = hot.store.upsert_many(hot.coll, [{"id": 1, "b": "y", "c": None}], key=["id"])
    assert result == UpsertResult(0, 1)
    assert hot.all() == [{"id": 1, "a": 1, "b": "y", "c": None}]


def test_compound_key_matches_on_every_field(hot: Hot) -> None:
    hot.store.upsert_many(hot.coll, [{"id": 1, "shop": "a", "n": 1}], key=["id", "shop"])
    result = hot.store.upsert_many(
        hot.coll,
        [{"id": 1, "shop": "b", "n": 2}, {"id": 1, "shop": "a", "n": 3}],
        key=["id", "shop"],
    )
    assert result == UpsertResult(1, 1)
    assert sorted((d["shop"], d["n"]) for d in hot.all()) == [("a", 3), ("b", 2)]


def test_missing_key_field_is_terminal_and_writes_nothing(hot: Hot) -> None:
    with pytest.raises(TerminalError, match="'ts'"):
        hot.store.upsert_many(hot.coll, [{"id": 1, "ts": T0}, {"id": 2}], key=["id", "ts"])
    assert hot.all() == []


@pytest.mark.parametrize(
    "bad",
    [
        {"id": 1, "x": Decimal("1.5")},  # no BSON type without a codec
        {"id": 1, "x": 2**63},  # beyond BSON's 64-bit ints
        {"id": 1, "x": {2: "non-string key"}},
        {"id": 1, "_id": "mine"},  # the server's field
        {"id": 1, "a.b": 1},  # $set would read it as a path
    ],
    ids=["decimal", "int65", "int-key", "_id", "dotted"],
)
def test_documents_the_store_cannot_hold_are_terminal(hot: Hot, bad: Document) -> None:
    with pytest.raises(TerminalError):
        hot.store.upsert_many(hot.coll, [{"id": 0}, bad], key=["id"])
    assert hot.all() == []


def test_a_closed_store_refuses_calls(hot: Hot) -> None:
    other = registry.open_hot_store(hot.url)
    other.close()
    with pytest.raises(TerminalError):
        other.find_range(hot.coll, "id")


def test_reads_return_copies(hot: Hot) -> None:
    hot.store.upsert_many(hot.coll, [{"id": 1, "tags": ["a"], "m": {"k": 1}}], key=["id"])
    got = hot.all()[0]
    got["tags"].append("b")
    got["m"]["k"] = 2
    assert hot.all() == [{"id": 1, "tags": ["a"], "m": {"k": 1}}]


# --------------------------------------------------------------------- inserts


def test_insert_new_writes_only_keys_not_stored(hot: Hot) -> None:
    docs = kpis(3)
    assert hot.store.insert_new(hot.coll, docs[:2], key=["id"]) == 2
    # A batch run again: the stored ones are kept as they were, the new one written,
    # whatever the order (FerretDB stops an insert command at the first stored key).
    again = [docs[2], docs[0] | {"orders": -1}, docs[1] | {"orders": -1}]
    assert hot.store.insert_new(hot.coll, again, key=["id"]) == 1
    assert hot.store.insert_new(hot.coll, again, key=["id"]) == 0
    assert hot.all() == docs
    assert all("_id" not in d for d in hot.all())


def test_insert_new_and_upsert_many_share_a_collection(hot: Hot) -> None:
    docs = kpis(2)
    hot.store.upsert_many(hot.coll, docs[:1], key=["ts"])
    assert hot.store.insert_new(hot.coll, docs, key=["ts"]) == 1
    assert hot.store.upsert_many(hot.coll, [docs[1] | {"orders": 5}], key=["ts"]) == (
        UpsertResult(0, 1)
    )
    assert [d["orders"] for d in hot.all()] == [0, 5]


def test_insert_new_of_more_than_a_command_holds(hot: Hot) -> None:
    docs = kpis(200)
    assert hot.store.insert_new(hot.coll, docs[::2], key=["id"]) == 100
    assert hot.store.insert_new(hot.coll, docs, key=["id"]) == 100
    assert hot.all() == docs


def test_insert_new_refuses_a_unique_clash_under_another_key(hot: Hot) -> None:
    hot.store.ensure_index(hot.coll, ["sku"], unique=True)
    hot.store.insert_new(hot.coll, [{"id": 1, "sku": "a"}], key=["id"])
    with pytest.raises(TerminalError, match="unique"):
        hot.store.insert_new(hot.coll, [{"id": 2, "sku": "a"}, {"id": 3, "sku": "c"}], key=["id"])
    assert hot.all() == [{"id": 1, "sku": "a"}, {"id": 3, "sku": "c"}]


def test_insert_new_checks_documents_like_upserts(hot: Hot) -> None:
    with pytest.raises(TerminalError, match="'ts'"):
        hot.store.insert_new(hot.coll, [{"id": 1, "ts": T0}, {"id": 2}], key=["id", "ts"])
    with pytest.raises(TerminalError):
        hot.store.insert_new(hot.coll, [{"id": 1, "_id": "mine"}], key=["id"])
    assert hot.store.insert_new(hot.coll, [], key=["id"]) == 0
    assert hot.all() == []


# --------------------------------------------------------------------- indexes


def test_unique_index_rejects_a_second_document(hot: Hot) -> None:
    hot.store.ensure_index(hot.coll, ["sku"], unique=True)
    hot.store.ensure_index(hot.coll, ["sku"], unique=True)  # idempotent
    hot.store.upsert_many(hot.coll, [{"id": 1, "sku": "a"}, {"id": 2, "sku": "b"}], key=["id"])

    # A new document with a taken value: refused, the rest of the batch written.
    with pytest.raises(TerminalError, match="unique"):
        hot.store.upsert_many(hot.coll, [{"id": 3, "sku": "a"}, {"id": 4, "sku": "d"}], key=["id"])
    # An update to a taken value: refused, the document unchanged.
    with pytest.raises(TerminalError, match="unique"):
        hot.store.upsert_many(hot.coll, [{"id": 2, "sku": "a"}], key=["id"])
    # Re-writing a document's own value is no clash.
    assert hot.store.upsert_many(hot.coll, [{"id": 1, "sku": "a", "n": 1}], key=["id"]) == (
        UpsertResult(0, 1)
    )
    assert hot.all() == [
        {"id": 1, "sku": "a", "n": 1},
        {"id": 2, "sku": "b"},
        {"id": 4, "sku": "d"},
    ]


def test_unique_index_over_duplicates_fails(hot: Hot) -> None:
    hot.store.upsert_many(hot.coll, [{"id": 1, "sku": "a"}, {"id": 2, "sku": "a"}], key=["id"])
    with pytest.raises(TerminalError):
        hot.store.ensure_index(hot.coll, ["sku"], unique=True)
    hot.store.ensure_index(hot.coll, ["sku", "id"], unique=True)  # compound: no duplicates


def test_drop_removes_documents_and_indexes(hot: Hot) -> None:
    hot.store.ensure_index(hot.coll, ["sku"], unique=True)
    hot.store.upsert_many(hot.coll, [{"id": 1, "sku": "a"}], key=["id"])
    hot.store.drop(hot.coll)
    hot.store.drop(hot.coll)  # a missing collection is fine
    assert hot.all() == []
    assert hot.store.latest(hot.coll, "id") is None
    hot.store.upsert_many(hot.coll, [{"id": 1, "sku": "a"}, {"id": 2, "sku": "a"}], key=["id"])
    assert len(hot.all()) == 2


# -------------------------------------------------------------------- add_once


def add(hot: Hot, key: Any, increments: dict[str, int], stamp: int, field: str = "batch") -> bool:
    return hot.store.add_once(hot.coll, key, increments, stamp_field=field, stamp=stamp)


def test_add_once_applies_once_per_stamp(hot: Hot) -> None:
    hot.store.upsert_many(hot.coll, [{"id": 1, "n": 5}, {"id": 2, "n": 0}], key=["id"])
    assert add(hot, {"id": 1}, {"n": 2, "m": 3}, stamp=7) is True
    assert hot.all()[0] == {"id": 1, "n": 7, "m": 3, "batch": 7}
    # The same stamp again (a retried or replayed batch): a no-op.
    assert add(hot, {"id": 1}, {"n": 2, "m": 3}, stamp=7) is False
    # A lower stamp too; a higher one applies again.
    assert add(hot, {"id": 1}, {"n": 100}, stamp=6) is False
    assert add(hot, {"id": 1}, {"n": 1}, stamp=8) is True
    assert hot.all() == [{"id": 1, "n": 8, "m": 3, "batch": 8}, {"id": 2, "n": 0}]


def test_add_once_without_a_document_creates_nothing(hot: Hot) -> None:
    assert add(hot, {"id": 1}, {"n": 1}, stamp=1) is False  # no collection yet
    hot.store.upsert_many(hot.coll, [{"id": 2, "n": 0}], key=["id"])
    assert add(hot, {"id": 1}, {"n": 1}, stamp=1) is False
    assert hot.all() == [{"id": 2, "n": 0}]


def test_add_once_dotted_paths_create_nested_counters(hot: Hot) -> None:
    minute = {"minute": T0}
    hot.store.upsert_many(hot.coll, [{**minute, "events": 3}], key=["minute"])
    assert add(hot, minute, {"latency.b07": 3, "latency.b10": 1}, 1, "latency_batch")
    assert add(hot, minute, {"latency.b07": 2, "latency.b12": 4}, 2, "latency_batch")
    assert not add(hot, minute, {"latency.b07": 2}, 2, "latency_batch")
    [doc] = hot.store.find_range(hot.coll, "minute")
    assert doc == {
        "minute": T0,
        "events": 3,
        "latency": {"b07": 5, "b10": 1, "b12": 4},
        "latency_batch": 2,
    }


def test_add_once_matches_every_key_field(hot: Hot) -> None:
    docs = [{"id": 1, "shop": "a", "n": 0}, {"id": 1, "shop": "b", "n": 0}]
    hot.store.upsert_many(hot.coll, docs, key=["id", "shop"])
    assert add(hot, {"id": 1, "shop": "b"}, {"n": 1}, stamp=1)
    assert [d["n"] for d in sorted(hot.all(), key=lambda d: d["shop"])] == [0, 1]


def test_add_once_of_no_increments_still_sets_the_stamp(hot: Hot) -> None:
    hot.store.upsert_many(hot.coll, [{"id": 1}], key=["id"])
    assert add(hot, {"id": 1}, {}, stamp=3)
    assert not add(hot, {"id": 1}, {"n": 1}, stamp=3)
    assert hot.all() == [{"id": 1, "batch": 3}]


def test_add_once_a_null_stamp_never_passes(hot: Hot) -> None:
    # MongoDB: null is not missing, and not less than a number.
    hot.store.upsert_many(hot.coll, [{"id": 1, "batch": None, "n": 0}], key=["id"])
    assert add(hot, {"id": 1}, {"n": 1}, stamp=1) is False
    assert hot.all() == [{"id": 1, "batch": None, "n": 0}]


@pytest.mark.parametrize(
    ("stored", "key", "increments", "stamp"),
    [
        ({"id": 1, "n": "x"}, {"id": 1}, {"n": 1}, 1),  # $inc on a string
        ({"id": 1, "n": None}, {"id": 1}, {"n": 1}, 1),  # $inc on null
        ({"id": 1, "n": "x"}, {"id": 1}, {"n.b07": 1}, 1),  # a parent that is no document
        ({"id": 1, "n": 2**63 - 1}, {"id": 1}, {"n": 1}, 1),  # beyond 64-bit ints
        ({"id": 1}, {"id": 1}, {"n": 1.5}, 1),  # not an integer
        ({"id": 1}, {"id": 1}, {"n": True}, 1),
        ({"id": 1}, {"id": 1}, {"n": 1}, 1.0),
        ({"id": 1}, {"id": 1}, {"batch": 1}, 1),  # the stamp itself
        ({"id": 1}, {"id": 1}, {"a": 1, "a.b": 1}, 1),  # overlapping paths
        ({"id": 1}, {"id": 1}, {"$n": 1}, 1),
        ({"id": 1}, {"id": 1}, {"a..b": 1}, 1),
        ({"id": 1}, {"id": 1}, {"_id": 1}, 1),
        ({"id": 1}, {}, {"n": 1}, 1),  # an empty key would match anything
        ({"id": 1}, {"$where": 1}, {"n": 1}, 1),
    ],
    ids=[
        "string",
        "null",
        "parent",
        "overflow",
        "float",
        "bool",
        "float-stamp",
        "stamp-path",
        "overlap",
        "dollar",
        "empty-part",
        "_id",
        "empty-key",
        "operator-key",
    ],
)
def test_add_once_refusals_are_terminal_and_change_nothing(
    hot: Hot, stored: Document, key: Any, increments: Any, stamp: Any
) -> None:
    hot.store.upsert_many(hot.coll, [stored], key=["id"])
    with pytest.raises(TerminalError):
        add(hot, key, increments, stamp)
    assert hot.all() == [stored]


def test_add_once_respects_unique_indexes(hot: Hot) -> None:
    hot.store.ensure_index(hot.coll, ["n"], unique=True)
    hot.store.upsert_many(hot.coll, [{"id": 1, "n": 0}, {"id": 2, "n": 1}], key=["id"])
    with pytest.raises(TerminalError):
        add(hot, {"id": 1}, {"n": 1}, stamp=1)
    assert add(hot, {"id": 1}, {"n": 5}, stamp=1)
    assert hot.all() == [{"id": 1, "n": 5, "batch": 1}, {"id": 2, "n": 1}]


def test_add_once_goes_through_fault_injection(hot: Hot) -> None:
    hot.store.upsert_many(hot.coll, [{"id": 1}], key=["id"])
    faulty = registry.open_hot_store(with_query(hot.url, "fault.fail_every=1&fault.ops=add_once"))
    try:
        with pytest.raises(TransientError):
            faulty.add_once(hot.coll, {"id": 1}, {"n": 1}, stamp_field="batch", stamp=1)
        assert faulty.upsert_many(hot.coll, [{"id": 2}], key=["id"]) == UpsertResult(1, 0)
    finally:
        faulty.close()
    assert add(hot, {"id": 1}, {"n": 1}, stamp=1)  # the failed call left the stamp unset


# ----------------------------------------------------------------------- reads


def test_find_range_is_half_open_with_optional_bounds(hot: Hot) -> None:
    docs = kpis(6)
    hot.store.upsert_many(hot.coll, [*docs, {"id": 99}], key=["id"])  # id 99 has no ts
    ts = [d["ts"] for d in docs]

    def ids(**kw: Any) -> list[int]:
        return [d["id"] for d in hot.store.find_range(hot.coll, "ts", **kw)]

    assert ids(start=ts[1], end=ts[4]) == [1, 2, 3]
    assert ids(start=ts[4]) == [4, 5]
    assert ids(end=ts[2]) == [0, 1]
    assert ids() == [0, 1, 2, 3, 4, 5]
    assert ids(start=ts[2], end=ts[2]) == []
    assert ids(descending=True) == [5, 4, 3, 2, 1, 0]
    assert ids(limit=2) == [0, 1]
    assert ids(limit=2, descending=True) == [5, 4]
    assert ids(start=ts[1], end=ts[5], limit=2, descending=True) == [4, 3]
    assert ids(limit=0) == []


def test_find_range_on_ints_and_strings(hot: Hot) -> None:
    hot.store.upsert_many(hot.coll, [{"id": i, "s": f"k{i}"} for i in range(5)], key=["id"])
    assert [d["id"] for d in hot.store.find_range(hot.coll, "id", 1, 3)] == [1, 2]
    assert [d["s"] for d in hot.store.find_range(hot.coll, "s", "k3")] == ["k3", "k4"]


def test_latest(hot: Hot) -> None:
    assert hot.store.latest(hot.coll, "ts") is None
    docs = kpis(3)
    hot.store.upsert_many(hot.coll, [docs[2], docs[0], docs[1]], key=["id"])
    assert hot.store.latest(hot.coll, "ts") == docs[2]


def test_delete_before(hot: Hot) -> None:
    docs = kpis(5)
    hot.store.upsert_many(hot.coll, docs, key=["id"])
    assert hot.store.delete_before(hot.coll, "ts", docs[2]["ts"]) == 2
    assert [d["id"] for d in hot.all()] == [2, 3, 4]
    assert hot.store.delete_before(hot.coll, "ts", docs[2]["ts"]) == 0
    assert hot.store.delete_before(f"{hot.coll}_missing", "ts", T0) == 0


def test_delete_keys(hot: Hot) -> None:
    docs = kpis(5)
    hot.store.upsert_many(hot.coll, docs, key=["id"])
    assert hot.store.delete_keys(hot.coll, "id", [1, 3, 99]) == 2
    assert [d["id"] for d in hot.all()] == [0, 2, 4]
    assert hot.store.delete_keys(hot.coll, "id", [1, 3]) == 0
    assert hot.store.delete_keys(hot.coll, "id", []) == 0
    assert hot.store.delete_keys(f"{hot.coll}_missing", "id", [1]) == 0


def test_datetimes_round_trip_as_aware_utc(hot: Hot) -> None:
    plus2 = timezone(timedelta(hours=2))
    written = [
        {"id": 1, "ts": T0},
        {"id": 2, "ts": datetime(2026, 11, 25, 20, 30, 0, 7000, tzinfo=plus2)},
        {"id": 3, "ts": T0.replace(microsecond=123456)},  # BSON keeps milliseconds only
    ]
    hot.store.upsert_many(hot.coll, written, key=["id"])
    got = {d["id"]: d["ts"] for d in hot.all()}
    assert got[1] == T0
    assert got[2] == datetime(2026, 11, 25, 18, 30, 0, 7000, tzinfo=UTC)
    assert got[3] == T0
    for ts in got.values():
        assert isinstance(ts, datetime)
        assert ts.utcoffset() == timedelta(0)


# ---------------------------------------------------------------------- errors


@pytest.mark.mongo
@pytest.mark.timeout(30)
def test_unreachable_mongo_is_transient_and_masks_the_password() -> None:
    store = MongoHotStore("mongodb://app:s3cret@127.0.0.1:1/x?serverSelectionTimeoutMS=300")
    try:
        with pytest.raises(TransientError) as caught:
            store.ping(timeout_s=5.0)
        assert "s3cret" not in str(caught.value)
        assert "s3cret" not in repr(store)
    finally:
        store.close()


def test_fault_injection_through_the_registry(hot: Hot) -> None:
    faulty = registry.open_hot_store(
        with_query(hot.url, "fault.fail_every=2&fault.ops=upsert_many")
    )
    try:
        docs = kpis(3)
        assert faulty.upsert_many(hot.coll, [docs[0]], key=["id"]) == UpsertResult(1, 0)
        with pytest.raises(TransientError):
            faulty.upsert_many(hot.coll, [docs[1]], key=["id"])
        assert faulty.upsert_many(hot.coll, [docs[2]], key=["id"]) == UpsertResult(1, 0)
        assert faulty.find_range(hot.coll, "id") == [docs[0], docs[2]]  # reads not faulted
    finally:
        faulty.close()


# ------------------------------------------------------------------- retention


def test_ensure_ttl_is_idempotent_and_says_whether_the_server_expires(hot: Hot) -> None:
    hot.store.upsert_many(hot.coll, kpis(2, written_at=T0), key=["id"])
    expires = hot.store.ensure_ttl(hot.coll, "written_at", 3600)
    # FerretDB and the memory binding never expire documents themselves.
    assert expires is (hot.kind == "mongo" and not _ferretdb(hot))
    assert hot.store.ensure_ttl(hot.coll, "written_at", 3600) is expires
    # A changed retention replaces the setting instead of failing.
    assert hot.store.ensure_ttl(hot.coll, "written_at", 7200) is expires
    # The field is indexed for the sweep either way, which still works.
    assert hot.store.delete_before(hot.coll, "written_at", T0 + timedelta(seconds=1)) == 2


def test_ensure_ttl_refuses_a_non_positive_period(hot: Hot) -> None:
    with pytest.raises(TerminalError, match="seconds >= 1"):
        hot.store.ensure_ttl(hot.coll, "written_at", 0)


def _ferretdb(hot: Hot) -> bool:
    import pymongo

    info = pymongo.MongoClient(hot.url).admin.command("buildInfo")
    return "ferretdbVersion" in info
