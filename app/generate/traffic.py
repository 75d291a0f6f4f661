"""The clean traffic model: shoppers, sessions, a funnel, a catalogue and a daily load curve.

Everything is drawn column-wise with numpy from one seeded generator, a batch
of sessions at a time, so millions of events cost seconds, not minutes, and
the same seed gives the same traffic. Times are integer milliseconds since the
epoch (UTC). Nothing here knows about faults or text: see ``faults`` and
``writer``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Self

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
#: A shopper's sessions are at least this far apart: the usual inactivity gap.
SESSION_GAP_MS = 30 * MINUTE_MS
#: Sessions start up to this long before the window, so it opens mid-stream.
WARMUP_MS = 30 * MINUTE_MS

#: Event type codes, in ``EventType`` order.
PAGE_VIEW, ADD_TO_CART, PURCHASE, REMOVE_FROM_CART = 0, 1, 2, 3
MEAN_VIEWS = 6.0  # page views per session (geometric, at least 1)
P_CART = 0.09  # a view leads to an add_to_cart
P_PURCHASE = 0.30  # a cart is bought ...
P_REMOVE = 0.03  # ... or taken out again
ZIPF_EXPONENT = 1.07  # product popularity: a few hits, a long tail
REDRAWS = 4  # tries to find a free shopper for a session before pushing it later
#: Events per session on average: each view, its cart, the cart's outcome.
EVENTS_PER_SESSION = MEAN_VIEWS * (1 + P_CART * (1 + P_PURCHASE + P_REMOVE))

#: Relative load per UTC hour of day: quiet at night, a peak in the evening.
HOURLY_LOAD = np.array(
    [0.45, 0.32, 0.24, 0.2, 0.2, 0.24, 0.34, 0.5, 0.66, 0.78, 0.86, 0.92,
     0.96, 0.95, 0.92, 0.93, 0.98, 1.06, 1.18, 1.3, 1.36, 1.26, 1.02, 0.7],
)  # fmt: skip

# Delays after the previous event of a session: (median s, sigma, min s, max s).
# The maxima keep every gap inside a session well under the 30-minute gap.
_GAPS = {
    PAGE_VIEW: (30.0, 0.9, 1.0, 480.0),
    ADD_TO_CART: (15.0, 0.7, 2.0, 180.0),
    PURCHASE: (70.0, 0.6, 10.0, 480.0),
    REMOVE_FROM_CART: (40.0, 0.7, 5.0, 300.0),
}

# (category path, weight, median price in USD, price spread, brands)
CATEGORIES: tuple[tuple[str, float, float, float, tuple[str, ...]], ...] = (
    ("electronics.smartphone", 9, 320, 0.6, ("samsung", "apple", "xiaomi", "huawei", "oppo")),
    ("electronics.audio.headphone", 5, 60, 0.8, ("sony", "jbl", "apple", "sennheiser")),
    ("electronics.video.tv", 3, 480, 0.6, ("samsung", "lg", "sony", "tcl", "hisense")),
    ("computers.notebook", 3, 750, 0.5, ("lenovo", "hp", "asus", "acer", "apple", "dell")),
    ("computers.peripherals.mouse", 2, 25, 0.7, ("logitech", "razer", "hp", "microsoft")),
    ("appliances.kitchen.refrigerators", 2, 650, 0.5, ("lg", "samsung", "bosch", "beko")),
    ("appliances.kitchen.kettle", 2, 35, 0.6, ("tefal", "philips", "bosch", "redmond")),
    ("appliances.environment.vacuum", 2, 180, 0.7, ("dyson", "samsung", "philips", "karcher")),
    ("apparel.shoes", 6, 70, 0.6, ("nike", "adidas", "puma", "reebok", "asics")),
    ("apparel.tshirt", 5, 22, 0.5, ("nike", "adidas", "levis", "uniqlo")),
    ("furniture.living_room.sofa", 1, 520, 0.6, ("ikea", "ashley", "bestmebel")),
    ("kids.toys", 3, 28, 0.8, ("lego", "hasbro", "mattel")),
    ("sport.bicycle", 1, 450, 0.6, ("trek", "giant", "stels", "merida")),
    ("beauty.skin_care", 3, 18, 0.7, ("nivea", "loreal", "garnier", "lancome")),
    ("construction.tools.drill", 1, 110, 0.6, ("bosch", "makita", "dewalt")),
    ("accessories.bag", 2, 45, 0.7, ("samsonite", "xiaomi", "wenger")),
)
#: Every brand once, in first-seen order; products refer to brands by index.
BRANDS = tuple(dict.fromkeys(b for *_, brands in CATEGORIES for b in brands))
NO_BRAND_SHARE = 0.08  # products whose brand is unknown (an absent field)


@dataclass(frozen=True)
class Catalogue:
    """Products by index: category, brand (-1 = unknown), price in cents, popularity."""

    category: npt.NDArray[np.int16]
    brand: npt.NDArray[np.int16]
    price_cents: I64
    popularity_cdf: F64

    @classmethod
    def build(cls, size: int, rng: np.random.Generator) -> Catalogue:
        """A seeded catalogue of ``size`` products."""
        weights = np.array([c[1] for c in CATEGORIES], dtype=np.float64)
        category = rng.choice(len(CATEGORIES), size, p=weights / weights.sum()).astype(np.int16)
        # Brands of all categories in one flat table: a category's brands are a slice of it.
        table = np.array([BRANDS.index(b) for c in CATEGORIES for b in c[4]], dtype=np.int16)
        counts = np.array([len(c[4]) for c in CATEGORIES])
        first = np.cumsum(counts) - counts
        pick = (rng.random(size) * counts[category]).astype(np.int64)
        brand = table[first[category] + pick]
        brand[rng.random(size) < NO_BRAND_SHARE] = -1
        median = np.array([c[2] for c in CATEGORIES])[category]
        spread = np.array([c[3] for c in CATEGORIES])[category]
        dollars = np.maximum(rng.lognormal(np.log(median), spread), 0.99)
        cents = np.round(dollars * 100).astype(np.int64)
        # Most shops price just under a round number: 19.99, not 20.13.
        charm = (rng.random(size) < 0.6) & (dollars >= 5)
        cents[charm] = np.floor(dollars[charm]).astype(np.int64) * 100 - 1
        # Zipf-like popularity over a seeded ranking, so the best seller is not always p000000.
        rank = rng.permutation(size) + 1
        popularity = 1.0 / rank.astype(np.float64) ** ZIPF_EXPONENT
        return cls(category, brand, cents, np.cumsum(popularity) / popularity.sum())

    def sample(self, rng: np.random.Generator, size: int) -> npt.NDArray[np.int32]:
        """Product indexes drawn by popularity."""
        picks = np.searchsorted(self.popularity_cdf, rng.random(size), side="right")
        return np.minimum(picks, len(self.popularity_cdf) - 1).astype(np.int32)


class LoadCurve:
    """Maps "load" (uniform, like expected sessions) to wall time following ``HOURLY_LOAD``.

    Arrivals that are a homogeneous Poisson process in load units become an
    inhomogeneous one in time: dense in the evening, sparse at night.
    """

    def __init__(self, origin_ms: int) -> None:
        self._weight = HOURLY_LOAD / HOURLY_LOAD.mean()  # a whole day weighs one day
        self._knots = np.concatenate(([0.0], np.cumsum(self._weight))) * HOUR_MS
        self._origin = self._forward(origin_ms)

    def _forward(self, t_ms: int) -> float:
        day, rest = divmod(t_ms, DAY_MS)
        hour = rest // HOUR_MS
        return float(
            day * DAY_MS + self._knots[hour] + (rest - hour * HOUR_MS) * self._weight[hour]
        )

    def load_between(self, start_ms: int, end_ms: int) -> float:
        """The load of a time interval."""
        return self._forward(end_ms) - self._forward(start_ms)

    def time_ms(self, load: F64) -> I64:
        """Wall-clock milliseconds of the given loads past the origin."""
        day, rest = np.divmod(self._origin + load, DAY_MS)
        hour = np.minimum(np.searchsorted(self._knots, rest, side="right") - 1, 23)
        within = (rest - self._knots[hour]) / self._weight[hour]
        times: I64 = (day * DAY_MS + hour * HOUR_MS + within).astype(np.int64)
        return times


@dataclass
class Columns:
    """A table as one numpy array per field, all the same length."""

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))

    def take(self, index: slice | npt.NDArray[np.int64] | npt.NDArray[np.bool_]) -> Self:
        """The rows at ``index`` (a slice, positions or a mask)."""
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def concat(self, other: Self) -> Self:
        """These rows, then ``other``'s."""
        return type(self)(
            **{
                f.name: np.concatenate((getattr(self, f.name), getattr(other, f.name)))
                for f in fields(self)
            }
        )


