"""``streamkit kpis`` on the memory hot store: range, table, JSON lines, errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from adapters import registry
from adapters.hot import memory
from adapters.ports import HotStore
from app.cli.kpis import echo_minutes
from app.cli.main import app
from app.pipeline.documents import KPI_MINUTES, minute_view
from app.settings import get_settings

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def minute_doc(minute: datetime, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "minute": minute,
        "page_views": 400,
        "add_to_carts": 40,
        "purchases": 8,
        "remove_from_carts": 2,
        "events": 450,
        "revenue_cents": 123_450,
        "sessions": 97,
        "late_dropped": 3,
        "deadlettered": 1,
        "final": True,
        "watermark": minute + timedelta(minutes=11),
        "written_at": minute + timedelta(minutes=11, seconds=1),
        "batch_id": 7,
        "latency": {"b40": 96, "b45": 4},
        "latency_batch": 7,
    }
    return doc | changes


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[HotStore]:
    """A fresh memory hot store that the CLI's settings point at."""
    name = f"kpis-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", f"memory://{name}")
    get_settings.cache_clear()
    hot = registry.open_hot_store(f"memory://{name}")
    try:
        yield hot
    finally:
        hot.close()
        memory.reset(name)
        get_settings.cache_clear()


def put(store: HotStore, *minutes: datetime, **changes: Any) -> list[dict[str, Any]]:
    docs = [minute_doc(m, **changes) for m in minutes]
    store.upsert_many(KPI_MINUTES, docs, key=["minute"])
    return docs


def kpis(*args: str) -> Result:
    return CliRunner().invoke(app, ["kpis", *args])


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# ----------------------------------------------------------------------- range


def test_json_lines_in_the_api_shape(store: HotStore) -> None:
    docs = put(store, at(0), at(1), at(2))
    result = kpis("--from", "2026-11-25T18:00:00Z", "--to", "2026-11-25T18:03:00Z", "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [json.loads(line) for line in lines] == [minute_view(d) for d in docs]
    assert json.loads(lines[0])["revenue"] == "1234.50"
    assert result.stderr == ""


def test_from_is_inclusive_and_to_exclusive(store: HotStore) -> None:
    put(store, *(at(i) for i in range(5)))
    result = kpis("--from", "2026-11-25T18:01:00Z", "--to", "2026-11-25T18:03:00Z", "--json")
    minutes = [json.loads(line)["minute"] for line in result.stdout.splitlines()]
    assert minutes == ["2026-11-25T18:01:00Z", "2026-11-25T18:02:00Z"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-11-25T19:01:00+01:00", "2026-11-25T19:03:00+01:00"),  # an offset
        ("2026-11-25T18:01:00", "2026-11-25T18:03"),  # naive means UTC
        ("2026-11-25T18:01:00.000Z", "2026-11-25T18:02:59.999Z"),
    ],
)
def test_times_with_offsets_or_none(store: HotStore, start: str, end: str) -> None:
    put(store, *(at(i) for i in range(5)))
    result = kpis("--from", start, "--to", end, "--json")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2


def test_default_is_the_last_60_minutes(store: HotStore) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    put(store, now - timedelta(minutes=90), now - timedelta(minutes=30), now - timedelta(minutes=1))
    result = kpis("--json")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2
    # --to alone: the 60 minutes before it.
    result = kpis("--to", (now - timedelta(minutes=20)).isoformat(), "--json")
    assert len(result.stdout.splitlines()) == 1


def test_limit_keeps_the_first_minutes(store: HotStore) -> None:
    put(store, *(at(i) for i in range(5)))
    result = kpis(
        "--from", "2026-11-25T18:00Z", "--to", "2026-11-25T19:00Z", "--limit", "2", "--json"
    )
    minutes = [json.loads(line)["minute"] for line in result.stdout.splitlines()]
    assert minutes == ["2026-11-25T18:00:00Z", "2026-11-25T18:01:00Z"]
    assert kpis("--limit", "0").exit_code == 2


def test_an_empty_range_says_so(store: HotStore) -> None:
    put(store, at(0))
    args = ["--from", "2026-11-25T17:00:00Z", "--to", "2026-11-25T17:30:00Z"]
    result = kpis(*args)
    assert result.exit_code == 0, result.output
    expected = "no minutes between 2026-11-25T17:00:00Z and 2026-11-25T17:30:00Z"
    assert expected in result.stdout
    # With --json the note goes to stderr: stdout stays valid (empty) JSON lines.
    result = kpis(*args, "--json")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert expected in result.stderr


# ----------------------------------------------------------------------- table


def test_table_shows_one_aligned_row_per_minute(store: HotStore) -> None:
    put(store, at(0), at(1))
    put(store, at(2), purchases=0, page_views=0, final=False, latency={})
    result = kpis("--from", "2026-11-25T18:00Z", "--to", "2026-11-25T18:05Z")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "3 minute(s) from 2026-11-25T18:00:00Z to 2026-11-25T18:05:00Z"
    heading, *rows = lines[1:]
    for column in ("minute (UTC)", "events", "revenue", "aov", "conversion", "p95 latency"):
        assert column in heading
    assert len(rows) == 3
    assert len({len(line) for line in lines[1:]}) == 1  # aligned
    first = rows[0].split()
    assert first[:2] == ["2026-11-25", "18:00"]
    assert "1234.50" in first and "154.31" in first and "2.00%" in first and "yes" in first
    assert rows[0].endswith("3,657 ms")  # p95 of 96 x b40 and 4 x b45: b40's bound
    empty = rows[2].split()
    assert empty[5:9] == ["0", "1234.50", "-", "-"]  # purchases, revenue, no AOV, no conversion
    assert empty[-2:] == ["no", "-"]  # not final, no latency


def test_echo_minutes_prints_stored_documents(capsys: pytest.CaptureFixture[str]) -> None:
    echo_minutes([minute_doc(at(0)), minute_doc(at(1))])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("minute (UTC)")
    echo_minutes([])
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize("bad", ["yesterday", "25/11/2026 18:00", "2026-13-01T00:00Z", ""])
def test_a_bad_time_names_the_format(store: HotStore, bad: str) -> None:
    result = kpis("--from", bad)
    assert result.exit_code == 2
    assert "ISO 8601" in result.output
    assert "2026-11-25T18:00:00Z" in result.output


def test_from_must_be_before_to(store: HotStore) -> None:
    result = kpis("--from", "2026-11-25T18:00Z", "--to", "2026-11-25T18:00Z")
    assert result.exit_code == 2
    assert "must be before --to" in result.output


def test_an_unreachable_store_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"down-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("STREAMKIT_HOT_STORE_URL", f"memory://{name}?fault.outage_s=60")
    get_settings.cache_clear()
    try:
        result = kpis()
    finally:
        get_settings.cache_clear()
        memory.reset(name)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "streamkit local up" in result.stderr
    assert "STREAMKIT_HOT_STORE_URL" in result.stderr
    assert "Traceback" not in result.output


def test_a_malformed_document_is_an_error_not_a_traceback(store: HotStore) -> None:
    put(store, at(0), revenue_cents="lots")
    result = kpis("--from", "2026-11-25T18:00Z", "--to", "2026-11-25T18:05Z")
    assert result.exit_code == 2
    assert "revenue_cents must be an integer" in result.stderr


def test_help_describes_every_option() -> None:
    result = CliRunner().invoke(app, ["kpis", "--help"])
    assert result.exit_code == 0
    for option in ("--from", "--to", "--json", "--limit", "inclusive", "exclusive", "kpi_minutes"):
        assert option in result.output
    assert "kpis" in CliRunner().invoke(app, ["--help"]).output
