"""The hot store in this process's memory: tests, demos, single-process runs.

``memory://NAME``: stores opened with one NAME in a process share their data,
so a producer and a reader in one process see each other. Semantics follow
the Mongo binding on MongoDB, so code tested here behaves the same there:

* ``$set`` upserts matched on the key fields, and inserts of new keys only;
  unique indexes enforced, a missing field counting as null (as MongoDB does);
* ``add_once`` as a guarded ``$inc``: dotted paths create nested documents,
  a counter that is not a number (or a parent that is not a document) is
  refused, and nothing changes unless the whole update applies;
* BSON ordering and type bracketing: a range on datetimes never matches
  strings, null and missing fields never match a range;
* values stored as BSON would: datetimes as aware UTC truncated to
  milliseconds (naive ones taken as UTC), tuples as lists, ints in 64 bits;
  values pymongo cannot encode are refused.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from adapters.errors import TerminalError
from adapters.hot.mongo import (
    check_add_once,
    check_limit,
    check_ttl,
    clash_message,
    key_filter,
)
from adapters.ports import Document, UpsertResult

# One lock for every store: operations are short, and it keeps multi-collection
# state (a drop racing an upsert) simple.
_LOCK = threading.Lock()
_SPACES: dict[str, dict[str, _Collection]] = {}
_INT64 = 2**63
_MISSING = object()


def reset(name: str | None = None) -> None:
    """Forget the data of store ``name``, or of every store when None (for tests)."""
    with _LOCK:
        if name is None:
            _SPACES.clear()
        else:
            _SPACES.pop(name, None)


@dataclass
class _Collection:
    docs: list[Document] = field(default_factory=list)
    indexes: dict[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict)

    def upsert(self, docs: list[Document], key: Sequence[str]) -> tuple[UpsertResult, list[Any]]:
        """Apply ``$set`` upserts in order; returns the result and the keys that clashed."""
        by_key: dict[tuple[Any, ...], Document] = {}
        for d in self.docs:  # the first match wins, as in natural order
            by_key.setdefault(_frozen(d, key), d)
        uniques = [
            (f, {_frozen(d, f): d for d in self.docs})
            for f, unique in self.indexes.values()
            if unique
        ]
        inserted = matched = 0
        clashes: list[Any] = []
        for doc in docs:
            target = by_key.get(_frozen(doc, key))
            merged = {**target, **doc} if target is not None else doc
            if any(seen.get(_frozen(merged, f), target) is not target for f, seen in uniques):
                clashes.append({k: doc[k] for k in key})
                continue
            for f, seen in uniques:
                if target is not None:
                    del seen[_frozen(target, f)]
                seen[_frozen(merged, f)] = target if target is not None else merged
            if target is None:
                self.docs.append(merged)
                by_key[_frozen(merged, key)] = merged
                inserted += 1
            else:
                target.update(doc)  # in place: the maps above point at it
                matched += 1
        return UpsertResult(inserted, matched), clashes

    def replace(self, doc: Document, updated: Document, collection: str) -> None:
        """Put ``updated`` in place of ``doc``, unless it would duplicate a unique index."""
        for fields, unique in self.indexes.values():
            mine = _frozen(updated, fields)
            if unique and mine != _frozen(doc, fields):
                if any(_frozen(d, fields) == mine for d in self.docs if d is not doc):
                    clash = {f: updated.get(f) for f in fields}
                    raise TerminalError(clash_message(collection, [clash]))
        doc.clear()
        doc.update(updated)


class MemoryHotStore:
    """A :class:`adapters.ports.HotStore` held in this process, shared per ``memory://NAME``."""

    def __init__(self, url: str) -> None:
        """Open (or create) the store named by the URL's host and path."""
        self.url = url
        parts = urlsplit(url)
        self.name = parts.netloc + parts.path
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryHotStore({self.url!r})"

    def ping(self, timeout_s: float = 5.0) -> float:
        """Seconds to take the lock: about zero."""
        started = time.perf_counter()
        with _LOCK:
            self._space()
        return time.perf_counter() - started

    def ensure_index(self, collection: str, fields: Sequence[str], *, unique: bool = False) -> None:
        """Record an index; unique ones are checked on existing and later documents."""
        if not fields:
            msg = f"ensure_index on {collection!r} needs at least one field"
            raise TerminalError(msg)
        name = "_".join(f"{f}_1" for f in fields)
        with _LOCK:
            coll = self._space().setdefault(collection, _Collection())
            if (old := coll.indexes.get(name)) is not None:
                if old[1] != unique:  # MongoDB's IndexOptionsConflict
                    msg = f"index {name!r} on {collection!r} exists with unique={old[1]}"
                    raise TerminalError(msg)
                return
            if unique and len({_frozen(d, fields) for d in coll.docs}) < len(coll.docs):
                msg = f"cannot create unique index {name!r}: {collection!r} holds duplicates"
                raise TerminalError(msg)
            coll.indexes[name] = (tuple(fields), unique)

    def ensure_ttl(self, collection: str, field: str, seconds: int) -> bool:
        """Index ``field``; nothing expires by itself here (False), callers sweep."""
        check_ttl(collection, seconds)
        self.ensure_index(collection, [field])
        return False

    def upsert_many(
        self, collection: str, documents: Iterable[Mapping[str, Any]], key: Sequence[str]
    ) -> UpsertResult:
        """Upsert like the Mongo binding: in order, clashing documents skipped then reported.

        Raises:
            TerminalError: a document lacks a key field, holds a value BSON cannot
                store, or would duplicate a unique index (the others are written).
        """
        docs: list[Document] = []
        for d in documents:
            key_filter(d, key, collection)  # the same checks as the Mongo binding
            docs.append(_bson(d, collection))
        if not docs:
            return UpsertResult(0, 0)
        with _LOCK:
            result, clashes = self._space().setdefault(collection, _Collection()).upsert(docs, key)
        if clashes:
            raise TerminalError(clash_message(collection, clashes))
        return result

    def insert_new(
        self, collection: str, documents: Iterable[Mapping[str, Any]], key: Sequence[str]
    ) -> int:
        """Insert the documents whose key is not stored yet; stored ones are kept as they are.

        Raises:
            TerminalError: as :meth:`upsert_many`.
        """
        docs: list[Document] = []
        for d in documents:
            key_filter(d, key, collection)
            docs.append(_bson(d, collection))
        with _LOCK:
            coll = self._space().setdefault(collection, _Collection())
            stored = {_frozen(d, key) for d in coll.docs}
            new: dict[tuple[Any, ...], Document] = {}
            for d in docs:  # the first of one key wins, as the server's inserts do
                if _frozen(d, key) not in stored:
                    new.setdefault(_frozen(d, key), d)
            result, clashes = coll.upsert(list(new.values()), key)
        if clashes:
            raise TerminalError(clash_message(collection, clashes))
        return result.inserted

    def add_once(
        self,
        collection: str,
        key: Mapping[str, Any],
        increments: Mapping[str, int],
        *,
        stamp_field: str,
        stamp: int,
    ) -> bool:
        """Add to the first document matching ``key`` unless its stamp has reached ``stamp``."""
        check_add_once(collection, key, increments, stamp_field, stamp)
        wanted = {k: _order(_bson(v, collection)) for k, v in key.items()}
        with _LOCK:
            coll = self._space().get(collection, _Collection())
            doc = next((d for d in coll.docs if _matches(d, wanted)), None)
            if doc is None or not _stamp_below(_get(doc, stamp_field), stamp):
                return False
            updated = copy.deepcopy(doc)  # all or nothing, as one server-side update
            for path, n in increments.items():
                _increment(updated, path, n, collection)
            _put(updated, stamp_field, stamp, collection)
            coll.replace(doc, updated, collection)
        return True

    def find_range(
        self,
        collection: str,
        field: str,
        start: Any = None,
        end: Any = None,
        *,
        limit: int | None = None,
        descending: bool = False,
    ) -> list[Document]:
        """Copies of the documents with ``start <= doc[field] < end``, sorted on ``field``."""
        check_limit(limit)
        lo = None if start is None else _order(_bson(start, collection))
        hi = None if end is None else _order(_bson(end, collection))
        with _LOCK:
            coll = self._space().get(collection, _Collection())
            hits = [d for d in coll.docs if _within(_order(d.get(field)), lo, hi)]
            hits.sort(key=lambda d: _order(d[field]), reverse=descending)
            return copy.deepcopy(hits[:limit])

    def latest(self, collection: str, field: str) -> Document | None:
        """A copy of the document with the greatest ``field``, or None."""
        found = self.find_range(collection, field, limit=1, descending=True)
        return found[0] if found else None

    def delete_before(self, collection: str, field: str, cutoff: Any) -> int:
        """Delete documents with ``doc[field] < cutoff``; returns how many."""
        hi = _order(_bson(cutoff, collection))
        with _LOCK:
            coll = self._space().get(collection, _Collection())
            kept = [d for d in coll.docs if not _within(_order(d.get(field)), None, hi)]
            deleted = len(coll.docs) - len(kept)
            coll.docs[:] = kept
        return deleted

    def delete_keys(self, collection: str, field: str, values: Sequence[Any]) -> int:
        """Delete documents whose ``doc[field]`` is one of ``values``; returns how many."""
        wanted = {_frozen({field: _bson(v, collection)}, (field,)) for v in values}
        with _LOCK:
            coll = self._space().get(collection, _Collection())
            kept = [d for d in coll.docs if _frozen(d, (field,)) not in wanted]
            deleted = len(coll.docs) - len(kept)
            coll.docs[:] = kept
        return deleted

    def drop(self, collection: str) -> None:
        """Forget the collection and its indexes."""
        with _LOCK:
            self._space().pop(collection, None)

    def close(self) -> None:
        """Stop using this store; its data stays for other stores of the same name."""
        self._closed = True

    def _space(self) -> dict[str, _Collection]:
        """This store's collections; call with ``_LOCK`` held."""
        if self._closed:  # as pymongo refuses a closed client
            msg = f"{self!r} is closed"
            raise TerminalError(msg)
        return _SPACES.setdefault(self.name, {})


