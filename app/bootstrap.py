"""The composition root: settings in, ports out.

The only module of ``app`` that asks the registry for bindings. Entry points
(the CLI, later the stream job, the API, the Lambda handler) call these and
stay unaware of which technology is behind a port.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from adapters import registry
from adapters.ports import Archive, Bus, HotStore
from app.settings import Settings, get_settings


@dataclass(frozen=True)
class Ports:
    """Every port the pipeline uses, bound from one settings object."""

    bus: Bus
    deadletter: Bus
    hot_store: HotStore
    archive: Archive

    def close(self) -> None:
        """Release every client."""
        self.bus.close()
        self.deadletter.close()
        self.hot_store.close()


def open_bus(url: str, settings: Settings | None = None) -> Bus:
    """The bus at ``url``; a ``kafka://`` one with the ``STREAMKIT_KAFKA__*`` security."""
    if urlsplit(url).scheme.lower() != "kafka":
        return registry.open_bus(url)
    return registry.open_bus(url, security=(settings or get_settings()).kafka.client_options())


def bus(settings: Settings | None = None) -> Bus:
    """The events bus (``STREAMKIT_BUS_URL``)."""
    s = settings or get_settings()
    return open_bus(s.bus_url, s)


def deadletter(settings: Settings | None = None) -> Bus:
    """The dead-letter bus (``STREAMKIT_DEADLETTER_URL``)."""
    s = settings or get_settings()
    return open_bus(s.deadletter_url, s)


def hot_store(settings: Settings | None = None) -> HotStore:
    """The hot store (``STREAMKIT_HOT_STORE_URL``)."""
    return registry.open_hot_store((settings or get_settings()).hot_store_url.get_secret_value())


def archive(settings: Settings | None = None) -> Archive:
    """The archive (``STREAMKIT_ARCHIVE_URL``)."""
    return registry.open_archive((settings or get_settings()).archive_url)


def ports(settings: Settings | None = None) -> Ports:
    """All ports at once."""
    s = settings or get_settings()
    return Ports(bus(s), deadletter(s), hot_store(s), archive(s))
