"""Fault injection that works around any binding, real or in-memory.

Tests and the chaos suite need failures where the operating system cannot
make them (we run as root, so ``chmod`` blocks nothing): a store that fails
every third write, a bus down for 30 seconds, a write that fails only for one
key. A :class:`FaultPlan` says when to fail; :func:`inject` wraps a port so
each call consults the plan first.

Plans come from code or from a binding URL's ``fault.*`` query parameters,
e.g. ``mongodb://127.0.0.1:27017/streamkit?fault.fail_every=3&fault.ops=upsert_many``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from adapters.errors import ConfigurationError, TerminalError, TransientError

T = TypeVar("T")

#: Methods whose results are themselves ports to wrap (a bus's publisher and reader).
_PORT_FACTORIES = frozenset({"publisher", "reader"})
#: Keyword arguments whose values count as "keys" for ``fail_on_keys``.
_KEY_ARGUMENTS = ("key", "collection", "dataset")


class InjectedTransientError(TransientError):
    """A transient failure made by a fault plan."""


class InjectedTerminalError(TerminalError):
    """A terminal failure made by a fault plan."""


@dataclass
class FaultPlan:
    """When calls through an injected port fail.

    Attributes:
        fail_every: fail every N-th matching call (0 = never on count).
        fail_on_keys: fail any matching call whose key, collection or dataset is one of these.
        transient: raise a ``TransientError`` (retryable) instead of a ``TerminalError``.
        ops: method names the plan applies to; empty means every method.
        outage_file: while a file exists at this path, every matching call fails: an
            outage another process starts and ends (``streamkit chaos``) by creating and
            removing the file.
        delay_s: every matching call first waits this long (while ``slow_file`` exists,
            when one is named): a slow dependency rather than a failing one.
        slow_file: while a file exists at this path, matching calls are delayed by
            ``delay_s``; switched on and off by another process, like ``outage_file``.
    """

    fail_every: int = 0
    fail_on_keys: frozenset[str] = frozenset()
    transient: bool = True
    ops: frozenset[str] = frozenset()
    outage_file: str = ""
    delay_s: float = 0.0
    slow_file: str = ""
    calls: int = field(default=0, init=False)
    injected: int = field(default=0, init=False)
    _down_until: float = field(default=0.0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def outage(self, seconds: float) -> None:
        """Fail every matching call for the next ``seconds``."""
        self._down_until = time.monotonic() + seconds

    def recover(self) -> None:
        """End an outage now."""
        self._down_until = 0.0

    def check(self, op: str, keys: Iterable[str] = ()) -> None:
        """Raise the planned failure for this call, or return when it should pass."""
        if self.ops and op not in self.ops:
            return
        if self.delay_s > 0 and (not self.slow_file or os.path.exists(self.slow_file)):  # noqa: PTH110
            time.sleep(self.delay_s)  # outside the lock: concurrent calls are each delayed
        with self._lock:
            self.calls += 1
            reason = self._reason(keys)
            if reason is None:
                return
            self.injected += 1
        msg = f"injected fault in {op}: {reason}"
        raise (InjectedTransientError if self.transient else InjectedTerminalError)(msg)

    def _reason(self, keys: Iterable[str]) -> str | None:
        if self._down_until and time.monotonic() < self._down_until:
            return "outage"
        if self.outage_file and os.path.exists(self.outage_file):  # noqa: PTH110 - one stat a call
            return f"outage (while {self.outage_file} exists)"
        if self.fail_every and self.calls % self.fail_every == 0:
            return f"call {self.calls} (every {self.fail_every})"
        hit = self.fail_on_keys.intersection(keys)
        return f"key {sorted(hit)[0]!r}" if hit else None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> FaultPlan | None:
        """Build a plan from ``fault.*`` URL parameters; None when there are none."""
        opts = {k.removeprefix("fault."): v for k, v in params.items() if k.startswith("fault.")}
        if not opts:
            return None
        known = {
            "fail_every",
            "fail_keys",
            "transient",
            "ops",
            "outage_s",
            "outage_file",
            "delay_s",
            "slow_file",
        }
        if unknown := set(opts) - known:
            msg = f"unknown fault parameter(s) {sorted(unknown)}; known: {sorted(known)}"
            raise ConfigurationError(msg)
        try:
            plan = cls(
                fail_every=int(opts.get("fail_every", "0")),
                fail_on_keys=_split(opts.get("fail_keys", "")),
                transient=opts.get("transient", "true").lower() not in {"0", "false", "no"},
                ops=_split(opts.get("ops", "")),
                outage_file=opts.get("outage_file", ""),
                delay_s=float(opts.get("delay_s", "0")),
                slow_file=opts.get("slow_file", ""),
            )
            if plan.delay_s < 0:
                msg = f"fault.delay_s must be 0 or more, not {plan.delay_s:g}"
                raise ValueError(msg)
            if "outage_s" in opts:
                plan.outage(float(opts["outage_s"]))
        except ValueError as e:
            msg = f"bad fault parameter: {e}"
            raise ConfigurationError(msg) from e
        return plan


def _split(value: str) -> frozenset[str]:
    return frozenset(v for v in (p.strip() for p in value.split(",")) if v)


class _Injected:
    """A transparent proxy that consults a plan before each method call."""

    def __init__(self, inner: Any, plan: FaultPlan) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_plan", plan)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr
        return _wrap_call(name, attr, self._plan)

    def __repr__(self) -> str:
        return f"inject({self._inner!r}, {self._plan!r})"


def _wrap_call(name: str, method: Callable[..., Any], plan: FaultPlan) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        plan.check(name, _keys_of(args, kwargs))
        result = method(*args, **kwargs)
        return inject(result, plan) if name in _PORT_FACTORIES else result

    return call


def _keys_of(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[str]:
    keys = [kwargs[k] for k in _KEY_ARGUMENTS if k in kwargs]
    keys += [a for a in args if isinstance(a, str | bytes)]
    return [k.decode(errors="replace") if isinstance(k, bytes) else str(k) for k in keys]


def inject(port: T, plan: FaultPlan) -> T:
    """Wrap ``port`` so every public method call first runs ``plan.check``.

    Ports handed out by the wrapped one (a bus's publishers and readers) are
    wrapped with the same plan.
    """
    return _Injected(port, plan)  # type: ignore[return-value]


def plan_of(port: object) -> FaultPlan | None:
    """The plan wrapped around ``port``, if any (to start or end an outage from a test)."""
    return port._plan if isinstance(port, _Injected) else None  # noqa: SLF001
