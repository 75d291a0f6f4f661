"""Input formats of replay: native CSV and JSON lines, REES46, sniffing, framing errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from app.events.contract import NATIVE_CSV_COLUMNS, Event
from app.events.rejects import Reason, validate
from app.producers.formats import (
    Format,
    FormatError,
    read,
    rees46_event_id,
    sniff,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
TEAM11 = SHARED / "rees46_2019-Oct_first17434rows_Team11.csv"
NO_HEADER = SHARED / "rees46_2019-Nov_first683rows_noheader_ucsgamoraes.csv"
CLEAN = SHARED / "rees46_2019-Oct_first4999rows_phamhoa2416.csv"


def write(path: Path, text: str) -> Path:
    data = text.encode()
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def test_rees46_with_crlf_and_a_truncated_last_line() -> None:
    records = list(read(TEAM11, Format.AUTO))
    events = [r for r in records if r.event is not None]
    rejected = [r for r in records if r.rejection is not None]
    assert len(events) == 17_434
    assert len({e.event["event_id"] for e in events}) == 17_434 - 5  # 5 exact duplicate rows
    assert len(rejected) == 1
    assert rejected[0].rejection.reason is Reason.TRUNCATED_RECORD
    assert rejected[0].raw.endswith(b",25.71,52040330")  # the raw bytes, exactly
    assert not any(b"\r" in r.raw for r in records)


def test_rees46_without_a_header_and_without_a_final_newline() -> None:
    assert sniff(NO_HEADER) is Format.REES46
    records = list(read(NO_HEADER, Format.REES46))
    assert len(records) == 683
    assert all(r.event is not None for r in records)


def test_rees46_rows_map_to_valid_contract_events() -> None:
    records = list(read(CLEAN, Format.AUTO))
    types = {r.event["event_type"] for r in records}
    assert types == {"page_view", "add_to_cart", "purchase"}
    first = records[0].event
    assert first["event_time"] == "2019-10-01T00:00:00Z"
    assert first["session_id"] == "72d76fde-8bb3-4e00-8c23-a032dfed738c"
    assert first["source"] == "rees46"
    import orjson

    for r in records[:500]:
        assert isinstance(validate(orjson.dumps(r.event), now=None), Event)


def test_identical_rees46_rows_share_an_event_id_and_different_rows_do_not() -> None:
    row = ["2019-10-01 00:00:00 UTC", "view", "1", "2", "", "b", "1.00", "7", "s"]
    assert rees46_event_id(row) == rees46_event_id(list(row))
    assert rees46_event_id(row) != rees46_event_id([*row[:-1], "t"])


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_native_csv_omits_empty_cells_and_types_quantity(tmp_path: Path, suffix: str) -> None:
    header = ",".join(NATIVE_CSV_COLUMNS)
    body = (
        "e1,2026-11-25T18:00:00Z,purchase,u1,,p1,shoes,,19.99,2,USD,generate\r\n"
        '"e2","2026-11-25T18:00:01Z","page_view","u2","s","p2","a, b","","",'
        '"x","USD","generate"\r\n'
        "e3,2026-11-25T18:00:02Z,page_view\r\n"
    )
    path = write(tmp_path / f"events{suffix}", header + "\r\n" + body)
    assert sniff(path) is Format.NATIVE
    first, second, third = list(read(path, Format.AUTO))
    assert first.event == {
        "event_id": "e1",
        "event_time": "2026-11-25T18:00:00Z",
        "event_type": "purchase",
        "user_id": "u1",
        "product_id": "p1",
        "category": "shoes",
        "price": "19.99",
        "quantity": 2,
        "currency": "USD",
        "source": "generate",
    }
    assert second.event["category"] == "a, b"
    assert second.event["quantity"] == "x"  # left for the stream job to reject
    assert second.raw.startswith(b'"e2",')  # exact bytes, quotes kept
    assert third.rejection is not None
    assert third.rejection.reason is Reason.TRUNCATED_RECORD
    assert third.position == "4"


def test_json_lines_objects_become_events_and_the_rest_is_passed_on_raw(tmp_path: Path) -> None:
    path = write(
        tmp_path / "events.jsonl",
        '{"event_id": "e1", "user_id": "u"}\n\n[1, 2]\n{broken\n"text"\n',
    )
    records = list(read(path, Format.AUTO))
    assert [r.position for r in records] == ["1", "3", "4", "5"]  # the blank line is no record
    assert records[0].event == {"event_id": "e1", "user_id": "u"}
    assert [r.event for r in records[1:]] == [None, None, None]
    assert [r.raw for r in records[1:]] == [b"[1, 2]", b"{broken", b'"text"']


def test_an_unknown_format_names_the_option(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(FormatError, match="--format"):
        sniff(path)
