"""Resources as a Pulumi program registered them: type token, logical name, inputs, id.

Inputs are kept in their wire form (camelCase property names, as the provider receives them),
with Pulumi secrets still wrapped, so a check can tell "this value was marked secret" from a
plain one. Assets and archives become small dicts (``{"asset": "file", "path": ...}``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

#: The wire form of a Pulumi secret: ``{SECRET_SIG_KEY: SECRET_SIG_VALUE, "value": ...}``.
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # noqa: S105 - Pulumi's wire marker
SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105


@dataclass(frozen=True)
class Resource:
    """One registered resource (or component: ``custom`` False)."""

    type: str
    name: str
    inputs: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    custom: bool = True

    def get(self, *path: str | int, default: Any = None) -> Any:
        """The input at ``path`` (keys, list indexes), secrets revealed; ``default`` if absent."""
        value: Any = self.inputs
        for step in path:
            value = reveal(value)
            try:
                value = value[step]
            except (KeyError, IndexError, TypeError):
                return default
        return reveal(value)


def is_secret(value: Any) -> bool:
    """Whether ``value`` is a Pulumi secret in its wire form."""
    return isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG_VALUE


def reveal(value: Any) -> Any:
    """``value`` with every secret wrapper removed (recursively)."""
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def secret(value: Any) -> dict[str, Any]:
    """``value`` wrapped as a Pulumi secret (for hand-written fixtures)."""
    return {SECRET_SIG_KEY: SECRET_SIG_VALUE, "value": value}


class Resources:
    """The resources of one program run, with look-ups by type token and by id.

    ``outputs`` are the stack's outputs in wire form (a secret output wrapped as a secret):
    some are requests a CLI submits later (``job_batch_request``), which the checks read too.
    """

    def __init__(
        self, resources: Iterable[Resource], outputs: dict[str, Any] | None = None
    ) -> None:
        """Keep ``resources`` in registration order."""
        self.all = list(resources)
        self.outputs = dict(outputs or {})
        self._by_id = {r.id: r for r in self.all if r.id}

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.all)

    def __len__(self) -> int:
        return len(self.all)

    def of_type(self, *tokens: str) -> list[Resource]:
        """Resources whose type token is one of ``tokens``."""
        return [r for r in self.all if r.type in tokens]

    def by_id(self, resource_id: Any) -> Resource | None:
        """The resource whose id is ``resource_id`` (inputs refer to others by id)."""
        return self._by_id.get(reveal(resource_id)) if isinstance(resource_id, str) else None

    def named(self, name: str) -> Resource:
        """The resource with logical name ``name`` (KeyError if none)."""
        for r in self.all:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_json(self) -> list[dict[str, Any]]:
        """JSON-ready records."""
        return [asdict(r) for r in self.all]

    @classmethod
    def from_json(cls, records: Iterable[dict[str, Any]]) -> Resources:
        """The inverse of :meth:`to_json`."""
        return cls(Resource(**r) for r in records)


def dumps(resources: Resources) -> str:
    """Resources as a JSON document."""
    return json.dumps(resources.to_json(), indent=1, sort_keys=True)
