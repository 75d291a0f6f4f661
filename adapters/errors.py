"""One error root for everything that crosses a port.

Callers branch on the two markers, never on an SDK's exception types:
``TransientError`` means "retry with back-off, the same call may succeed";
``TerminalError`` means "this input or configuration will never succeed:
dead-letter it or fail loudly". Bindings translate SDK errors with
``raise ... from e`` so the cause stays in the traceback.
"""

from __future__ import annotations


class StreamkitError(Exception):
    """Root of every error streamkit raises on purpose."""


class TransientError(StreamkitError):
    """A failure that may pass: a broker or store unreachable, a timeout."""


class TerminalError(StreamkitError):
    """A failure that will not pass by retrying: bad input or bad configuration."""


class ConfigurationError(TerminalError):
    """Settings or a URL that cannot work; the message names the fix."""


class UnknownBindingError(ConfigurationError):
    """No binding is registered for a URL's scheme."""


class MissingExtraError(ConfigurationError):
    """A binding's optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        msg = (
            f"this binding needs the {package!r} package; install the extra with "
            f"`pip install -e '.[{extra}]'`"
        )
        super().__init__(msg)


class DeliveryError(TransientError):
    """Some published messages were not acknowledged by the bus.

    Carries the undelivered messages so the caller can retry or dead-letter
    them: nothing is dropped silently.
    """

    def __init__(self, failed: list[tuple[object, str]]) -> None:
        self.failed = failed
        first = failed[0][1] if failed else "unknown"
        msg = f"{len(failed)} message(s) were not delivered; first error: {first}"
        super().__init__(msg)