@dataclass
class Events(Columns):
    """Clean events; ``serial`` numbers them from 0 in event-time order across the run."""

    serial: I64
    time: I64
    etype: npt.NDArray[np.int8]
    user: npt.NDArray[np.int32]
    session: I64
    product: npt.NDArray[np.int32]
    quantity: npt.NDArray[np.int16]


def warmup_ms(span_ms: int) -> int:
    """How long before the window sessions start: most last minutes, so a short window needs less.

    Not much less: a session started before the warm-up would still send events into the window,
    and its absence thins the window's first minutes. Twenty minutes leaves a few percent out.
    """
    return min(WARMUP_MS, max(span_ms, 20 * MINUTE_MS))


def min_users(total: int, span_ms: int) -> int:
    """Fewest shoppers who can make ``total`` events in ``span_ms`` with 30-minute session gaps.

    A shopper fits ``1 + span / (gap + a typical session)`` sessions; twice
    the bare minimum leaves room for uneven activity and the evening peak.
    """
    per_user = 1 + span_ms / (SESSION_GAP_MS + 5 * MINUTE_MS)
    return max(1, math.ceil(2 * total / EVENTS_PER_SESSION / per_user))


def busy_users(total: int, span_ms: int) -> int:
    """About how many shoppers are inside a session or its 30-minute gap at once.

    Sessions start at ``total / EVENTS_PER_SESSION / span`` per millisecond; one keeps its shopper
    busy for a typical session plus the gap, or since the warm-up began when the run is shorter.
    """
    per_ms = total / EVENTS_PER_SESSION / span_ms
    held = min(SESSION_GAP_MS + 5 * MINUTE_MS, warmup_ms(span_ms) + span_ms)
    return math.ceil(per_ms * held)


