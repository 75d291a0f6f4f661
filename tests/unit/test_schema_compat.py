"""``streamkit schema check``: which contract changes survive a rolling upgrade."""

from __future__ import annotations

import copy
import itertools
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.registry import open_bus
from app.cli.main import app
from app.cli.schema import render
from app.events.compat import Problem, check, version_of
from app.events.contract import SCHEMA_VERSION, Event
from app.producers.formats import read_rees46
from app.producers.sender import EventSender

ROOT = Path(__file__).resolve().parents[2]
REES46 = ROOT.parent / "shared" / "data" / "rees46_2019-Oct_first4999rows_phamhoa2416.csv"
HISTORY = sorted(
    (ROOT / "schemas").glob("event.v*.json"), key=lambda p: int(re.findall(r"\d+", p.name)[-1])
)
Schema = dict[str, Any]


def current() -> Schema:
    schema: Schema = json.loads(render())
    return schema


def next_version(change: Callable[[Schema], None]) -> Schema:
    """The model's schema, one version on, with ``change`` applied."""
    new = copy.deepcopy(current())
    version = version_of(new)
    assert version is not None
    new["$id"] = new["$id"].replace(f"/v{version}.json", f"/v{version + 1}.json")
    change(new)
    return new


def fields(problems: list[Problem]) -> list[str]:
    return [p.field for p in problems]


def test_the_history_is_compatible_version_after_version_and_ends_at_the_model() -> None:
    assert HISTORY, "schemas/event.v1.json is missing"
    for old, new in zip(HISTORY, HISTORY[1:], strict=False):
        assert check(json.loads(old.read_text()), json.loads(new.read_text())) == [], new.name
    assert HISTORY[-1].read_text() == render(), (
        f"the model changed: commit it as schemas/event.v{len(HISTORY) + 1}.json "
        "(streamkit schema show --out ...) once `streamkit schema check` accepts it"
    )


def test_version_2_adds_the_optional_category_id_and_nothing_else() -> None:
    v1, v2 = (json.loads((ROOT / "schemas" / f"event.v{n}.json").read_text()) for n in (1, 2))
    assert check(v1, v2) == []
    assert set(v2["properties"]) - set(v1["properties"]) == {"category_id"}
    assert v2["required"] == v1["required"]
    assert (version_of(v1), version_of(v2)) == (1, 2)
    # Absent, the version reads as 1 in both: old producers never stamped one.
    assert v1["properties"]["schema_version"]["default"] == 1
    # Everything but the new field and the version is as it was.
    unchanged = set(v1["properties"]) - {"schema_version"}
    assert {k: v2["properties"][k] for k in unchanged} == {
        k: v1["properties"][k] for k in unchanged
    }


def test_replay_fills_category_id_from_rees46_and_keeps_category_the_path() -> None:
    records = [r.event for r in itertools.islice(read_rees46(REES46), 50)]
    events = [Event.model_validate(r) for r in records if r is not None]
    assert len(events) == 50
    # Real rows: a 19-digit category id on each; the path only on some (else the id again).
    assert all(e.category_id is not None and e.category_id.isdigit() for e in events)
    assert {e.category == e.category_id for e in events} == {True, False}


def test_the_producers_stamp_the_contract_version_unless_the_record_has_one() -> None:
    events, dead = (f"memory://{n}_{uuid.uuid4().hex}" for n in ("ev", "dl"))
    open_bus(events).ensure(1)
    open_bus(dead).ensure(1)
    sender = EventSender(open_bus(events), open_bus(dead), source="t")
    sender.send({"event_id": "e1", "user_id": "u1"})
    sender.send({"event_id": "e2", "user_id": "u1", "schema_version": 1})
    assert sender.flush(5).failed == 0
    read = open_bus(events).reader("t").read(max_messages=10, timeout_s=0.1)
    versions = {(e := json.loads(m.value))["event_id"]: e["schema_version"] for m in read}
    assert versions == {"e1": SCHEMA_VERSION, "e2": 1}


def test_a_new_optional_field_rolls_out() -> None:
    def add_coupon(s: Schema) -> None:
        s["properties"]["coupon"] = {
            "anyOf": [{"maxLength": 32, "type": "string"}, {"type": "null"}],
            "default": None,
            "description": "A coupon code, when one was used.",
        }

    assert check(current(), next_version(add_coupon)) == []


