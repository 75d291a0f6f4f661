"""Just enough of the Dockerfile grammar to read our Dockerfile's stages and commands.

Joins continuation lines, drops comments (also inside continuations, as BuildKit does) and
splits the file into stages at each ``FROM``. Exec-form arguments (a JSON array) are read as
JSON; a shell-form command runs as ``/bin/sh -c <text>``, as Docker runs it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.value for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"stage {self.name} has no {keyword}"
        return found[-1]


def logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1].rstrip() + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current.strip())
    return lines


def stages(text: str | None = None) -> list[Stage]:
    """The build stages in file order (instructions before the first FROM are dropped)."""
    found: list[Stage] = []
    for line in logical_lines(DOCKERFILE.read_text() if text is None else text):
        keyword, _, value = line.partition(" ")
        keyword, value = keyword.upper(), value.strip()
        if keyword == "FROM":
            words = value.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            found.append(Stage(base=words[0], name=name))
        elif found:
            found[-1].instructions.append(Instruction(keyword, value))
    return found


def stage(name: str, text: str | None = None) -> Stage:
    matches = [s for s in stages(text) if s.name == name]
    assert len(matches) == 1, f"expected one stage {name!r}"
    return matches[0]


def argv(value: str) -> list[str]:
    """A CMD's or RUN's arguments as the runtime executes them."""
    if value.startswith("["):
        parsed = json.loads(value)
        assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed)
        return parsed
    return ["/bin/sh", "-c", value]


def healthcheck_argv(value: str) -> list[str]:
    """The command of ``HEALTHCHECK [options] CMD ...``."""
    _, marker, command = value.partition("CMD ")
    assert marker, f"HEALTHCHECK without CMD: {value}"
    return argv(command.strip())
