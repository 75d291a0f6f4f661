"""A deployed stack's outputs (``pulumi stack output --json``), as the job commands need them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adapters.errors import ConfigurationError


def read_outputs(path: Path) -> dict[str, Any]:
    """The outputs object saved with ``pulumi stack output --json > FILE``."""
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        msg = (
            f"cannot read {path}: {e.strerror}; save it with `pulumi stack output --json > {path}`"
        )
        raise ConfigurationError(msg) from e
    except json.JSONDecodeError as e:
        msg = f"{path} is not JSON ({e.msg}); save it with `pulumi stack output --json`"
        raise ConfigurationError(msg) from e
    if not isinstance(data, dict):
        msg = f"{path} holds no stack outputs object"
        raise ConfigurationError(msg)
    return data


def required(outputs: dict[str, Any], name: str, stack: str) -> Any:
    """One output, or an error naming the stack that should have it."""
    value = outputs.get(name)
    if value in (None, ""):
        msg = (
            f"the stack outputs have no {name!r}: are they from the {stack} stack (infra/{stack})?"
        )
        raise ConfigurationError(msg)
    return value
