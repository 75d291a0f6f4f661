"""The local Pub/Sub emulator (pstest) as the tests' Pub/Sub: URLs, topics, raw clients.

Tests reach it through an explicit ``endpoint`` in the URL, as an emulator
is reached in production code; nothing here sets ``PUBSUB_EMULATOR_HOST``.
"""

from __future__ import annotations

import csv
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.bus.pubsub_journal import Journal
from adapters.ports import Bus
from adapters.registry import open_bus
from tests.conftest import PUBSUB_ENDPOINT, require_tcp

#: Any project id does on pstest; this one is also the readiness check's.
PROJECT = "streamkit"


def require_pubsub() -> None:
    """Fail the test, naming the fix, when the emulator is not listening."""
    require_tcp(
        f"grpc://{PUBSUB_ENDPOINT}",
        "the Pub/Sub emulator (pstest; `streamkit local up --emulators`)",
    )


def pubsub_url(topic: str, query: str = "") -> str:
    """The URL of ``topic`` on the emulator, with more query parameters when given."""
    base = f"pubsub://{PROJECT}/{topic}?endpoint={PUBSUB_ENDPOINT}"
    return f"{base}&{query}" if query else base


def fresh_topic(prefix: str) -> str:
    """A topic name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextmanager
def topics(*buses: Bus, partitions: int = 1) -> Iterator[tuple[Bus, ...]]:
    """``ensure`` each bus's topic (and job subscription); delete them all afterwards."""
    try:
        for bus in buses:
            bus.ensure(partitions)
        yield buses
    finally:
        for bus in buses:
            bus.delete()
            bus.close()


def raw_subscriber() -> Any:
    """google-cloud-pubsub's own subscriber on the emulator, for looking behind the binding."""
    import grpc
    from google.cloud import pubsub_v1
    from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

    channel = grpc.insecure_channel(PUBSUB_ENDPOINT)
    return pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))


def open_pubsub(topic: str, query: str = "") -> Bus:
    """The bus binding of ``topic`` on the emulator."""
    return open_bus(pubsub_url(topic, query))


class JoinedEarly:
    """A Pub/Sub bus whose every reader reads one group that joined before anything was published.

    Tests read topics back after the fact with readers of fresh groups
    (``tests.support.pipeline_run.read_all``); on Pub/Sub a fresh group sees
    nothing published before it (``history_for_new_groups``), so this bus
    subscribes its one group at once and hands that group to every reader.
    """

    def __init__(self, bus: Bus, group: str = "after-the-fact") -> None:
        self._bus, self._group = bus, group
        bus.reader(group).close()

    def reader(self, group: str, from_beginning: bool = True) -> Any:
        """A reader of the group that joined early, whatever group is asked for."""
        return self._bus.reader(self._group, from_beginning)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bus, name)


def cap_per_user(source: Path, out: Path, per_user: int) -> Path:
    """``source`` (generated CSV) with at most ``per_user`` rows of each user, in file order.

    pstest delivers one unacknowledged message per ordering key (user), so a
    job on it plans about two batches per event of the busiest user; capping
    keeps the tests short and every fault the generator injected in the rest.
    Rows that do not parse as CSV records (truncated ones) are kept.
    """
    lines = source.read_text().splitlines(keepends=True)
    header = next(csv.reader(lines[:1]))
    column = header.index("user_id")
    counts: Counter[str] = Counter()
    kept = lines[:1]
    for line in lines[1:]:
        fields = next(csv.reader([line]), [])
        if len(fields) == len(header):
            counts[fields[column]] += 1
            if counts[fields[column]] > per_user:
                continue
        kept.append(line)
    out.write_text("".join(kept))
    return out


@dataclass
class Planned:
    """The batches a job on Pub/Sub planned, from its source's journal."""

    values: list[bytes]  # the records, in batch order
    sizes: list[int]  # records per batch
    message_ids: list[str]  # of the records, in the same order
    redelivered: int  # copies of journaled messages the source recognised and acknowledged


def journal_batches(root: Path) -> Planned:
    """What the job's batches took, read from the Pub/Sub source's journal.

    The bus URL needs ``journal=<root>`` and a ``journal_keep`` large enough
    to keep every batch; the journal then holds exactly the batches Spark ran
    (one query run, one entry per batch).
    """
    (run,) = [p.name for p in root.iterdir() if p.is_dir()]
    journal = Journal(str(root), run)
    planned = Planned([], [], [], 0)
    for seq in journal.seqs():
        table = journal.read(seq)
        planned.values.extend(table["value"].to_pylist())
        planned.message_ids.extend(table["message_id"].to_pylist())
        planned.sizes.append(table.num_rows)
        planned.redelivered += journal.redelivered(seq)
    return planned


def unacknowledged(subscription: str) -> int:
    """How many messages ``subscription`` would deliver now (pulled, then given back at once)."""
    subscriber = raw_subscriber()
    path = f"projects/{PROJECT}/subscriptions/{subscription}"
    try:
        response = subscriber.pull(request={"subscription": path, "max_messages": 1000}, timeout=10)
        ack_ids = [r.ack_id for r in response.received_messages]
        if ack_ids:
            subscriber.modify_ack_deadline(
                request={"subscription": path, "ack_ids": ack_ids, "ack_deadline_seconds": 0}
            )
        return len(ack_ids)
    finally:
        subscriber.close()