def default_users(total: int, span_ms: int) -> int:
    """About four sessions per shopper a day, and at least twice the shoppers busy at once.

    The second bound matters in short windows: with fewer free shoppers, sessions pile onto
    busy ones and are pushed 30 minutes later, and the window's events spread far past it.
    """
    sessions_per_user = min(max(span_ms / (6 * HOUR_MS), 0.25), 8.0)
    return max(
        100,
        math.ceil(total / EVENTS_PER_SESSION / sessions_per_user),
        2 * busy_users(total, span_ms),
        min_users(total, span_ms),
    )


def _gaps(rng: np.random.Generator, etype: npt.NDArray[np.int8]) -> I64:
    gaps = np.empty(len(etype), dtype=np.float64)
    for code, (median, sigma, low, high) in _GAPS.items():
        mask = etype == code
        gaps[mask] = np.clip(rng.lognormal(np.log(median), sigma, int(mask.sum())), low, high)
    return (gaps * SECOND_MS).astype(np.int64)


class Traffic:
    """Exactly ``total`` clean events from ``start_ms`` on, in event-time order, chunk by chunk.

    The file is a window onto an endless stream: sessions start up to half
    an hour before the window (so it opens with sessions in progress, not from an
    empty shop) as a Poisson process shaped by the load curve, scaled so
    ``total`` events take about ``span_ms``; the window closes at the
    ``total``-th event, mid-session for some shoppers. A shopper's next
    session starts at least ``SESSION_GAP_MS`` after the previous one ended
    (one that would overlap is pushed later, a returning shopper).
    """

    def __init__(
        self,
        rng: np.random.Generator,
        window: tuple[int, int],
        total: int,
        users: int,
        catalogue: Catalogue,
    ) -> None:
        self._rng = rng
        self._start, span_ms = window
        # Most sessions last minutes: a short window needs a short warm-up, not 30 minutes' worth.
        warmup = warmup_ms(span_ms)
        self._curve = LoadCurve(self._start - warmup)
        span_load = self._curve.load_between(self._start, self._start + span_ms)
        self._load_per_session = span_load / max(total / EVENTS_PER_SESSION, 1.0)
        warm_load = self._curve.load_between(self._start - warmup, self._start + span_ms)
        self._expected_sessions = warm_load / self._load_per_session
        activity = rng.lognormal(0.0, 0.5, users)  # some shoppers come back more often
        self._user_cdf = np.cumsum(activity) / activity.sum()
        self._last_end = np.full(users, -(2**62), dtype=np.int64)
        self._catalogue = catalogue
        self._total = total
        self._arrivals = 0.0
        self._sessions = 0

    def chunks(self, chunk_events: int) -> Iterator[Events]:
        """Non-empty chunks of about ``chunk_events`` events, later chunks never earlier."""
        # A small run needs fewer sessions than a chunk holds: don't draw (and drop) the rest.
        per_chunk = chunk_events / EVENTS_PER_SESSION
        sessions = max(1, round(min(per_chunk, self._expected_sessions * 1.05 + 50)))
        pending: Events | None = None
        emitted = 0
        while emitted < self._total:
            fresh, horizon = self._batch(sessions)
            pending = fresh if pending is None else pending.concat(fresh)
            pending = pending.take(np.argsort(pending.time, kind="stable"))
            # Sessions of later batches start at or after the horizon: earlier events are final.
            ready = int(np.searchsorted(pending.time, horizon, side="left"))
            out, pending = pending.take(slice(0, ready)), pending.take(slice(ready, None))
            out = out.take(slice(int(np.searchsorted(out.time, self._start)), None))
            out = out.take(slice(0, self._total - emitted))
            out.serial = np.arange(emitted, emitted + len(out), dtype=np.int64)
            emitted += len(out)
            if len(out):
                yield out

    def _batch(self, sessions: int) -> tuple[Events, int]:
        rng = self._rng
        arrivals = self._arrivals + np.cumsum(rng.exponential(1.0, sessions))
        self._arrivals = float(arrivals[-1])
        start = self._curve.time_ms(arrivals * self._load_per_session)
        session, etype, product, quantity = self._funnel(sessions)
        first = np.flatnonzero(np.r_[True, session[1:] != session[:-1]])
        gaps = _gaps(rng, etype)
        gaps[first] = 0
        elapsed = np.cumsum(gaps)
        offset = elapsed - elapsed[first][session]
        ends = np.r_[first[1:] - 1, len(session) - 1]
        user = self._shoppers(start, offset[ends])
        shifted = self._separate(start, offset[ends], user)
        events = Events(
            serial=np.full(len(session), -1, dtype=np.int64),
            time=shifted[session] + offset,
            etype=etype,
            user=user[session],
            session=session + self._sessions,
            product=product,
            quantity=quantity,
        )
        self._sessions += sessions
        return events, int(start[-1])

    def _funnel(
        self, sessions: int
    ) -> tuple[I64, npt.NDArray[np.int8], npt.NDArray[np.int32], npt.NDArray[np.int16]]:
        # Each page view may lead to a cart; each cart to a purchase or a removal.
        rng = self._rng
        views = rng.geometric(1 / MEAN_VIEWS, sessions)
        session_of_view = np.repeat(np.arange(sessions, dtype=np.int64), views)
        count = len(session_of_view)
        product = self._catalogue.sample(rng, count)
        cart = rng.random(count) < P_CART
        outcome = rng.random(count)
        bought = cart & (outcome < P_PURCHASE)
        removed = cart & (outcome >= P_PURCHASE) & (outcome < P_PURCHASE + P_REMOVE)
        units = np.searchsorted([0.88, 0.97], rng.random(count), side="right") + 1
        per_view = 1 + cart.astype(np.int64) + bought + removed
        view = np.repeat(np.arange(count), per_view)
        step = np.arange(len(view)) - np.repeat(np.cumsum(per_view) - per_view, per_view)
        after_cart = np.where(bought[view], PURCHASE, REMOVE_FROM_CART)
        etype = np.where(step == 0, PAGE_VIEW, np.where(step == 1, ADD_TO_CART, after_cart))
        quantity = np.where(step == 0, 1, units[view]).astype(np.int16)
        return session_of_view[view], etype.astype(np.int8), product[view], quantity

    def _draw(self, size: int) -> npt.NDArray[np.int32]:
        picks = np.searchsorted(self._user_cdf, self._rng.random(size), side="right")
        return np.minimum(picks, len(self._user_cdf) - 1).astype(np.int32)

    def _shoppers(self, start: I64, duration: I64) -> npt.NDArray[np.int32]:
        """A shopper per session, by activity; one still busy is swapped for another, a few times.

        Busy means inside a session or the 30-minute gap after it: an earlier batch's (from
        ``_last_end``) or this batch's. Whoever is still busy after the redraws keeps the
        session, which ``_separate`` pushes later (a returning shopper): in a long window,
        where most shoppers shop several times, that is the usual case.
        """
        user = self._draw(len(start))
        for _ in range(REDRAWS):
            busy = self._last_end[user] + SESSION_GAP_MS > start
            order = np.lexsort((start, user))
            u, s, d = user[order], start[order], duration[order]
            again = np.r_[False, (u[1:] == u[:-1]) & (s[1:] < s[:-1] + d[:-1] + SESSION_GAP_MS)]
            busy[order[again]] = True
            if not busy.any():
                break
            user[busy] = self._draw(int(busy.sum()))
        return user

    def _separate(self, start: I64, duration: I64, user: npt.NDArray[np.int32]) -> I64:
        """Push sessions so each starts ``SESSION_GAP_MS`` after its shopper's previous one.

        For one shopper ``s'[i] = max(s[i], s'[i-1] + d[i-1] + gap)``; with
        ``c`` the running sum of ``d + gap`` that is a running maximum of
        ``s - c``, which numpy takes for all shoppers at once.
        """
        order = np.lexsort((start, user))
        u, s, d = user[order], start[order], duration[order]
        new = np.r_[True, u[1:] != u[:-1]]
        heads = np.flatnonzero(new)
        step = np.r_[0, d[:-1] + SESSION_GAP_MS]
        step[new] = 0
        climb = np.cumsum(step)
        climb -= climb[heads][np.cumsum(new) - 1]
        x = s - climb
        x[new] = np.maximum(s[new], self._last_end[u[new]] + SESSION_GAP_MS)
        base = int(x.min())
        lift = (np.cumsum(new) - 1) * (int(x.max()) - base + 1)  # each shopper's max stays theirs
        shifted = np.maximum.accumulate(x - base + lift) - lift + base + climb
        tails = np.r_[heads[1:] - 1, len(u) - 1]
        self._last_end[u[tails]] = shifted[tails] + d[tails]
        out: I64 = np.empty_like(shifted)
        out[order] = shifted
        return out
