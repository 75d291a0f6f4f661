"""Settings and ports as commands open them: every error names the ``STREAMKIT_*`` setting to fix.

The bindings' errors say what went wrong with a URL or a service ("Kafka at
127.0.0.1:9092 did not answer"); only the CLI knows which variable the user
set and what to run, so it adds that here, once for every command.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from pydantic import ValidationError
from pydantic_settings import SettingsError

from adapters.errors import ConfigurationError, StreamkitError, TerminalError, TransientError
from adapters.ports import Bus, HotStore
from app import bootstrap
from app.settings import Settings, get_settings

_START = "Start the local stack with `streamkit local up`"
_TOPICS = "`streamkit local up` creates the local topics events_raw and events_deadletter"


def load_settings() -> Settings:
    """The settings; a bad ``STREAMKIT_*`` value is a ``ConfigurationError`` naming the variable."""
    try:
        return get_settings()
    except ValidationError as e:
        raise ConfigurationError(settings_problem(e)) from e
    except SettingsError as e:  # a nested setting given as JSON that does not parse
        field = re.search(r'field "(\w+)"', str(e))
        name = f"STREAMKIT_{field[1].upper()}__*" if field else "STREAMKIT_*"
        msg = f"bad settings: {e}; fix the {name} variable (JSON), or unset it for the default"
        raise ConfigurationError(msg) from e


def settings_problem(error: ValidationError) -> str:
    """Every problem as ``STREAMKIT_NAME: what is wrong`` (values unshown: they may be secret)."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        name = "__".join(str(part) for part in item["loc"]).upper()
        what = item["msg"].removeprefix("Value error, ")
        problems.append(f"STREAMKIT_{name}: {what}" if name else what)
    return (
        f"bad settings: {'; '.join(problems)}. "
        "Fix the variable, or unset it for the default (`streamkit config` shows them all)"
    )


@contextlib.contextmanager
def naming(variable: str, hint: str = "") -> Iterator[None]:
    """Errors of the port that ``variable`` configures say which setting to fix, and how."""
    try:
        yield
    except ConfigurationError as e:
        msg = f"{variable}: {e}"
        raise ConfigurationError(msg) from e
    except TransientError as e:
        msg = f"{e}\nIs it running? {_START}, or point {variable} at a reachable one."
        raise TransientError(msg) from e
    except TerminalError as e:
        msg = f"{e}\nCheck {variable}{f'; {hint}' if hint else ''}."
        raise TerminalError(msg) from e


def events_bus(settings: Settings) -> Bus:
    """The events bus (not contacted yet)."""
    with naming("STREAMKIT_BUS_URL", _TOPICS):
        return bootstrap.bus(settings)


def check_topic(bus: Bus, variable: str = "STREAMKIT_BUS_URL") -> Bus:
    """``bus``, its topic looked up now (closed if that fails): before any work, not during it."""
    with naming(variable, _TOPICS):
        try:
            bus.partitions()
        except StreamkitError:
            bus.close()
            raise
    return bus


def deadletter_bus(settings: Settings) -> Bus:
    """The dead-letter bus (not contacted yet)."""
    with naming("STREAMKIT_DEADLETTER_URL", _TOPICS):
        return bootstrap.deadletter(settings)


def hot_store(settings: Settings) -> HotStore:
    """The hot store (not contacted yet: bindings connect on first use)."""
    with naming("STREAMKIT_HOT_STORE_URL"):
        return bootstrap.hot_store(settings)


def check_ports(settings: Settings) -> None:
    """Every URL of the stream job names a binding, then the events topic answers.

    For commands that start something slow (Spark): a typo in a URL or a
    stopped broker shows now, not after the start. URLs first, as they need
    no network and a down broker takes seconds to tell.
    """
    bus = events_bus(settings)
    deadletter_bus(settings).close()
    hot_store(settings).close()
    with naming("STREAMKIT_ARCHIVE_URL"):
        bootstrap.archive(settings)
    check_topic(bus).close()
