"""Binding lookup by URL: one alias table, lazy imports.

``open_bus("kafka://127.0.0.1:9092/events_raw")`` imports
``adapters.bus.kafka`` only then, so the core installs without any SDK. A
URL of the form ``package.module:Class`` plugs in a custom binding, which is
constructed with the URL itself. ``fault.*`` query parameters wrap any
binding in a fault plan (see :mod:`adapters.faults`).
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from adapters.errors import ConfigurationError, UnknownBindingError
from adapters.faults import FaultPlan, inject
from adapters.ports import Archive, Bus, HotStore

PortKind = Literal["bus", "hot_store", "archive"]

_ALIASES: dict[PortKind, dict[str, str]] = {
    "bus": {
        "kafka": "adapters.bus.kafka:KafkaBus",
        "kinesis": "adapters.bus.kinesis:KinesisBus",
        "memory": "adapters.bus.memory:MemoryBus",
        "pubsub": "adapters.bus.pubsub:PubSubBus",
    },
    "hot_store": {
        "mongodb": "adapters.hot.mongo:MongoHotStore",
        "mongodb+srv": "adapters.hot.mongo:MongoHotStore",
        "memory": "adapters.hot.memory:MemoryHotStore",
    },
    "archive": {
        "file": "adapters.archive.parquet:ParquetArchive",
        "": "adapters.archive.parquet:ParquetArchive",  # a plain path
        "s3": "adapters.archive.parquet:ParquetArchive",
        "gs": "adapters.archive.parquet:ParquetArchive",
        "gcs": "adapters.archive.parquet:ParquetArchive",
        "memory": "adapters.archive.memory:MemoryArchive",
    },
}

_PLUGIN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def register(kind: PortKind, scheme: str, target: str) -> None:
    """Add or replace a binding: ``target`` is ``"package.module:Class"``."""
    _ALIASES[kind][scheme] = target


def known_schemes(kind: PortKind) -> list[str]:
    """The URL schemes with a binding for ``kind``."""
    return sorted(s for s in _ALIASES[kind] if s)


def binding_class(kind: PortKind, url: str) -> type[Any]:
    """The class that serves ``url`` for port ``kind``; imports its module now."""
    if _PLUGIN.match(url):
        return _load(url)
    scheme = urlsplit(url).scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter, not a scheme
        scheme = ""
    target = _ALIASES[kind].get(scheme)
    if target is None:
        shown = ", ".join(f"{s}://" for s in known_schemes(kind))
        msg = (
            f"no {kind.replace('_', ' ')} binding for {scheme or 'plain'!r} URLs; known: {shown}"
            " (or 'package.module:Class' for a custom one)"
        )
        raise UnknownBindingError(msg)
    return _load(target)


def _load(target: str) -> type[Any]:
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            msg = f"binding module {module_name!r} not found ({target})"
            raise ConfigurationError(msg) from e
        raise
    try:
        return cast(type[Any], getattr(module, class_name))
    except AttributeError as e:
        msg = f"module {module_name!r} has no binding class {class_name!r}"
        raise ConfigurationError(msg) from e


def split_faults(url: str) -> tuple[str, FaultPlan | None]:
    """Remove ``fault.*`` parameters from ``url``; return it and the plan they describe."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    plan = FaultPlan.from_query(dict(params))
    if plan is None:
        return url, None
    rest = urlencode([(k, v) for k, v in params if not k.startswith("fault.")])
    return urlunsplit(parts._replace(query=rest)), plan


def _open(kind: PortKind, url: str, **options: Any) -> Any:
    clean, plan = split_faults(url)
    port = binding_class(kind, clean)(clean, **options)
    return inject(port, plan) if plan else port


def open_bus(url: str, **options: Any) -> Bus:
    """The bus binding for ``url``, e.g. ``kafka://127.0.0.1:9092/events_raw``.

    ``options`` go to the binding's constructor as they are (``security=`` for Kafka).
    """
    return cast(Bus, _open("bus", url, **options))


def open_hot_store(url: str) -> HotStore:
    """The hot-store binding for ``url``, e.g. ``mongodb://127.0.0.1:27017/streamkit``."""
    return cast(HotStore, _open("hot_store", url))


def open_archive(url: str) -> Archive:
    """The archive binding for ``url``, e.g. ``file:///data/archive`` or a plain path."""
    return cast(Archive, _open("archive", url))
