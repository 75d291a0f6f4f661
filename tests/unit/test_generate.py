"""``streamkit generate``: realistic, deterministic, and its manifest tells the exact truth.

The manifest is checked against an independent recount: the file is parsed
with the csv/json modules, every record goes through the contract's own
``validate`` (as a consumer would), and duplicates and lateness are counted
in file order from the parsed events.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

import app.generate as gen
from app.cli.main import app
from app.events.contract import NATIVE_CSV_COLUMNS, Event
from app.events.rejects import Reason, validate
from app.generate import Options, generate
from app.generate.faults import Fractions
from app.generate.traffic import DAY_MS, default_users
from app.generate.writer import Format

DAY = 24 * 60
WATERMARK = timedelta(minutes=10)
JITTER = timedelta(minutes=2)


def make(tmp_path: Path, name: str = "events.csv.gz", **kw: Any) -> tuple[Path, dict[str, Any]]:
    events = kw.pop("events", 20_000)
    minutes = kw.pop("minutes", DAY)
    out = tmp_path / name
    return out, generate(Options.over(out, events, minutes, **kw))


def text(path: Path) -> str:
    raw = path.read_bytes()
    return (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode()


def records(path: Path, fmt: Format) -> Iterator[bytes | None]:
    """Each record as the JSON a consumer validates; None for a CSV row cut short."""
    body = text(path)
    if fmt is Format.JSONL:
        yield from (line.encode() for line in body.splitlines())
        return
    reader = csv.reader(io.StringIO(body, newline=""))
    header = next(reader)
    for row in reader:
        if len(row) != len(header):
            yield None
        else:
            record: dict[str, Any] = {k: v for k, v in zip(header, row, strict=True) if v != ""}
            # The native CSV rule (docs/replay.md): quantity is sent as an integer when it is one.
            if record.get("quantity", "").lstrip("-").isdigit():
                record["quantity"] = int(record["quantity"])
            yield orjson.dumps(record)


def recount(path: Path, fmt: Format, now: datetime) -> dict[str, Any]:
    """Count what a consumer would find, from the file alone."""
    reasons: Counter[str] = Counter()
    seen: set[str] = set()
    kinds: Counter[str] = Counter()
    funnel: Counter[str] = Counter()
    revenue, newest, rows = Decimal(0), None, 0
    for raw in records(path, fmt):
        rows += 1
        result = Reason.TRUNCATED_RECORD if raw is None else validate(raw, now=now)
        if not isinstance(result, Event):
            reasons[result if isinstance(result, Reason) else result.reason] += 1
            continue
        if result.event_id in seen:
            kinds["duplicates"] += 1
        else:
            seen.add(result.event_id)
            late = newest - result.event_time if newest else timedelta(0)
            if late > WATERMARK:
                kinds["late_beyond_watermark"] += 1
            elif late > JITTER:
                kinds["late_within_watermark"] += 1
            elif late > timedelta(0):
                kinds["out_of_order"] += 1
            funnel[result.event_type.value] += 1
            revenue += result.revenue
        newest = max(newest or result.event_time, result.event_time)
    return {
        "rows": rows,
        "valid_unique": len(seen),
        "malformed": {r.value: reasons[r] for r in Reason},
        "kinds": kinds,
        "funnel": funnel,
        "revenue": revenue,
    }


def max_time(manifest: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(manifest["event_time"]["max"])


def valid_events(path: Path, now: datetime) -> list[Event]:
    found: dict[str, Event] = {}
    for raw in records(path, Format.CSV):
        event = validate(raw, now=now) if raw is not None else None
        if isinstance(event, Event):
            found.setdefault(event.event_id, event)
    return list(found.values())


def test_same_seed_and_knobs_give_the_same_bytes(tmp_path: Path) -> None:
    first, m1 = make(tmp_path / "a", events=8_000)
    second, m2 = make(tmp_path / "b", events=8_000)
    other, _ = make(tmp_path / "c", events=8_000, seed=7)
    assert first.read_bytes() == second.read_bytes()  # gzip framing carries no name or mtime
    digest = hashlib.sha256(text(first).encode()).hexdigest()
    assert digest == hashlib.sha256(text(second).encode()).hexdigest()
    assert m1 == m2
    assert text(other) != text(first)


def test_header_is_the_contract_columns_and_values_are_native(tmp_path: Path) -> None:
    out, _ = make(tmp_path, events=5_000)
    lines = text(out).splitlines()
    assert lines[0] == ",".join(NATIVE_CSV_COLUMNS)
    first = dict(zip(NATIVE_CSV_COLUMNS, lines[1].split(","), strict=True))
    assert re.fullmatch(r"g42-\d+", first["event_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["event_time"])
    assert re.fullmatch(r"u\d{6}", first["user_id"])
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first["session_id"]
    )
    assert re.fullmatch(r"\d+\.\d\d", first["price"])
    assert (first["currency"], first["source"]) == ("USD", "generate")


def test_every_event_time_parses_except_the_injected_bad_ones(tmp_path: Path) -> None:
    out, manifest = make(tmp_path)
    unparsable = 0
    for raw in records(out, Format.CSV):
        stamp = orjson.loads(raw).get("event_time") if raw is not None else None
        if stamp is None:
            continue
        try:
            parsed = datetime.fromisoformat(stamp)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None or not stamp.endswith("Z"):
            unparsable += 1
    assert unparsable == manifest["kinds"]["malformed"]["bad_event_time"] > 0


@pytest.mark.parametrize(
    ("fmt", "name", "chunk"),
    [
        (Format.CSV, "events.csv.gz", 500_000),
        (Format.CSV, "events.csv", 2_500),  # many chunks: faults cross chunk borders
        (Format.JSONL, "events.jsonl.gz", 3_000),
    ],
)
def test_manifest_matches_an_independent_recount(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: Format, name: str, chunk: int
) -> None:
    monkeypatch.setattr(gen, "CHUNK_EVENTS", chunk)
    out, manifest = make(tmp_path, name, fmt=fmt)
    found = recount(out, fmt, now=max_time(manifest))
    kinds = manifest["kinds"]
    assert found["rows"] == manifest["rows"] == 20_000
    assert found["malformed"] == kinds["malformed"]
    assert found["valid_unique"] == kinds["valid_unique"] == manifest["distinct_valid_event_ids"]
    for kind in ("duplicates", "out_of_order", "late_within_watermark", "late_beyond_watermark"):
        assert found["kinds"][kind] == kinds[kind], kind
        assert kinds[kind] > 0, kind
    assert dict(found["funnel"]) == manifest["funnel"]
    assert found["revenue"] == Decimal(manifest["revenue"])
    framing = {"not_json", "not_an_object"} if fmt is Format.JSONL else {"truncated_record"}
    possible = {r for r, n in kinds["malformed"].items() if n > 0}
    assert possible == framing | {
        "missing_field",
        "unknown_event_type",
        "negative_price",
        "purchase_without_price",
        "bad_event_time",
        "future_event_time",
        "bad_field",
    }


def test_no_faults_when_the_knobs_are_zero(tmp_path: Path) -> None:
    out, manifest = make(tmp_path, events=5_000, fractions=Fractions(0, 0, 0, 0, 0))
    kinds = manifest["kinds"]
    assert kinds["valid_unique"] == 5_000
    assert kinds["duplicates"] == kinds["out_of_order"] == kinds["late_within_watermark"] == 0
    assert sum(kinds["malformed"].values()) == 0
    times = [e.event_time for e in valid_events(out, max_time(manifest))]
    assert times == sorted(times)


def test_funnel_ratios_are_realistic_on_200k_events(tmp_path: Path) -> None:
    _, manifest = make(tmp_path, events=200_000)
    f = manifest["funnel"]
    assert 0.08 <= f["add_to_cart"] / f["page_view"] <= 0.10
    assert 0.25 <= f["purchase"] / f["add_to_cart"] <= 0.35
    assert 0.015 <= f["remove_from_cart"] / f["add_to_cart"] <= 0.045


def test_sessions_are_30_minutes_apart_and_busy_in_the_evening(tmp_path: Path) -> None:
    out, manifest = make(tmp_path, users=200)  # few shoppers: many sessions each
    by_session: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    hours: Counter[int] = Counter()
    views: Counter[str] = Counter()
    for event in valid_events(out, max_time(manifest)):
        by_session[(event.user_id, event.session_id or "")].append(event.event_time)
        hours[event.event_time.hour] += 1
        views[event.product_id] += event.event_type == "page_view"
    by_user: dict[str, list[list[datetime]]] = defaultdict(list)
    for (user, _), times in by_session.items():
        times.sort()
        assert all(b - a < timedelta(minutes=30) for a, b in zip(times, times[1:], strict=False))
        by_user[user].append(times)
    assert max(len(s) for s in by_user.values()) >= 5
    for sessions in by_user.values():
        sessions.sort()
        for before, after in zip(sessions, sessions[1:], strict=False):
            assert after[0] - before[-1] >= timedelta(minutes=30)
    assert sum(hours[h] for h in (18, 19, 20)) > 3 * sum(hours[h] for h in (2, 3, 4))
    top = sorted(views.values(), reverse=True)
    assert sum(top[:50]) > 0.3 * sum(top)  # 1 % of the catalogue draws a large share


def test_minutes_and_rate_per_second_give_the_row_count(tmp_path: Path) -> None:
    out = tmp_path / "window.csv.gz"
    result = CliRunner().invoke(
        app, ["generate", "--minutes", "30", "--rate", "4", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "window.csv.gz.manifest.json").read_text())
    assert manifest["rows"] == 30 * 60 * 4 == len(text(out).splitlines()) - 1
    span = max_time(manifest) - datetime.fromisoformat(manifest["event_time"]["min"])
    assert timedelta(minutes=20) < span < timedelta(minutes=45)


def test_cli_help_lists_the_knobs() -> None:
    result = CliRunner().invoke(app, ["generate", "--help"])
    assert result.exit_code == 0
    for option in (
        "--events",
        "--minutes",
        "--rate",
        "--seed",
        "--duplicates",
        "--malformed",
        "--force",
    ):
        assert option in result.output


def test_an_existing_file_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "e.csv.gz"
    out.write_text("keep me")
    args = ["generate", "--events", "2000", "--out", str(out)]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2
    assert "--force" in refused.output and out.read_text() == "keep me"
    assert CliRunner().invoke(app, [*args, "--force"]).exit_code == 0
    assert text(out).startswith("event_id,")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--events", "100", "--minutes", "5", "--rate", "10"], "mutually exclusive"),
        (["--minutes", "5"], "go together"),
        (["--rate", "5"], "go together"),
        (["--events", "1000000", "--users", "3"], "--users 3 is too few"),
        (["--start", "2026-01-01T00:00:00"], "--start"),
    ],
)
def test_bad_option_combinations_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["generate", *args, "--out", str(tmp_path / "x.csv.gz")])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "x.csv.gz").exists()


def test_reports_rate(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    result = CliRunner().invoke(app, ["generate", "--events", "3000", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert re.search(r"[\d,]+ events/s", result.output)
    assert "late beyond watermark" in result.output
    assert text(out).startswith("{")  # the format follows the name


def test_default_users_scale_with_the_window() -> None:
    assert default_users(1_000_000, DAY_MS) > default_users(20_000, DAY_MS)


@pytest.mark.parametrize(("minutes", "rate"), [(2, 1_000), (10, 200)])
def test_a_short_window_keeps_its_rate(tmp_path: Path, minutes: int, rate: int) -> None:
    """``--minutes M --rate R`` traffic covers about M minutes, R events each second.

    A replay at R with ``--timing now`` relies on it: event time that runs ahead of the clock
    ends in the dead-letter topic as future_event_time. (Before shoppers were sized for the
    warm-up, 2 minutes at 2,000/s spread over 9.) Noon, where the load curve is flat. The
    window runs a little long, up to 10 %: sessions that began before the warm-up are missing.
    """
    start = datetime.fromisoformat("2026-01-01T12:00:00+00:00")
    fractions = Fractions(0, 0, 0, 0, 0)
    _, manifest = make(tmp_path, events=minutes * 60 * rate, minutes=minutes, start=start,
                       fractions=fractions)  # fmt: skip
    last = datetime.fromisoformat(manifest["event_time"]["max"])
    spanned = (last - start) / timedelta(minutes=1)
    assert 0.9 * minutes <= spanned <= 1.12 * minutes
