"""Binding lookup by URL: the alias table, plug-ins, and ``fault.*`` parameters."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator

import pytest

from adapters import registry
from adapters.bus import memory as memory_bus
from adapters.bus.memory import MemoryBus
from adapters.errors import ConfigurationError, UnknownBindingError
from adapters.faults import plan_of
from adapters.registry import (
    binding_class,
    known_schemes,
    open_bus,
    register,
    split_faults,
)


class CustomBus:
    """A plug-in binding defined right here, loaded by ``module:Class``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.topic = "custom"


PLUGIN = f"{__name__}:CustomBus"

KAFKA = "adapters.bus.kafka:KafkaBus"
MEMORY_BUS = "adapters.bus.memory:MemoryBus"
MONGO = "adapters.hot.mongo:MongoHotStore"
MEMORY_HOT = "adapters.hot.memory:MemoryHotStore"
PARQUET = "adapters.archive.parquet:ParquetArchive"
MEMORY_ARCHIVE = "adapters.archive.memory:MemoryArchive"


def target_of(cls: type) -> str:
    """``module:Class`` of a binding class, as the alias table spells it."""
    return f"{cls.__module__}:{cls.__qualname__}"


@pytest.fixture
def aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    """A private copy of the alias table, so ``register`` in a test leaks nowhere."""
    monkeypatch.setattr(registry, "_ALIASES", copy.deepcopy(registry._ALIASES))


@pytest.mark.parametrize(
    ("kind", "url", "target"),
    [
        ("bus", "kafka://127.0.0.1:9092/events_raw", KAFKA),
        ("bus", "KAFKA://127.0.0.1:9092/events_raw", KAFKA),
        ("bus", "memory://events_raw", MEMORY_BUS),
        ("hot_store", "mongodb://127.0.0.1:27017/streamkit", MONGO),
        ("hot_store", "mongodb+srv://user:pw@cluster.example.net/streamkit", MONGO),
        ("hot_store", "memory://hot", MEMORY_HOT),
        ("archive", "file:///var/data/archive", PARQUET),
        ("archive", "/var/data/archive", PARQUET),
        ("archive", "relative/archive", PARQUET),
        ("archive", "C:/data/archive", PARQUET),
        ("archive", "c:/data/archive", PARQUET),
        ("archive", "memory://archive", MEMORY_ARCHIVE),
    ],
)
def test_each_scheme_finds_its_binding(kind: registry.PortKind, url: str, target: str) -> None:
    assert target_of(binding_class(kind, url)) == target


def test_a_windows_drive_is_a_plain_path_not_a_scheme() -> None:
    # For a bus a plain path is not a binding at all: the error says "plain", not "c".
    with pytest.raises(UnknownBindingError, match="'plain'"):
        binding_class("bus", "C:/x")


@pytest.mark.parametrize(
    ("kind", "known"),
    [
        ("bus", ["kafka://", "memory://"]),
        ("hot_store", ["mongodb://", "mongodb+srv://", "memory://"]),
        ("archive", ["file://", "memory://"]),
    ],
)
def test_an_unknown_scheme_lists_the_known_ones(kind: registry.PortKind, known: list[str]) -> None:
    with pytest.raises(UnknownBindingError, match="'redis'") as info:
        binding_class(kind, "redis://127.0.0.1:6379/0")
    message = str(info.value)
    for scheme in known:
        assert scheme in message
    assert "package.module:Class" in message
    assert isinstance(info.value, ConfigurationError)


def test_known_schemes_hide_the_plain_path_entry() -> None:
    assert "" not in known_schemes("archive")
    assert known_schemes("bus") == sorted(known_schemes("bus"))
    assert {"kafka", "memory"} <= set(known_schemes("bus"))


def test_a_module_class_url_loads_a_plugin() -> None:
    assert binding_class("bus", PLUGIN) is CustomBus


def test_a_plugin_is_constructed_with_its_url() -> None:
    bus = open_bus(PLUGIN)
    assert isinstance(bus, CustomBus)
    assert bus.url == PLUGIN


def test_a_missing_plugin_module_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no_such_module_xyz"):
        binding_class("bus", "no_such_module_xyz:Bus")


def test_a_missing_plugin_class_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="NoSuchClass"):
        binding_class("bus", f"{__name__}:NoSuchClass")


@pytest.mark.usefixtures("aliases")
def test_register_adds_a_scheme() -> None:
    register("bus", "custom", PLUGIN)
    assert "custom" in known_schemes("bus")
    assert binding_class("bus", "custom://anything") is CustomBus
    bus = open_bus("custom://anything")
    assert isinstance(bus, CustomBus)
    assert bus.url == "custom://anything"


@pytest.mark.usefixtures("aliases")
def test_register_replaces_a_scheme() -> None:
    register("bus", "memory", PLUGIN)
    assert binding_class("bus", "memory://x") is CustomBus


def test_register_in_a_test_does_not_leak() -> None:
    assert "custom" not in known_schemes("bus")
    assert binding_class("bus", "memory://x") is MemoryBus


# ----------------------------------------------------------------- split_faults


def test_split_faults_without_faults_returns_the_url_unchanged() -> None:
    url = "kafka://127.0.0.1:9092/events_raw?security.protocol=SSL&a=1"
    assert split_faults(url) == (url, None)


def test_split_faults_removes_only_fault_params() -> None:
    url = (
        "mongodb://user:pw@127.0.0.1:27017/streamkit?tls=true&fault.fail_every=3"
        "&retryWrites=false&fault.ops=upsert_many"
    )
    clean, plan = split_faults(url)
    assert clean == "mongodb://user:pw@127.0.0.1:27017/streamkit?tls=true&retryWrites=false"
    assert plan is not None
    assert plan.fail_every == 3
    assert plan.ops == frozenset({"upsert_many"})


def test_split_faults_with_only_fault_params_leaves_no_query() -> None:
    clean, plan = split_faults("memory://events?fault.fail_keys=a,b")
    assert clean == "memory://events"
    assert plan is not None
    assert plan.fail_on_keys == frozenset({"a", "b"})


def test_split_faults_rejects_unknown_fault_params() -> None:
    with pytest.raises(ConfigurationError, match="unknown fault parameter"):
        split_faults("memory://events?fault.nope=1")


@pytest.fixture
def memory_topic() -> Iterator[str]:
    topic = f"registry_{uuid.uuid4().hex[:10]}"
    yield topic
    memory_bus.reset(topic)


def test_open_wraps_a_binding_in_its_fault_plan(memory_topic: str) -> None:
    bus = open_bus(f"memory://{memory_topic}?partitions=2&fault.fail_every=2&fault.ops=publish")
    plan = plan_of(bus)
    assert plan is not None
    assert plan.fail_every == 2
    # The binding itself saw the URL without the fault parameters.
    assert bus.url == f"memory://{memory_topic}?partitions=2"
    assert bus.ensure(1) == 2


def test_open_without_faults_returns_the_bare_binding(memory_topic: str) -> None:
    bus = open_bus(f"memory://{memory_topic}")
    assert plan_of(bus) is None
    assert isinstance(bus, MemoryBus)
