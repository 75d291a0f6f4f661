"""The hot store on anything that speaks the MongoDB wire protocol.

One binding serves MongoDB, Amazon DocumentDB, MongoDB Atlas and FerretDB, so
it keeps to what all four support: ``$set`` upserts (one ``update`` command
per batch), unordered inserts, ``$inc`` guarded by a query on a stamp field,
range finds with sort and limit, ``deleteMany``, plain and unique ascending
indexes, ``drop``; TTL indexes only where the server expires documents
(``ensure_ttl``). No transactions or aggregation.

The URL is a standard connection string; its path names the database
(``streamkit`` when empty) and its query options (``tls``, ``tlsCAFile``,
``retryWrites=false`` for DocumentDB, timeouts, ...) go to the client as given.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC
from typing import TYPE_CHECKING, Any

from adapters.errors import ConfigurationError, MissingExtraError, TerminalError, TransientError
from adapters.ports import Document, UpsertResult
from adapters.urls import mask_url, query_options

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.collection import Collection
    from pymongo.errors import OperationFailure

DEFAULT_DATABASE = "streamkit"

# Fail fast when the server is away: pymongo's defaults (30 s selection, no
# socket timeout) would stall a streaming batch far beyond its trigger.
# URL query options of the same name win.
_CLIENT_DEFAULTS: dict[str, Any] = {
    "serverSelectionTimeoutMS": 5000,
    "connectTimeoutMS": 5000,
    "socketTimeoutMS": 60000,
    "appname": "streamkit",
}

#: IndexOptionsConflict, IndexKeySpecsConflict: an index of that name exists otherwise.
_INDEX_CONFLICT_CODES = frozenset({85, 86})
#: Upserts per command. Under 100 because of FerretDB v1 (SQLite): its update
#: handler defers closing each statement's cursor to the end of the command
#: (internal/handler/msg_update.go), and a statement that matched a document
#: leaves its cursor, and so one of the 100 pooled SQLite connections, open.
#: The 100th matching statement of one command then waits forever for a
#: connection: the whole server hangs. 64 stays clear; MongoDB is as fast.
_CHUNK = 64

# Server error codes that say "try again": shutdown, step-down, time limits.
_TRANSIENT_CODES = frozenset({6, 7, 50, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435})


class MongoHotStore:
    """A :class:`adapters.ports.HotStore` on a MongoDB-wire server, through pymongo."""

    def __init__(self, url: str) -> None:
        """Create the client; no connection is made until the first call."""
        try:
            import pymongo
        except ImportError as e:
            raise MissingExtraError(package="pymongo", extra="local") from e
        self.url = url
        given = {k.lower() for k in query_options(url)}
        defaults = {k: v for k, v in _CLIENT_DEFAULTS.items() if k.lower() not in given}
        with self._errors("connect"):
            try:
                # tz_aware: reads give aware UTC datetimes, equal to what was written.
                self._client: MongoClient[Document] = pymongo.MongoClient(
                    url, tz_aware=True, tzinfo=UTC, **defaults
                )
            except ValueError as e:  # pymongo's URL parser: a port that is not a number, ...
                msg = f"bad MongoDB URL or option in {mask_url(url)}: {e}"
                raise ConfigurationError(msg) from e
            self.database = self._client.get_default_database(DEFAULT_DATABASE).name

    def __repr__(self) -> str:
        return f"MongoHotStore({mask_url(self.url)!r})"

    def ping(self, timeout_s: float = 5.0) -> float:
        """Round-trip a ``ping`` command; returns seconds taken."""
        import pymongo

        # A pymongo.timeout replaces the selection timeout, so keep the shorter one.
        limit = min(timeout_s, self._client.options.server_selection_timeout)
        started = time.perf_counter()
        with self._errors("ping"), pymongo.timeout(limit):
            self._client[self.database].command("ping")
        return time.perf_counter() - started

    def ensure_index(self, collection: str, fields: Sequence[str], *, unique: bool = False) -> None:
        """Create an ascending compound index named like MongoDB's default name."""
        if not fields:
            msg = f"ensure_index on {collection!r} needs at least one field"
            raise TerminalError(msg)
        name = "_".join(f"{f}_1" for f in fields)
        options: dict[str, Any] = {"unique": True} if unique else {}
        with self._errors("ensure_index", collection):
            self._coll(collection).create_index([(f, 1) for f in fields], name=name, **options)

    def ensure_ttl(self, collection: str, field: str, seconds: int) -> bool:
        """A TTL index ``<field>_1``; False (a plain index) on servers that do not expire.

        FerretDB accepts the option without ever expiring anything, so it is
        recognised by ``buildInfo`` and given a plain index.
        """
        from pymongo.errors import OperationFailure

        check_ttl(collection, seconds)
        name = f"{field}_1"
        coll = self._coll(collection)
        with self._errors("ensure_ttl", collection):
            if self._is_ferretdb():
                coll.create_index([(field, 1)], name=name)
                return False
            try:
                coll.create_index([(field, 1)], name=name, expireAfterSeconds=int(seconds))
            except OperationFailure as e:
                if e.code not in _INDEX_CONFLICT_CODES:
                    raise
                # The index exists with other options (another retention, or plain):
                # replace it, since retention follows the settings.
                coll.drop_index(name)
                coll.create_index([(field, 1)], name=name, expireAfterSeconds=int(seconds))
            info = coll.index_information().get(name, {})
        return bool(info.get("expireAfterSeconds") == int(seconds))

    def _is_ferretdb(self) -> bool:
        info = self._client[self.database].command("buildInfo")
        return "ferretdbVersion" in info or "ferretdb" in str(info.get("version", "")).lower()

    def upsert_many(
        self, collection: str, documents: Iterable[Mapping[str, Any]], key: Sequence[str]
    ) -> UpsertResult:
        """Upsert with ``$set`` in one unordered ``bulk_write``.

        Raises:
            TerminalError: a document lacks a key field, or some documents would
                duplicate a unique index (the others are written, as in any
                unordered bulk).
        """
        pairs = [(_by_id(key_filter(d, key, collection)), dict(d)) for d in documents]
        coll = self._coll(collection)
        inserted = matched = 0
        # Bounded commands: a slow server (FerretDB takes ~2 ms per upsert) finishes
        # each well within the socket timeout, and progress is not lost to one timeout.
        for start in range(0, len(pairs), _CHUNK):
            done = self._upsert_chunk(coll, pairs[start : start + _CHUNK])
            inserted, matched = inserted + done.inserted, matched + done.matched
        return UpsertResult(inserted, matched)

    def _upsert_chunk(
        self, coll: Collection[Document], pairs: list[tuple[dict[str, Any], Document]]
    ) -> UpsertResult:
        from pymongo import UpdateOne
        from pymongo.errors import BulkWriteError, OperationFailure

        collection = coll.name
        with self._errors("upsert_many", collection):
            try:
                result = coll.bulk_write(
                    [UpdateOne(f, {"$set": d}, upsert=True) for f, d in pairs], ordered=False
                )
            except BulkWriteError as e:
                errs = e.details.get("writeErrors", [])
                if not errs or any(w.get("code") != 11000 for w in errs):
                    raise
                raise TerminalError(clash_message(collection, [w["op"]["q"] for w in errs])) from e
            except (KeyError, OperationFailure) as e:
                # FerretDB ignores "ordered": it stops a batch at the first unique
                # clash, then either omits "nModified" from the reply (pymongo
                # raises KeyError) or fails the whole command. Redo the batch one
                # document at a time (upserts are idempotent) to get unordered
                # semantics and to learn which documents clash.
                if not (e.args == ("nModified",) or _is_duplicate(e)):
                    raise
                return self._upsert_each(coll, pairs)
        return UpsertResult(result.upserted_count, result.matched_count)

    def _upsert_each(
        self, coll: Collection[Document], pairs: list[tuple[dict[str, Any], Document]]
    ) -> UpsertResult:
        """Upsert one document per request, so a clash stops only its own document."""
        from pymongo.errors import OperationFailure

        inserted = matched = 0
        clashes: list[Mapping[str, Any]] = []
        for filter_, doc in pairs:
            try:
                one = coll.update_one(filter_, {"$set": doc}, upsert=True)
            except OperationFailure as e:
                if not _is_duplicate(e):
                    raise
                clashes.append(filter_)
                continue
            inserted += one.upserted_id is not None
            matched += one.matched_count
        if clashes:
            raise TerminalError(clash_message(coll.name, clashes))
        return UpsertResult(inserted, matched)

    def insert_new(
        self, collection: str, documents: Iterable[Mapping[str, Any]], key: Sequence[str]
    ) -> int:
        """Insert the documents whose key is not stored yet, in unordered ``insert`` commands.

        Stored documents are kept as they are. Writes no ``update``: FerretDB v1
        (SQLite) finds the document of every update by reading the whole
        collection, even by ``_id`` (its ``_id`` index is on another expression than
        its filter), while an insert checks the index. 300 closed sessions took
        19.9 s as upserts into 5,300 stored ones, 0.06 s as inserts (docs/architecture.md).

        Raises:
            TerminalError: a document lacks a key field, or would duplicate a unique
                index under another key (the others are written).
        """
        pairs = [(_by_id(key_filter(d, key, collection))["_id"], dict(d)) for d in documents]
        coll = self._coll(collection)
        return sum(
            self._insert_chunk(coll, pairs[start : start + _CHUNK], key)
            for start in range(0, len(pairs), _CHUNK)
        )

    def _insert_chunk(
        self, coll: Collection[Document], pairs: list[tuple[Any, Document]], key: Sequence[str]
    ) -> int:
        from pymongo.errors import BulkWriteError

        with self._errors("insert_new", coll.name):
            try:
                result = coll.insert_many([{"_id": i, **d} for i, d in pairs], ordered=False)
            except BulkWriteError as e:
                errs = e.details.get("writeErrors", [])
                if not errs or any(w.get("code") != 11000 for w in errs):
                    raise
                done = int(e.details.get("nInserted", 0))
            else:
                return len(result.inserted_ids)
            # Some were stored already (a batch run again after a crash), and FerretDB
            # also stops at the first of them whatever "ordered" says: insert what is
            # still missing one by one.
            wanted = [i for i, _ in pairs]
            stored = [d["_id"] for d in coll.find({"_id": {"$in": wanted}}, {"_id": 1})]
            missing = [(i, d) for i, d in pairs if i not in stored]
            return done + self._insert_each(coll, missing, key)

    def _insert_each(
        self, coll: Collection[Document], pairs: list[tuple[Any, Document]], key: Sequence[str]
    ) -> int:
        """Insert one document per request; one stored under another ``_id`` is kept too."""
        from pymongo.errors import OperationFailure

        inserted = 0
        clashes: list[Mapping[str, Any]] = []
        for id_, doc in pairs:
            try:
                coll.insert_one({"_id": id_, **doc})
            except OperationFailure as e:
                if not _is_duplicate(e):
                    raise
                # Another _id with the same key (written before keys became _ids)
                # is the same record; anything else clashes with a unique index.
                if coll.find_one({k: doc[k] for k in key}, {"_id": 1}) is None:
                    clashes.append({k: doc[k] for k in key})
                continue
            inserted += 1
        if clashes:
            raise TerminalError(clash_message(coll.name, clashes))
        return inserted

    def add_once(
        self,
        collection: str,
        key: Mapping[str, Any],
        increments: Mapping[str, int],
        *,
        stamp_field: str,
        stamp: int,
    ) -> bool:
        """One ``update_one``: ``$inc`` the counters and ``$set`` the stamp, guarded on the stamp.

        The guard, ``$or`` of ``$exists: false`` and ``$lt``, is plain query
        language that MongoDB, DocumentDB, Atlas and FerretDB all accept; a
        stamp that is null or not a number never passes it.
        """
        check_add_once(collection, key, increments, stamp_field, stamp)
        guard = [{stamp_field: {"$exists": False}}, {stamp_field: {"$lt": stamp}}]
        update: dict[str, Any] = {"$set": {stamp_field: stamp}}
        if increments:  # MongoDB before 5.0 and DocumentDB refuse an empty $inc
            update["$inc"] = dict(increments)
        with self._errors("add_once", collection):
            result = self._coll(collection).update_one({**_by_id(key), "$or": guard}, update)
        return result.matched_count > 0

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
        """Documents with ``start <= doc[field] < end``, sorted on ``field``, without ``_id``."""
        check_limit(limit)
        if limit == 0:  # Mongo reads limit 0 as "no limit"
            return []
        with self._errors("find_range", collection):
            cursor = self._coll(collection).find(_range(field, start, end), {"_id": 0})
            cursor = cursor.sort(field, -1 if descending else 1).limit(limit or 0)
            return list(cursor)

    def latest(self, collection: str, field: str) -> Document | None:
        """The document with the greatest ``field``, or None."""
        found = self.find_range(collection, field, limit=1, descending=True)
        return found[0] if found else None

    def delete_before(self, collection: str, field: str, cutoff: Any) -> int:
        """Delete documents with ``doc[field] < cutoff``; returns how many."""
        with self._errors("delete_before", collection):
            return self._coll(collection).delete_many({field: {"$lt": cutoff}}).deleted_count

    def delete_keys(self, collection: str, field: str, values: Sequence[Any]) -> int:
        """Delete documents whose ``doc[field]`` is one of ``values``; returns how many."""
        if not values:
            return 0
        with self._errors("delete_keys", collection):
            found = self._coll(collection).delete_many({field: {"$in": list(values)}})
            return found.deleted_count

    def drop(self, collection: str) -> None:
        """Drop the collection and its indexes; a missing one is fine."""
        with self._errors("drop", collection):
            self._coll(collection).drop()

    def close(self) -> None:
        """Close the client; later calls raise ``TerminalError``."""
        self._client.close()

    def _coll(self, name: str) -> Collection[Document]:
        with self._errors("collection", name):
            return self._client[self.database][name]

    @contextmanager
    def _errors(self, op: str, collection: str = "") -> Iterator[None]:
        """Translate pymongo and BSON errors into the port's two markers."""
        from bson.errors import InvalidDocument
        from pymongo import errors

        where = f"{op} on {collection!r}" if collection else op
        where = f"{where} at {mask_url(self.url)}"
        try:
            yield
        except (errors.ConnectionFailure, errors.ExecutionTimeout, errors.WTimeoutError) as e:
            msg = f"{where} failed, may pass on retry: {_reason(e)}"
            raise TransientError(msg) from e
        except errors.OperationFailure as e:
            if _is_transient(e):
                msg = f"{where} failed, may pass on retry: {_reason(e)}"
                raise TransientError(msg) from e
            msg = f"{where} was rejected: {_reason(e)}"
            raise TerminalError(msg) from e
        except errors.ConfigurationError as e:
            msg = f"bad MongoDB URL or option in {mask_url(self.url)}: {e}"
            raise ConfigurationError(msg) from e
        except (errors.PyMongoError, InvalidDocument, OverflowError) as e:
            msg = f"{where} failed: {_reason(e)}"
            raise TerminalError(msg) from e


