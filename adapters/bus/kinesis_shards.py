"""Reading Kinesis shards in order: listing, parents before children, bounded fetches.

Shared by the tools' reader (:mod:`adapters.bus.kinesis`) and the stream
job's Spark source (:mod:`adapters.bus.kinesis_spark`), so both follow the
same rules:

- A shard closed by a split or merge keeps its records; its children start
  where it ends. A child is read only once every parent is drained (read to
  its end), so the records of one partition key stay in order across a
  reshard. A parent no longer listed has expired with the retention period
  and counts as drained.
- Positions are sequence numbers: reading resumes *after* the last one seen,
  from the stream's oldest record (``TRIM_HORIZON``) when there is none.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from adapters.aws import error_code, is_aws_error, translate
from adapters.errors import TerminalError

#: GetRecords returns at most 10,000 records per call.
MAX_RECORDS_PER_CALL = 10_000
#: Codes meaning "slow down", not "broken": the shard allows 5 reads per second.
_THROTTLED = frozenset({"ProvisionedThroughputExceededException", "LimitExceededException"})
#: Empty GetRecords answers in a row after which a re-read gives up on its target.
_MAX_EMPTY_ANSWERS = 50


@dataclass(frozen=True, slots=True)
class Shard:
    """One shard as listed: its id, its parents, whether a reshard closed it."""

    shard_id: str
    parents: tuple[str, ...] = ()
    closed: bool = False
    #: The last sequence number of a closed shard (None while it is open).
    ending: str | None = None

    @property
    def number(self) -> int:
        """The shard's number (``shardId-000000000007`` -> 7): its partition number."""
        return int(self.shard_id.rsplit("-", 1)[-1])

    def read_to_end(self, after: str | None) -> bool:
        """True when the shard is closed and ``after`` (the last record read) is its last one.

        Kinesis also says so by returning no next iterator; this catches the
        case without a call, and a closed shard that holds no record at all.
        """
        if not self.closed or self.ending is None:
            return False
        return int(after or 0) >= int(self.ending)


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one bounded read of a shard returned."""

    records: list[dict[str, Any]]
    #: The shard is closed and every record of it has now been read.
    drained: bool
    #: Where the next read continues (None once drained).
    next_iterator: str | None
    #: True when the read stopped because it was throttled (try again later).
    throttled: bool = False


def list_shards(client: Any, stream: str) -> list[Shard]:
    """Every shard of ``stream`` still within retention, open or closed, in id order."""
    shards: list[Shard] = []
    kwargs: dict[str, Any] = {"StreamName": stream}
    try:
        while True:
            page = client.list_shards(**kwargs)
            for raw in page.get("Shards", []):
                parents = tuple(
                    p for p in (raw.get("ParentShardId"), raw.get("AdjacentParentShardId")) if p
                )
                ending = raw.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
                shards.append(Shard(raw["ShardId"], parents, ending is not None, ending))
            token = page.get("NextToken")
            if not token:
                break
            kwargs = {"NextToken": token}  # the stream name must not be repeated with a token
    except Exception as e:
        if is_aws_error(e):
            raise translate(e, f"could not list the shards of Kinesis stream {stream!r}") from e
        raise
    return sorted(shards, key=lambda s: s.number)


def readable(shards: Iterable[Shard], drained: set[str]) -> list[Shard]:
    """The shards that may be read now: not drained, with every listed parent drained."""
    listed = {s.shard_id for s in shards}
    return [
        s
        for s in shards
        if s.shard_id not in drained and all(p in drained or p not in listed for p in s.parents)
    ]


def shard_iterator(client: Any, stream: str, shard_id: str, after: str | None) -> str:
    """An iterator just after sequence number ``after``, or at the oldest record when None."""
    kwargs: dict[str, Any] = {"StreamName": stream, "ShardId": shard_id}
    if after is None:
        kwargs["ShardIteratorType"] = "TRIM_HORIZON"
    else:
        kwargs["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
        kwargs["StartingSequenceNumber"] = after
    try:
        return str(client.get_shard_iterator(**kwargs)["ShardIterator"])
    except Exception as e:
        if is_aws_error(e):
            raise translate(e, f"could not position on {stream}/{shard_id}") from e
        raise


def fetch(client: Any, iterator: str, limit: int, *, max_calls: int = 3) -> Fetched:
    """Up to ``limit`` records from ``iterator``, in a few GetRecords calls at most.

    Stops early when the shard is caught up (an empty answer with nothing
    behind), drained (no next iterator) or throttled. Kinesis may answer
    empty while records lie further on (``MillisBehindLatest`` > 0), which is
    why one empty answer alone does not end the read.
    """
    records: list[dict[str, Any]] = []
    current: str | None = iterator
    for _ in range(max_calls):
        if current is None or len(records) >= limit:
            break
        try:
            page = client.get_records(
                ShardIterator=current, Limit=min(MAX_RECORDS_PER_CALL, limit - len(records))
            )
        except Exception as e:
            if error_code(e) in _THROTTLED:
                return Fetched(records, drained=False, next_iterator=current, throttled=True)
            if is_aws_error(e):
                raise translate(e, "could not read a Kinesis shard") from e
            raise
        records.extend(page.get("Records", []))
        current = page.get("NextShardIterator")
        if not page.get("Records") and not page.get("MillisBehindLatest"):
            break
    return Fetched(records, drained=current is None, next_iterator=current)


def read_until(
    client: Any, stream: str, shard_id: str, after: str | None, last: str
) -> list[dict[str, Any]]:
    """Every record of a shard after ``after`` up to and including sequence number ``last``.

    Used to re-read a planned range exactly (Spark's recovery of a batch).

    Raises:
        TerminalError: the shard ends, or passes ``last``, without containing it
            (the records expired with the retention period).
    """
    out: list[dict[str, Any]] = []
    iterator: str | None = shard_iterator(client, stream, shard_id, after)
    target = int(last)
    empty_answers = 0
    while iterator is not None and empty_answers < _MAX_EMPTY_ANSWERS:
        try:
            page = client.get_records(ShardIterator=iterator, Limit=MAX_RECORDS_PER_CALL)
        except Exception as e:
            if error_code(e) in _THROTTLED:
                time.sleep(0.25)
                continue
            if is_aws_error(e):
                raise translate(e, f"could not re-read {stream}/{shard_id}") from e
            raise
        records = page.get("Records", [])
        empty_answers = 0 if records else empty_answers + 1
        for record in records:
            number = int(record["SequenceNumber"])
            if number > target:
                iterator = None
                break
            out.append(record)
            if number == target:
                return out
        else:
            iterator = page.get("NextShardIterator")
    msg = (
        f"Kinesis shard {stream}/{shard_id} no longer holds record {last} that a planned batch"
        " needs (expired with the stream's retention?): restart the job from a new checkpoint"
    )
    raise TerminalError(msg)
