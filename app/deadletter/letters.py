"""The dead-letter topic read back: every record, parsed, counted by reason and minute.

The topic is at-least-once (a re-run batch re-sends its letters), so counts are of distinct
``dead_letter_id``s. A record that is not a dead letter (written by something else, or
garbled) is kept as *unreadable*, never dropped: triage must see everything on the topic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from adapters.ports import BusMessage
from app.events.rejects import DeadLetter

#: The reason of a record that is not a dead letter.
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Entry:
    """One record of the topic: its dead letter, or why it is not one."""

    message: BusMessage
    letter: DeadLetter | None
    problem: str = ""

    @property
    def reason(self) -> str:
        """The dead letter's reason, or ``unreadable``."""
        return self.letter.reason.value if self.letter else UNREADABLE

    @property
    def at(self) -> datetime:
        """When it was rejected; for an unreadable record, when the topic got it."""
        if self.letter is not None:
            return self.letter.rejected_at.astimezone(UTC)
        return datetime.fromtimestamp(self.message.publish_time_ms / 1000, UTC)


def parse(messages: Iterable[BusMessage]) -> list[Entry]:
    """Each message as an :class:`Entry`, in the order read."""
    entries = []
    for message in messages:
        try:
            entries.append(Entry(message, DeadLetter.model_validate_json(message.value)))
        except ValidationError as e:
            entries.append(
                Entry(message, None, f"not a dead-letter record: {e.errors()[0]['msg']}")
            )
    return entries


def distinct(entries: Iterable[Entry], since: datetime | None = None) -> list[Entry]:
    """The first copy of each ``dead_letter_id``, and every unreadable record; from ``since`` on."""
    seen: set[str] = set()
    kept = []
    for entry in entries:
        if since is not None and entry.at < since:
            continue
        if entry.letter is not None:
            if entry.letter.dead_letter_id in seen:
                continue
            seen.add(entry.letter.dead_letter_id)
        kept.append(entry)
    return kept


@dataclass(frozen=True)
class Count:
    """Dead letters of one reason in one minute."""

    minute: datetime
    reason: str
    letters: int


def counts(entries: Iterable[Entry]) -> list[Count]:
    """Distinct dead letters by minute (of rejection) and reason, earliest first."""
    by = Counter((e.at.replace(second=0, microsecond=0), e.reason) for e in entries)
    return [Count(minute, reason, n) for (minute, reason), n in sorted(by.items())]