def test_descriptions_and_titles_are_not_changes() -> None:
    def reword(s: Schema) -> None:
        s["properties"]["user_id"]["description"] = "Who acted."
        s["properties"]["event_type"]["title"] = "Kind"

    assert check(current(), next_version(reword)) == []


def _drop(name: str) -> Callable[[Schema], None]:
    def change(s: Schema) -> None:
        del s["properties"][name]
        s["required"] = [r for r in s["required"] if r != name]

    return change


def _set(path: str, value: Any) -> Callable[[Schema], None]:
    def change(s: Schema) -> None:
        *parents, leaf = path.split("/")
        node = s
        for part in parents:
            node = node[part]
        node[leaf] = value

    return change


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        (_drop("product_id"), "product_id", "required field removed"),
        (
            _set("required", ["event_id", "event_time", "event_type", "user_id"]),
            "product_id",
            "made optional",
        ),
        (_set("required", [*current()["required"], "source"]), "source", "made required"),
        (
            _set("properties/quantity/type", "string"),
            "quantity",
            "type changed from integer to string",
        ),
        (_set("properties/user_id/maxLength", 256), "user_id", "constraints changed (maxLength)"),
        (
            _set(
                "$defs/EventType/enum",
                ["page_view", "add_to_cart", "purchase", "remove_from_cart", "wishlist"],
            ),
            "event_type",
            "values added wishlist",
        ),
        (
            _set("$defs/EventType/enum", ["page_view", "add_to_cart", "purchase"]),
            "event_type",
            "values removed remove_from_cart",
        ),
        (_set("properties/coupon", {"type": "string"}), "coupon", None),  # optional: fine
    ],
    ids=[
        "required-removed",
        "required-made-optional",
        "made-required",
        "retyped",
        "constraint-widened",
        "enum-value-added",
        "enum-value-removed",
        "optional-added",
    ],
)
def test_breaking_changes_are_refused_naming_the_field(
    change: Callable[[Schema], None], field: str, says: str | None
) -> None:
    problems = check(current(), next_version(change))
    if says is None:
        assert problems == []
        return
    assert fields(problems) == [field], problems
    assert says in problems[0].message


def test_a_new_required_field_is_refused() -> None:
    def add(s: Schema) -> None:
        s["properties"]["store_id"] = {"type": "string"}
        s["required"] = [*s["required"], "store_id"]

    assert fields(check(current(), next_version(add))) == ["store_id"]


def test_a_new_field_is_refused_where_unknown_ones_were_forbidden() -> None:
    old = current() | {"additionalProperties": False}
    new = next_version(_set("properties/coupon", {"type": "string"}))
    assert fields(check(old, new)) == ["coupon"]


def test_the_version_must_grow() -> None:
    assert fields(check(current(), current())) == ["schema_version"]


def test_the_command_exits_0_1_or_2(tmp_path: Path) -> None:
    runner = CliRunner()
    v1, v2, bad = tmp_path / "v1.json", tmp_path / "v2.json", tmp_path / "v2-bad.json"
    v1.write_text(render())
    v2.write_text(json.dumps(next_version(lambda s: None)))
    bad.write_text(json.dumps(next_version(_drop("user_id"))))

    ok = runner.invoke(app, ["schema", "check", str(v1), str(v2)])
    assert ok.exit_code == 0 and "compatible" in ok.stdout
    refused = runner.invoke(app, ["schema", "check", str(v1), str(bad)])
    assert refused.exit_code == 1
    assert "incompatible: user_id: required field removed" in refused.stderr
    missing = runner.invoke(app, ["schema", "check", str(v1), str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    (tmp_path / "text.json").write_text("not json")
    garbled = runner.invoke(app, ["schema", "check", str(v1), str(tmp_path / "text.json")])
    assert garbled.exit_code == 2 and "is not JSON" in garbled.stderr
    assert "Traceback" not in missing.stderr + garbled.stderr


def test_a_changed_default_is_refused() -> None:
    problems = check(current(), next_version(_set("properties/currency/default", "EUR")))
    assert fields(problems) == ["currency"] and "default changed from 'USD' to 'EUR'" in str(
        problems[0]
    )


def test_keywords_beside_any_of_and_boolean_schemas_count() -> None:
    def narrow(s: Schema) -> None:
        s["properties"]["brand"]["maxLength"] = 10  # beside anyOf: applies to every branch

    assert fields(check(current(), next_version(narrow))) == ["brand"]
    assert fields(check(current(), next_version(_set("properties/brand", True)))) == ["brand"]