def _is_transient(e: OperationFailure) -> bool:
    from pymongo.errors import BulkWriteError

    if isinstance(e, BulkWriteError):  # only write-concern errors: the writes may land later
        return not e.details.get("writeErrors")
    return e.code in _TRANSIENT_CODES or e.has_error_label("RetryableWriteError")


def key_filter(doc: Mapping[str, Any], key: Sequence[str], collection: str) -> dict[str, Any]:
    """The equality filter on ``doc``'s key fields; checks the fields the store relies on."""
    if not key:
        msg = f"upsert into {collection!r} needs at least one key field"
        raise TerminalError(msg)
    if missing := [k for k in key if k not in doc]:
        msg = f"document for {collection!r} lacks key field {missing[0]!r}"
        raise TerminalError(msg)
    if bad := [f for f in doc if isinstance(f, str) and (f == "_id" or f[:1] == "$" or "." in f)]:
        # "_id" belongs to the server; "$"/"." would be read as operators/paths by $set.
        msg = f"document for {collection!r} has a field the store reserves: {bad[0]!r}"
        raise TerminalError(msg)
    return {k: doc[k] for k in key}


def _by_id(key: Mapping[str, Any]) -> dict[str, Any]:
    """The filter on ``_id`` that stands for ``key``: its value, or the key sub-document.

    Upserts store the key as ``_id`` too, so every write by key is a primary-key
    lookup. FerretDB's SQLite backend pushes only ``_id`` equality down to
    SQLite; any other filter scans the collection, which made 1,000 upserts
    take 16 s instead of 2.4 s (measured on v1.24.2).
    """
    return {"_id": next(iter(key.values())) if len(key) == 1 else dict(key)}


