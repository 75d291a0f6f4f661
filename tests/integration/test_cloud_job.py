"""``streamkit job deploy | status | stop --env aws`` against moto's EMR Serverless."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from tests.conftest import MOTO_ENDPOINT
from tests.support.moto import use_moto_credentials

pytestmark = [pytest.mark.emulators, pytest.mark.integration]


@pytest.fixture
def outputs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Stack outputs as `pulumi stack output --json` writes them, for an application on moto."""
    use_moto_credentials(monkeypatch)
    emr = boto3.client(
        "emr-serverless", region_name="us-east-1", endpoint_url=f"http://{MOTO_ENDPOINT}"
    )
    application = emr.create_application(
        name=f"streamkit-{uuid.uuid4().hex[:8]}", releaseLabel="emr-7.9.0", type="SPARK"
    )["applicationId"]
    request = {
        "applicationId": application,
        "executionRoleArn": "arn:aws:iam::123456789012:role/streamkit-job",
        "name": "streamkit-dev-pipeline",
        "mode": "STREAMING",
        "retryPolicy": {"maxFailedAttemptsPerHour": 3},
        "jobDriver": {"sparkSubmit": {"entryPoint": "s3://bucket/job/entry.py"}},
    }
    path = tmp_path / "outputs.json"
    path.write_text(
        json.dumps({"region": "us-east-1", "job_run_request": json.dumps(request)}, indent=2)
    )
    return path


def job(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "job", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "AWS_ENDPOINT_URL_EMR_SERVERLESS": f"http://{MOTO_ENDPOINT}"},
    )


def test_deploy_starts_a_run_status_lists_it_and_stop_finds_nothing_active(
    outputs: Path,
) -> None:
    # moto ends every job run at once (state SUCCESS), so the "already running,
    # not starting a second" and "cancelled" paths cannot be shown here; what
    # is shown: the request from the stack outputs is accepted as EMR Serverless
    # takes it, and status/stop read the runs back.
    common = ["--env", "aws", "--outputs", str(outputs)]
    first = job("deploy", *common)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("started job run ")
    run_id = first.stdout.split()[3]

    status = job("status", *common, "--json")
    runs = json.loads(status.stdout)
    assert [r["run_id"] for r in runs] == [run_id]
    assert runs[0]["name"] == "streamkit-dev-pipeline"
    assert status.returncode == (0 if runs[0]["active"] else 1)

    second = job("deploy", *common)
    assert second.returncode == 0, second.stderr
    later = json.loads(job("status", *common, "--json").stdout)
    assert len(later) == 2 and run_id in {r["run_id"] for r in later}

    stopped = job("stop", *common)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == "no active job run"


def test_outputs_of_another_stack_are_refused(tmp_path: Path) -> None:
    wrong = tmp_path / "gcp.json"
    wrong.write_text(json.dumps({"project": "p", "region": "europe-west1"}))
    done = job("deploy", "--env", "aws", "--outputs", str(wrong))
    assert done.returncode == 2
    assert "no 'job_run_request'" in done.stderr and "infra/aws" in done.stderr
    gcp = job("status", "--env", "gcp", "--outputs", str(wrong))
    assert gcp.returncode == 2
    assert "no 'job_batch_request'" in gcp.stderr and "infra/gcp" in gcp.stderr
