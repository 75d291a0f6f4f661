"""The end-to-end benchmark's timeline: rate steps and a burst, as one replay rate profile.

The replay runs the whole timeline in one process (``streamkit replay --profile``), so phases
follow each other with no gap in the traffic and the burst is a real change of rate, not a new
producer. The burst goes right after the last step whose rate is at most its steady rate: it
then starts from a job that has kept up (the faster steps come after it, and the fastest, which
may leave a backlog, last).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.producers.pacing import Step, parse_profile


class Kind(StrEnum):
    """What a phase is for."""

    STEP = "step"
    BURST_BEFORE = "burst_before"
    BURST_PEAK = "burst_peak"
    BURST_AFTER = "burst_after"


@dataclass(frozen=True)
class Phase:
    """One stretch of the timeline at one rate."""

    kind: Kind
    rate: float
    seconds: float

    @property
    def name(self) -> str:
        """How reports call it: ``2,000/s`` or ``burst: 10,000/s``."""
        rate = f"{self.rate:,.0f}/s"
        return {
            Kind.STEP: rate,
            Kind.BURST_BEFORE: f"burst: steady {rate}",
            Kind.BURST_PEAK: f"burst: peak {rate}",
            Kind.BURST_AFTER: f"burst: back to {rate}",
        }[self.kind]


@dataclass(frozen=True)
class Burst:
    """Steady ``rate`` for ``before`` s, ``peak`` for ``peak_seconds``, steady for ``after``."""

    rate: float
    before: float
    peak: float
    peak_seconds: float
    after: float

    @classmethod
    def parse(cls, text: str) -> Burst:
        """``"2000:120,10000:60,2000:180"``: steady, peak, steady (the same steady rate)."""
        steps = parse_profile(text)
        if len(steps) != 3 or steps[0].rate != steps[2].rate or steps[1].rate <= steps[0].rate:
            msg = (
                f"a burst is three steps, STEADY:S,PEAK:S,STEADY:S with the same steady rate "
                f"and a higher peak (e.g. 2000:120,10000:60,2000:180), not {text!r}"
            )
            raise ValueError(msg)
        before, peak, after = steps
        return cls(before.rate, before.seconds, peak.rate, peak.seconds, after.seconds)

    def phases(self) -> list[Phase]:
        """Its three phases."""
        return [
            Phase(Kind.BURST_BEFORE, self.rate, self.before),
            Phase(Kind.BURST_PEAK, self.peak, self.peak_seconds),
            Phase(Kind.BURST_AFTER, self.rate, self.after),
        ]


@dataclass(frozen=True)
class Plan:
    """The phases in order."""

    phases: tuple[Phase, ...]

    @classmethod
    def of(cls, steps: Sequence[Step], burst: Burst | None) -> Plan:
        """Steps in the order given, the burst after the last one no faster than its steady rate."""
        phases = [Phase(Kind.STEP, s.rate, s.seconds) for s in steps]
        if burst is not None:
            slower = [i for i, p in enumerate(phases) if p.rate <= burst.rate]
            at = slower[-1] + 1 if slower else 0
            phases[at:at] = burst.phases()
        if not phases:
            msg = "the benchmark needs at least one rate step or a burst"
            raise ValueError(msg)
        return cls(tuple(phases))

    def profile(self) -> str:
        """The replay's ``--profile`` argument."""
        return ",".join(f"{p.rate:g}:{p.seconds:g}" for p in self.phases)

    @property
    def seconds(self) -> float:
        """The traffic's length."""
        return sum(p.seconds for p in self.phases)

    @property
    def events(self) -> int:
        """Events the traffic needs, a little more than the profile sends (a burst's start)."""
        return math.ceil(sum(p.rate * p.seconds for p in self.phases) * 1.01) + 1_000


#: The issue's default: four rates, a few minutes each, 2,000/s for ten.
FULL_STEPS = "1000:180,2000:600,5000:300,10000:180"
FULL_BURST = "2000:120,10000:60,2000:180"
#: ``--quick``: one short step and a shrunk burst, about three minutes with start-up.
QUICK_STEPS = "2000:60"
QUICK_BURST = "2000:20,6000:15,2000:40"
