"""Pacing and the replay loop, on a fake clock and the memory bus."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from adapters.registry import open_bus
from app.events.rejects import DeadLetter, Reason, Rejection
from app.producers.formats import InputRecord
from app.producers.pacing import RateProfile, Schedule, Step, TokenBucket, parse_profile
from app.producers.replay import Replayer
from app.producers.sender import EventSender


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("rate", [500, 2000, 20_000])
def test_token_bucket_holds_the_rate_exactly_over_a_minute(rate: int) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, clock=clock, sleep=clock.sleep)
    for _ in range(rate * 60):
        bucket.take()
    # The initial burst is the only excess: within 0.1 % over a minute.
    assert clock.now == pytest.approx(60.0, rel=1e-3)


def test_token_bucket_catches_up_by_at_most_one_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1000, burst=20, clock=clock, sleep=clock.sleep)
    clock.now = 10.0  # a long stall
    start = clock.now
    for _ in range(1020):
        bucket.take()
    assert clock.now - start == pytest.approx(1.0, abs=1e-6)


def test_token_bucket_rejects_a_bad_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0)


def test_a_profile_runs_its_rates_in_turn_then_ends() -> None:
    clock = FakeClock()
    seen: list[tuple[int, float, float]] = []
    profile = RateProfile(
        [Step(1000, 2), Step(5000, 1), Step(500, 2)],
        on_step=lambda i, step: seen.append((i, step.rate, clock.now)),
        clock=clock,
        sleep=clock.sleep,
    )
    taken = 0
    while profile.take():
        taken += 1
    # Each step's share, within its token bucket's initial burst.
    assert taken == pytest.approx(1000 * 2 + 5000 * 1 + 500 * 2, rel=0.01)
    assert [(i, r) for i, r, _ in seen] == [(0, 1000), (1, 5000), (2, 500)]
    assert [at for *_, at in seen] == pytest.approx([0, 2, 3], abs=0.01)
    assert clock.now == pytest.approx(5, abs=0.01)


def test_a_profile_keeps_its_timeline_when_the_producer_stalls() -> None:
    clock = FakeClock()
    profile = RateProfile([Step(100, 10), Step(100, 10)], clock=clock, sleep=clock.sleep)
    assert profile.take()
    clock.now = 15.0  # stuck for 15 s: the first step is over, the second half done
    taken = 1
    while profile.take():
        taken += 1
    assert clock.now == pytest.approx(20, abs=0.05)
    assert taken < 1 + 100 * 5 + 10


@pytest.mark.parametrize("text", ["", "2000", "2000:", "x:10", "2000:0", "-5:10", "1000:10,"])
def test_a_bad_profile_names_the_form(text: str) -> None:
    with pytest.raises(ValueError, match="RATE:SECONDS"):
        parse_profile(text)


def test_a_profile_is_parsed_in_order() -> None:
    assert parse_profile("2000:120, 10000:60,2000:1.5") == [
        Step(2000, 120),
        Step(10000, 60),
        Step(2000, 1.5),
    ]


def test_schedule_keeps_the_original_gaps_divided_by_speedup() -> None:
    clock = FakeClock()
    schedule = Schedule(10.0, clock=clock, sleep=clock.sleep)
    t0 = datetime(2019, 10, 1, tzinfo=UTC)
    for offset_s in (0, 10, 10, 60, 30):  # an out-of-order event goes at once
        schedule.wait_for(t0 + timedelta(seconds=offset_s))
    assert clock.now == pytest.approx(6.0)


def buses() -> tuple[str, str]:
    events, dead = f"memory://ev_{uuid.uuid4().hex}", f"memory://dl_{uuid.uuid4().hex}"
    open_bus(events).ensure(3)
    open_bus(dead).ensure(1)
    return events, dead


def read_all(url: str) -> list[bytes]:
    return [m.value for m in open_bus(url).reader("t").read(max_messages=10_000, timeout_s=0.1)]


def records() -> list[InputRecord]:
    event = {"event_id": "e1", "event_time": "2019-10-01T00:00:00Z", "user_id": "u1"}
    later = {"event_id": "e2", "event_time": "2019-10-01T00:01:30Z", "user_id": "u2"}
    cut = Rejection(reason=Reason.TRUNCATED_RECORD, message="cut short")
    return [
        InputRecord("2", b"raw1", event=event),
        InputRecord("3", b"raw2", event=later),
        InputRecord("4", b"[1]"),
        InputRecord("5", b"2019-10-01,view", rejection=cut),
    ]


def test_every_record_lands_in_exactly_one_topic() -> None:
    events_url, dead_url = buses()
    sender = EventSender(open_bus(events_url), open_bus(dead_url), source="file:x.csv")
    progress = Replayer(sender).run(records())
    assert (progress.read, progress.stats.published, progress.stats.dead_lettered) == (4, 3, 1)
    assert progress.stats.delivered == 4
    assert progress.stats.failed == 0

    published = read_all(events_url)
    assert b"[1]" in published
    objects = [orjson.loads(v) for v in published if v.startswith(b"{")]
    assert {o["event_id"] for o in objects} == {"e1", "e2"}
    assert all(o["ingest_ts"].endswith("Z") for o in objects)

    (dead,) = read_all(dead_url)
    letter = DeadLetter.model_validate_json(dead)
    assert letter.reason is Reason.TRUNCATED_RECORD
    assert (letter.source, letter.source_position) == ("file:x.csv", "5")


def test_timing_now_shifts_every_event_by_one_offset() -> None:
    events_url, dead_url = buses()
    sender = EventSender(open_bus(events_url), open_bus(dead_url), source="t")
    before = datetime.now(UTC)
    Replayer(sender, timing="now").run(records()[:2])
    times = [datetime.fromisoformat(orjson.loads(v)["event_time"]) for v in read_all(events_url)]
    times.sort()
    assert times[1] - times[0] == timedelta(seconds=90)  # the gap is kept
    assert abs(times[0] - before) < timedelta(seconds=5)


def test_timing_send_makes_every_event_happen_when_it_is_sent() -> None:
    events_url, dead_url = buses()
    sender = EventSender(open_bus(events_url), open_bus(dead_url), source="t")
    before = datetime.now(UTC)
    Replayer(sender, timing="send").run(records()[:2])
    after = datetime.now(UTC)
    for value in read_all(events_url):
        event = orjson.loads(value)
        happened = datetime.fromisoformat(event["event_time"])
        # The original times were in 2019 and 90 s apart: both are gone.
        assert before - timedelta(milliseconds=1) <= happened <= after
        assert datetime.fromisoformat(event["ingest_ts"]) - happened < timedelta(seconds=1)


def test_limit_stops_early_and_still_flushes() -> None:
    events_url, dead_url = buses()
    sender = EventSender(open_bus(events_url), open_bus(dead_url), source="t")
    progress = Replayer(sender).run(records(), limit=2)
    assert progress.read == 2
    assert len(read_all(events_url)) == 2


def test_failed_deliveries_are_counted_not_lost() -> None:
    events_url, dead_url = buses()
    faulty = open_bus(events_url + "?fault.fail_every=2&fault.ops=publish")
    sender = EventSender(faulty, open_bus(dead_url), source="t")
    with pytest.raises(Exception, match="injected"):
        Replayer(sender).run(records())
