"""Differences between two sides' outputs, minute by minute and session by session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.rehearse.outputs import Outputs

_MISSING = "(missing)"


@dataclass(frozen=True)
class FieldDiff:
    """One value that differs: where, which field, and each side's value."""

    where: str  # a minute, a session id, or an archive dataset
    field: str
    left: Any
    right: Any


@dataclass
class Diff:
    """Everything that differs between the two sides; empty when the move changed no number."""

    minutes: list[FieldDiff] = field(default_factory=list)
    sessions: list[FieldDiff] = field(default_factory=list)
    archive: list[FieldDiff] = field(default_factory=list)
    dead_letters: list[FieldDiff] = field(default_factory=list)
    compared_minutes: int = 0
    compared_sessions: int = 0

    @property
    def count(self) -> int:
        """How many values differ in all."""
        return len(self.minutes) + len(self.sessions) + len(self.archive) + len(self.dead_letters)

    @property
    def identical(self) -> bool:
        """True when nothing differs: the pass mark."""
        return self.count == 0


def compare(left: Outputs, right: Outputs) -> Diff:
    """Field-by-field differences of ``right`` from ``left``."""
    diff = Diff()
    left_minutes, right_minutes = left.data_minutes(), right.data_minutes()
    diff.minutes = keyed(left_minutes, right_minutes)
    diff.compared_minutes = len(left_minutes.keys() | right_minutes.keys())
    diff.sessions = keyed(left.sessions, right.sessions)
    diff.compared_sessions = len(left.sessions.keys() | right.sessions.keys())
    diff.archive = [
        FieldDiff(name, "rows", left.archived_rows.get(name), right.archived_rows.get(name))
        for name in sorted(left.archived_rows.keys() | right.archived_rows.keys())
        if left.archived_rows.get(name) != right.archived_rows.get(name)
    ]
    a, b = left.dead_letters_elsewhere(), right.dead_letters_elsewhere()
    if a != b:
        diff.dead_letters = [FieldDiff("publish-time minutes", "deadlettered", a, b)]
    return diff


def keyed(left: dict[str, dict[str, Any]], right: dict[str, dict[str, Any]]) -> list[FieldDiff]:
    """Each field that differs between two sides' rows of the same key.

    A row on one side only is one difference, ``(whole row)``.
    """
    out: list[FieldDiff] = []
    for key in sorted(left.keys() | right.keys()):
        if key not in left or key not in right:
            out.append(
                FieldDiff(
                    key,
                    "(whole row)",
                    "present" if key in left else _MISSING,
                    "present" if key in right else _MISSING,
                )
            )
            continue
        out.extend(
            FieldDiff(key, name, left[key].get(name), right[key].get(name))
            for name in sorted(left[key].keys() | right[key].keys())
            if left[key].get(name) != right[key].get(name)
        )
    return out