def check_ttl(collection: str, seconds: int) -> None:
    """Refuse a retention period no store would keep (shared with the memory binding)."""
    if seconds < 1:
        msg = f"ensure_ttl on {collection!r} needs seconds >= 1, not {seconds}"
        raise TerminalError(msg)


def check_add_once(
    collection: str,
    key: Mapping[str, Any],
    increments: Mapping[str, int],
    stamp_field: str,
    stamp: int,
) -> None:
    """Refuse an ``add_once`` no store would apply (shared with the memory binding)."""
    where = f"add_once on {collection!r}"
    if not key:
        msg = f"{where} needs a key: an empty one would match any document"
        raise TerminalError(msg)
    if bad := [k for k in key if not isinstance(k, str) or not k or k[:1] == "$"]:
        msg = f"{where}: {bad[0]!r} cannot be a key field"
        raise TerminalError(msg)
    if odd := [v for v in (stamp, *increments.values()) if not _is_int64(v)]:
        msg = f"{where}: the stamp and increments must be 64-bit ints, not {odd[0]!r}"
        raise TerminalError(msg)
    paths = [stamp_field, *increments]
    if bad := [p for p in paths if not _updatable(p)]:
        msg = f"{where}: {bad[0]!r} cannot be updated (empty part, '$' or '_id')"
        raise TerminalError(msg)
    for i, p in enumerate(paths):  # the server refuses an update touching a path twice
        if clash := [q for q in paths[i + 1 :] if _overlap(p, q)]:
            msg = f"{where}: paths {p!r} and {clash[0]!r} overlap"
            raise TerminalError(msg)


