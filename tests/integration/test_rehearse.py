"""Migration rehearsals on the local stack and the emulators: zero differences, and one planted.

Each rehearsal replays one input into both binding sets, runs the real job on
each and compares every minute KPI (latency aside), closed session and
archive row count. The planted test adds one event to one side only and
checks the report shows exactly that minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest

from adapters.registry import open_bus
from app.generate import Options, generate
from app.rehearse.report import write_reports
from app.rehearse.run import (
    RehearsalOptions,
    compare_runs,
    drain,
    read_back,
    rehearse,
)
from app.rehearse.sides import clean_up, credentials_of
from app.settings import Settings

pytestmark = [
    pytest.mark.spark,
    pytest.mark.integration,
    pytest.mark.emulators,
    pytest.mark.timeout(900),
]

REES46 = Path(__file__).resolve().parents[3] / "shared" / "data"
REES46_SAMPLE = REES46 / "rees46_2019-Oct_first17434rows_Team11.csv"


def cli_rehearse(
    target: str, out: Path, *args: str, source: str = "local"
) -> tuple[subprocess.CompletedProcess[str], dict]:
    command = ["rehearse", "--from", source, "--to", target, "--out", str(out), *args]
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *command],
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    reports = sorted(out.glob(f"*-{source}-to-{target}"))
    assert len(reports) == 1, done.stdout[-3000:] + done.stderr[-3000:]
    for name in ("report.md", "report.html", "summary.json"):
        assert (reports[0] / name).is_file(), name
    return done, json.loads((reports[0] / "summary.json").read_text())


@pytest.mark.parametrize("target", ["aws", "gcp"])
def test_the_rees46_sample_moves_with_zero_differences(target: str, tmp_path: Path) -> None:
    done, summary = cli_rehearse(
        target, tmp_path, "--input", str(REES46_SAMPLE), "--format", "rees46"
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert summary["identical"] is True
    assert "PASS: zero differences" in done.stdout
    local, cloud = summary["sides"]
    assert local["records_processed"] == cloud["records_processed"] == 17_434
    # One batch of data each; Pub/Sub's source adds an empty batch to commit the last one.
    assert local["batches"] == 1 and cloud["batches"] in (1, 2)
    assert summary["compared"]["minutes"] > 100 and summary["compared"]["sessions"] > 100
    scheme = {"aws": "kinesis://", "gcp": "pubsub://"}[target]
    assert cloud["bindings"]["bus"].startswith(scheme)
    assert cloud["archived_rows"] == local["archived_rows"]
    assert local["archived_rows"]["events"] > 0


def test_generated_traffic_moves_to_gcp_with_zero_differences(tmp_path: Path) -> None:
    done, summary = cli_rehearse("gcp", tmp_path, "--events", "6000", "--minutes", "60")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert summary["identical"] is True
    # The input had duplicates and late events. In one batch per side none is behind the
    # watermark yet (it starts with the batch), so they are counted alike on both sides.
    manifest = json.loads(Path(summary["input"] + ".manifest.json").read_text())
    kinds = manifest["kinds"]
    assert kinds["duplicates"] > 0 and kinds["late_within_watermark"] > 0
    assert kinds["late_beyond_watermark"] > 0


def test_a_move_between_clouds_aws_to_gcp(tmp_path: Path) -> None:
    done, summary = cli_rehearse(
        "gcp", tmp_path, "--events", "3000", "--minutes", "60", source="aws"
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert summary["identical"] is True
    aws, gcp = summary["sides"]
    assert aws["bindings"]["bus"].startswith("kinesis://")
    assert gcp["bindings"]["bus"].startswith("pubsub://")
    assert aws["bindings"]["archive"].startswith("s3://")
    assert gcp["bindings"]["archive"].startswith("gs://")
    # Every record the replay put on each bus was processed (the replay dead-letters the rows
    # it cannot frame itself).
    assert aws["records_processed"] == aws["records_replayed"] > 2900
    assert gcp["records_processed"] == gcp["records_replayed"] == aws["records_replayed"]
    assert summary["compared"]["minutes"] > 40 and summary["compared"]["sessions"] > 0


def planted_event(input_csv: Path) -> tuple[bytes, str]:
    """A valid page view of a new shopper at the data's last moment, and its minute.

    The last moment, so it is on time (not behind the watermark) and counted.
    """
    manifest = orjson.loads(input_csv.with_name(input_csv.name + ".manifest.json").read_bytes())
    last = manifest["event_time"]["max"]
    minute = last[:16] + ":00Z"
    return orjson.dumps(
        {
            "event_id": f"planted-{uuid.uuid4().hex}",
            "event_time": last,
            "event_type": "page_view",
            "user_id": "planted-shopper",
            "product_id": "p-1",
            "source": "test",
        }
    ), minute


def test_generated_traffic_moves_to_aws_and_a_planted_event_is_reported(tmp_path: Path) -> None:
    data = tmp_path / "input.csv"
    generate(Options.over(data, 6_000, 60))  # duplicates, late and malformed records
    options = RehearsalOptions(
        source="local", target="aws", out_dir=tmp_path / "reports", input=data, keep=True
    )
    result = rehearse(Settings(), options, print)
    local, aws = result.runs
    try:
        assert result.diff.identical, result.diff
        # About an hour of minutes: the generator's hour from midnight UTC ends a little early
        # (its load curve steps down at midnight, so the first minutes are denser).
        assert result.diff.compared_minutes >= 55 and result.diff.compared_sessions > 0

        # One event more on the AWS side only, then that side's job runs again.
        event, minute = planted_event(data)
        with credentials_of(aws.side):
            bus = open_bus(aws.side.bus_url)
            publisher = bus.publisher()
            publisher.publish(event, key=b"planted-shopper")
            assert publisher.flush().delivered == 1
            bus.close()
        drain(aws, print)
        read_back(aws, print)
        diff = compare_runs(result.runs)
        result.diff = diff
        write_reports(result)
    finally:
        for run in (local, aws):
            clean_up(run.side)

    assert not diff.identical
    assert {d.where for d in diff.minutes} == {minute}
    changed = {d.field: (d.left, d.right) for d in diff.minutes}
    assert changed["events"][1] == changed["events"][0] + 1
    assert changed["page_views"][1] == changed["page_views"][0] + 1
    assert [(d.where, d.left + 1 == d.right) for d in diff.archive] == [("events", True)]
    assert diff.sessions == []  # the new shopper's session is still open
    report = (result.report_dir / "report.md").read_text()
    assert "FAIL:" in report and f"| {minute} | events |" in report
    assert "FAIL:" in (result.report_dir / "report.html").read_text()