def _bson(value: Any, collection: str) -> Any:
    """``value`` as MongoDB would store and return it; TerminalError when it cannot."""
    if value is None or isinstance(value, bool | str | bytes | float):
        return value
    if isinstance(value, int):
        if -_INT64 <= value < _INT64:
            return value
        msg = f"{value} does not fit in the 64-bit ints {collection!r} can store"
        raise TerminalError(msg)
    if isinstance(value, datetime):
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.replace(microsecond=utc.microsecond // 1000 * 1000)
    if isinstance(value, Mapping):
        if bad := [k for k in value if not isinstance(k, str)]:
            msg = f"documents for {collection!r} must have only string keys, not {bad[0]!r}"
            raise TerminalError(msg)
        return {k: _bson(v, collection) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_bson(v, collection) for v in value]
    msg = f"cannot store a {type(value).__name__} value in {collection!r}"
    raise TerminalError(msg)


def _order(value: Any) -> tuple[int, Any]:
    """A key that orders and compares values as BSON does: type rank first."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):  # before int: True is an int to Python, not to BSON
        return (8, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, dict):
        return (3, tuple((k, _order(v)) for k, v in value.items()))
    if isinstance(value, list):
        return (4, tuple(_order(v) for v in value))
    if isinstance(value, str):
        return (2, value)
    return (5 if isinstance(value, bytes) else 9, value)  # _bson let only datetimes remain


def _frozen(doc: Mapping[str, Any], fields: Iterable[str]) -> tuple[Any, ...]:
    """Hashable values of ``fields`` (missing ones as null, as unique indexes see them)."""
    return tuple(_order(doc.get(f)) for f in fields)


def _within(value: tuple[int, Any], lo: tuple[int, Any] | None, hi: tuple[int, Any] | None) -> bool:
    """``lo <= value < hi`` with type bracketing; null never matches."""
    if value[0] == 0:
        return False
    if lo is not None and (value[0] != lo[0] or value < lo):
        return False
    return hi is None or (value[0] == hi[0] and value < hi)


def _get(doc: Mapping[str, Any], path: str) -> Any:
    """The value at dotted ``path``, or ``_MISSING``."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _matches(doc: Mapping[str, Any], wanted: Mapping[str, tuple[int, Any]]) -> bool:
    """Equality on every key path; a missing field equals null, as in MongoDB."""
    found = ((_get(doc, k), v) for k, v in wanted.items())
    return all(_order(None if x is _MISSING else x) == v for x, v in found)


def _stamp_below(held: Any, stamp: int) -> bool:
    """MongoDB's ``$exists: false`` or ``$lt``: null and non-numbers never pass."""
    return held is _MISSING or (_order(held)[0] == 1 and held < stamp)


def _parent(doc: Document, path: str, collection: str) -> tuple[Document, str]:
    """The document holding ``path``'s last part, creating missing parents."""
    *parents, leaf = path.split(".")
    here = doc
    for part in parents:
        here = here.setdefault(part, {})
        if not isinstance(here, dict):
            kind = type(here).__name__
            msg = f"add_once on {collection!r}: cannot create {path!r} under a {kind}"
            raise TerminalError(msg)
    return here, leaf


def _increment(doc: Document, path: str, n: int, collection: str) -> None:
    here, leaf = _parent(doc, path, collection)
    old = here.get(leaf, 0)
    if _order(old)[0] != 1:  # MongoDB refuses $inc on null, bool, string, ...
        msg = f"add_once on {collection!r}: {path!r} holds a non-number, {old!r}"
        raise TerminalError(msg)
    here[leaf] = _bson(old + n, collection)  # refuses a sum beyond 64 bits, as MongoDB does


def _put(doc: Document, path: str, value: Any, collection: str) -> None:
    here, leaf = _parent(doc, path, collection)
    here[leaf] = value
