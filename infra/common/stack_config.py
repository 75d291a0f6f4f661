"""What the stacks' configuration readers share: key groups read strictly, one naming rule.

Each program keeps its own dataclasses and defaults (``infra/aws/config.py``,
``infra/gcp/config.py``, ``infra/local/pulumi/config.py``); reading a group and naming resources
work the same way in all of them, so they live here.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pulumi


def read_group(config: pulumi.Config, key: str, cls: type[Any]) -> Any:
    """A config object ``key`` read into dataclass ``cls``; unknown keys are an error.

    Refusing unknown keys makes a typo in ``Pulumi.<stack>.yaml`` fail loudly instead of
    leaving the default silently in place.
    """
    given = config.get_object(key) or {}
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(given) - known)
    if unknown:
        msg = f"{config.full_key(key)} has unknown keys {unknown}; known: {sorted(known)}"
        raise ValueError(msg)
    return cls(**given)


class StackNaming:
    """The naming rule of every stack: resources are named ``streamkit-<stack>-...``."""

    stack: str

    @property
    def prefix(self) -> str:
        """Name prefix of every resource: ``streamkit-<stack>``."""
        return f"streamkit-{self.stack}"
