"""One finding of a policy check."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from infra.policy.recorded import Resource


@dataclass(frozen=True)
class Violation:
    """``check`` found ``message`` on the resource ``type``/``name``."""

    check: str
    type: str
    name: str
    message: str

    @classmethod
    def of(cls, check: str, resource: Resource, message: str) -> Violation:
        """A violation of ``check`` on ``resource``."""
        return cls(check, resource.type, resource.name, message)

    def to_json(self) -> dict[str, str]:
        """JSON-ready form."""
        return asdict(self)

    def __str__(self) -> str:
        return f"[{self.check}] {self.type} {self.name}: {self.message}"
