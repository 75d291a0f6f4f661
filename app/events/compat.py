"""Is a new version of the event contract safe to roll out? Two JSON Schemas compared.

A rolling change has producers on the new version while the job still reads the old one,
and the job, once restarted on the new version, reading what old producers wrote (and what
the bus still holds). So a change must be compatible both ways: every event valid under
one schema must be valid under the other, except for fields that one side does not know.
That allows exactly one kind of change, a new optional field: readers ignore fields they do
not know (``extra="ignore"``), and an absent optional field takes its default. Everything
else is refused, naming the field:

* a required field removed, or made optional (old readers need it);
* a field made required, or a new required field (old producers do not send it);
* a field's types, enum values or constraints changed, either way: narrower refuses what old
  producers send, wider what old readers accept (a new ``event_type`` would be dead-lettered
  by the old job);
* a new field where the old schema forbids unknown ones (``additionalProperties: false``);
* a field's default changed (an absent field would read differently);
* a version (the ``$id``'s ``v<N>``) that does not grow.

The schemas are the ones :func:`app.events.contract.json_schema` generates (pydantic's JSON
Schema: ``type``, ``anyOf`` for optional values, ``$ref`` into ``$defs`` for enums).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.errors import ConfigurationError

#: Keywords that say nothing about which values are valid (``default`` is compared apart).
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment"})


@dataclass(frozen=True)
class Problem:
    """One incompatible change, for one field."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def load(path: Path) -> dict[str, Any]:
    """A JSON Schema from a file; a clear error when it is missing or not a JSON object."""
    try:
        schema = json.loads(path.read_text())
    except OSError as e:
        msg = f"cannot read {path}: {e.strerror}; pass the path of a JSON Schema file"
        raise ConfigurationError(msg) from e
    except ValueError as e:
        msg = f"{path} is not JSON ({e}); pass a JSON Schema, e.g. from `streamkit schema show`"
        raise ConfigurationError(msg) from e
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        msg = f"{path} is not an object schema with properties; pass an event JSON Schema"
        raise ConfigurationError(msg)
    return schema


def check(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Problem]:
    """Every incompatible change from ``old`` to ``new`` (none: safe to roll out)."""
    old_fields, new_fields = old["properties"], new["properties"]
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    problems: list[Problem] = []
    for name in sorted(old_fields.keys() | new_fields.keys()):
        if name not in new_fields:
            if name in old_required:
                problems.append(Problem(name, "required field removed: old readers need it"))
            continue  # an optional field dropped: old readers take its default
        if name not in old_fields:
            if name in new_required:
                problems.append(
                    Problem(name, "new required field: events of old producers lack it")
                )
            elif old.get("additionalProperties") is False:
                problems.append(Problem(name, "new field, but the old schema forbids unknown ones"))
            continue
        if name in old_required and name not in new_required:
            problems.append(Problem(name, "made optional: old readers need it on every event"))
        if name in new_required and name not in old_required:
            problems.append(Problem(name, "made required: events of old producers may lack it"))
        before = _accepted(old_fields[name], old.get("$defs", {}))
        after = _accepted(new_fields[name], new.get("$defs", {}))
        if before != after:
            problems.append(Problem(name, _difference(before, after)))
        # An absent optional field reads as its default: a new default would make old and
        # new readers see different values in one event (schema_version must change, below).
        old_default = _field(old_fields[name]).get("default")
        new_default = _field(new_fields[name]).get("default")
        if name != "schema_version" and old_default != new_default:
            said = f"default changed from {old_default!r} to {new_default!r}"
            problems.append(Problem(name, f"{said}: readers disagree on events that lack it"))
    problems += _version(old, new)
    return problems


def _version(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Problem]:
    old_v, new_v = version_of(old), version_of(new)
    if old_v is not None and new_v is not None and new_v <= old_v:
        return [Problem("schema_version", f"version {new_v} does not grow past {old_v}")]
    return []


def version_of(schema: Mapping[str, Any]) -> int | None:
    """The contract version a schema describes: from its ``$id`` (``…/v2.json``).

    An ``$id`` without ``v<N>`` gives none (nothing to compare); a schema without ``$id``
    gives its ``schema_version`` default.
    """
    if "$id" in schema:
        found = re.search(r"/v(\d+)\.json$", str(schema["$id"]))
        return int(found[1]) if found else None
    default = _field(schema.get("properties", {}).get("schema_version")).get("default")
    return default if isinstance(default, int) else None


#: A field's valid values: one frozen set of keyword/value pairs per alternative.
Accepted = frozenset[frozenset[tuple[str, str]]]


def _field(node: object) -> Mapping[str, Any]:
    """A field's schema as a mapping (``true``/``false`` schemas have no keywords)."""
    return node if isinstance(node, Mapping) else {}


def _accepted(field: object, defs: Mapping[str, Any]) -> Accepted:
    """What a field accepts, without annotations, ``$ref`` resolved, ``anyOf`` flattened.

    Keywords next to ``anyOf`` apply to every branch, so each branch gets them.
    """
    if isinstance(field, bool):  # the schema true (anything) or false (nothing)
        return frozenset({frozenset({("boolean schema", json.dumps(field))})})
    resolved = _resolve(_field(field), defs)
    branches = resolved.get("anyOf") or resolved.get("oneOf") or [{}]
    shared = {k: v for k, v in resolved.items() if k not in ("anyOf", "oneOf")}
    return frozenset(_keywords(shared | _resolve(_field(b), defs)) for b in branches)


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return dict(node)
    target = defs.get(ref.rsplit("/", 1)[-1])
    if target is None:
        msg = f"the schema refers to {ref}, which its $defs lack"
        raise ConfigurationError(msg)
    # Keywords next to the $ref apply too (pydantic puts the description there).
    return {**_resolve(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}


def _keywords(branch: Mapping[str, Any]) -> frozenset[tuple[str, str]]:
    return frozenset(
        (key, json.dumps(value, sort_keys=True))
        for key, value in branch.items()
        if key not in _ANNOTATIONS
    )


def _difference(before: Accepted, after: Accepted) -> str:
    """Say what changed: the types, the enum values, else the constraints."""
    types_before, types_after = _types(before), _types(after)
    if types_before != types_after:
        return f"type changed from {_list(types_before)} to {_list(types_after)}"
    enum_before, enum_after = _enum(before), _enum(after)
    if enum_before != enum_after:
        removed, added = enum_before - enum_after, enum_after - enum_before
        parts = [f"removed {_list(removed)}"] if removed else []
        parts += [f"added {_list(added)}"] if added else []
        return "values " + " and ".join(parts) + ": one side refuses what the other sends"
    changed = {key for key, _ in _pairs(before) ^ _pairs(after)}
    return f"constraints changed ({_list(changed)}): one side refuses what the other sends"


def _pairs(accepted: Accepted) -> set[tuple[str, str]]:
    return {pair for branch in accepted for pair in branch}


def _types(accepted: Accepted) -> set[str]:
    found: set[str] = set()
    for key, value in _pairs(accepted):
        if key == "type":
            loaded = json.loads(value)
            found |= set(loaded) if isinstance(loaded, list) else {loaded}
    return found


def _enum(accepted: Accepted) -> set[str]:
    return {str(v) for key, value in _pairs(accepted) if key == "enum" for v in json.loads(value)}


def _list(values: set[str]) -> str:
    return ", ".join(sorted(values)) or "nothing"