def _is_int64(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def _updatable(path: str) -> bool:
    if not isinstance(path, str):
        return False
    parts = path.split(".")
    return all(p and p[:1] != "$" for p in parts) and parts[0] != "_id"


def _overlap(a: str, b: str) -> bool:
    return a == b or a.startswith(f"{b}.") or b.startswith(f"{a}.")


def _range(field: str, start: Any, end: Any) -> dict[str, Any]:
    # Without bounds "$ne: None" still skips documents lacking the field.
    bounds: dict[str, Any] = {"$ne": None} if start is None and end is None else {}
    if start is not None:
        bounds["$gte"] = start
    if end is not None:
        bounds["$lt"] = end
    return {field: bounds}


def _is_duplicate(e: Exception) -> bool:
    """A unique-index clash: MongoDB's code 11000, or FerretDB's SQLite constraint error."""
    from pymongo.errors import OperationFailure

    return isinstance(e, OperationFailure) and (
        e.code == 11000 or (e.code == 1 and "UNIQUE constraint failed" in str(e))
    )


def check_limit(limit: int | None) -> None:
    """Refuse a negative ``find_range`` limit (shared with the memory binding)."""
    if limit is not None and limit < 0:
        msg = f"limit must be >= 0, not {limit}"
        raise TerminalError(msg)


def clash_message(collection: str, filters: Sequence[Mapping[str, Any]]) -> str:
    """The error text for upserts refused by a unique index (shared with the memory binding)."""
    return (
        f"{len(filters)} document(s) for {collection!r} would duplicate a unique index; "
        f"first with key {dict(filters[0])}"
    )


def _reason(e: BaseException) -> str:
    """A one-line reason: the server's message without pymongo's "full error" dump."""
    from pymongo.errors import BulkWriteError

    if isinstance(e, BulkWriteError) and (errs := e.details.get("writeErrors")):
        return f"{len(errs)} write error(s); first: {errs[0].get('errmsg', '')}"[:300]
    # Nor, when no server answered, its topology description (hundreds of characters).
    text = str(e).split(", full error:")[0].split(", Timeout: ")[0]
    return text if len(text) <= 300 else f"{text[:300]}..."
