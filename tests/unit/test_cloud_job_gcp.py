"""``streamkit job … --env gcp`` through google-cloud-dataproc's client, on a Dataproc stand-in.

Google has no Dataproc emulator: the real CLI, in a subprocess, talks real gRPC
to the stand-in of :mod:`tests.support.dataproc_fake`, reached by ``--endpoint``
as an emulator would be (plain gRPC, no credentials).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import dataproc_v1
from google.protobuf import json_format

from adapters.errors import ConfigurationError
from adapters.gcp import dataproc_batches
from app.cloudjob.dataproc import DataprocServerlessJob, parse_request
from tests.support.dataproc_fake import FakeDataproc, job_batch_request, running_dataproc

PROJECT, REGION, NAME = "streamkit-test", "europe-west1", "streamkit-dev-job-pipeline"
FIRST, SECOND = f"{NAME}-1", f"{NAME}-2"


def stack_request() -> dict[str, Any]:
    return job_batch_request(PROJECT, REGION, NAME)


@pytest.fixture
def dataproc() -> Iterator[FakeDataproc]:
    with running_dataproc() as fake:
        yield fake


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    """Stack outputs as `pulumi stack output --json` saves them (the request as a JSON string)."""
    path = tmp_path / "outputs.json"
    saved = {"project": PROJECT, "region": REGION, "job_batch_request": json.dumps(stack_request())}
    path.write_text(json.dumps(saved, indent=2))
    return path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", "job", *args]


def job(*args: str) -> subprocess.CompletedProcess[str]:
    # No Google credentials anywhere: a local endpoint must not need them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOOGLE_")}
    return subprocess.run(
        cli(*args), capture_output=True, text=True, timeout=120, check=False, env=env
    )


def gcp(dataproc: FakeDataproc, outputs: Path) -> list[str]:
    return ["--env", "gcp", "--outputs", str(outputs), "--endpoint", dataproc.endpoint]


def deployed(dataproc: FakeDataproc, name: str = NAME) -> None:
    """Set-up without a subprocess: the job class the CLI uses, in this process."""
    request = job_batch_request(PROJECT, REGION, name)
    assert DataprocServerlessJob(request, PROJECT, dataproc.endpoint).deploy()[1]


def status_json(dataproc: FakeDataproc, outputs: Path) -> tuple[int, list[dict[str, Any]]]:
    done = job("status", *gcp(dataproc, outputs), "--json")
    return done.returncode, json.loads(done.stdout)


def test_deploy_creates_one_batch_from_the_stack_request_and_a_second_deploy_none(
    dataproc: FakeDataproc, outputs: Path
) -> None:
    first = job("deploy", *gcp(dataproc, outputs))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"started job run {FIRST} (PENDING) on Dataproc Serverless")
    (created,) = dataproc.created
    assert created.parent == f"projects/{PROJECT}/locations/{REGION}"
    assert created.batch_id == FIRST and len(created.request_id) == 32
    expected = {k: v for k, v in stack_request().items() if k not in ("region", "name")}
    del expected["pysparkBatch"]["args"]  # an empty list is no field on the wire
    sent = json_format.MessageToDict(dataproc_v1.Batch.pb(created.batch))
    assert sent == expected  # the stack's request, as sent: nothing dropped, nothing added

    second = job("deploy", *gcp(dataproc, outputs))
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == (
        f"job run {FIRST} is already RUNNING: not starting a second one on its checkpoint"
    )
    assert len(dataproc.created) == 1
    assert set(dataproc.filters) == {f'labels.job = "{NAME}"'}


def test_status_lists_newest_first_and_exits_1_when_none_is_active(
    dataproc: FakeDataproc, outputs: Path
) -> None:
    none = job("status", *gcp(dataproc, outputs))
    assert none.returncode == 1
    assert none.stdout.strip() == f"no job run named {NAME} on Dataproc Serverless " + (
        f"projects/{PROJECT}/locations/{REGION}"
    )
    deployed(dataproc)
    code, runs = status_json(dataproc, outputs)
    assert code == 0 and [(r["run_id"], r["state"], r["active"]) for r in runs] == [
        (FIRST, "RUNNING", True)
    ]
    dataproc.fail(FIRST, "Driver exited with code 1")
    listed = job("status", *gcp(dataproc, outputs))
    assert listed.returncode == 1
    assert listed.stdout.split()[:2] == [FIRST, "FAILED"]
    assert listed.stdout.rstrip().endswith("Driver exited with code 1")
    deployed(dataproc)
    code, runs = status_json(dataproc, outputs)
    assert code == 0 and [r["run_id"] for r in runs] == [SECOND, FIRST]


def test_stop_cancels_through_the_batch_operation_and_deploy_waits_for_it(
    dataproc: FakeDataproc, outputs: Path
) -> None:
    deployed(dataproc)
    stopped = job("stop", *gcp(dataproc, outputs))
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == f"cancelled job run {FIRST} (was RUNNING)"
    assert dataproc.states() == {FIRST: "CANCELLING"}
    # Still letting go of the checkpoint: a deploy now must not start a second job on it.
    again = job("deploy", *gcp(dataproc, outputs))
    assert "is already CANCELLING" in again.stdout and len(dataproc.created) == 1
    code, runs = status_json(dataproc, outputs)
    assert code == 1 and runs[0]["state"] == "CANCELLED"
    assert job("stop", *gcp(dataproc, outputs)).stdout.strip() == "no active job run"
    restarted = job("deploy", *gcp(dataproc, outputs))
    assert restarted.stdout.startswith(f"started job run {SECOND} ")


def test_another_jobs_batches_are_not_this_jobs(dataproc: FakeDataproc, outputs: Path) -> None:
    deployed(dataproc, "streamkit-prod-job-pipeline")
    assert job("status", *gcp(dataproc, outputs)).returncode == 1
    dataproc.ignore_filters = True  # the label is checked here too, not only by the server
    assert job("status", *gcp(dataproc, outputs)).returncode == 1
    assert job("deploy", *gcp(dataproc, outputs)).returncode == 0
    assert sorted(dataproc.states()) == [FIRST, "streamkit-prod-job-pipeline-1"]


def test_a_denied_call_names_the_roles_to_grant(dataproc: FakeDataproc, outputs: Path) -> None:
    dataproc.denied.add("CreateBatch")
    done = job("deploy", *gcp(dataproc, outputs))
    assert done.returncode == 2 and not dataproc.states()
    assert "PERMISSION_DENIED" in done.stderr and "roles/dataproc.editor" in done.stderr
    assert "roles/iam.serviceAccountUser on streamkit-dev-job@" in done.stderr


def test_outputs_of_another_stack_or_cloud_are_refused(tmp_path: Path) -> None:
    aws = tmp_path / "aws.json"
    aws.write_text(json.dumps({"region": "eu-west-1", "job_run_request": "{}"}))
    done = job("deploy", "--env", "gcp", "--outputs", str(aws))
    assert done.returncode == 2
    assert "no 'job_batch_request'" in done.stderr and "infra/gcp" in done.stderr
    azure = job("status", "--env", "azure", "--outputs", str(aws))
    assert azure.returncode == 2 and "knows aws" in azure.stderr


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r.pop("pysparkBatch"), "no 'pysparkBatch'"),
        (lambda r: (r.pop("region"), r.pop("name")), "no 'region', 'name'"),
        (lambda r: r.update(name="Streamkit_Job"), "cannot prefix a batch id"),
        (lambda r: r.update(name="x" * 57), "cannot prefix a batch id"),
        (lambda r: r["runtimeConfig"].update(verison="3.0"), "not a Dataproc v1 Batch"),
        (lambda r: r.update(pysparkBatch="gs://data/job/entry.py"), "not a Dataproc v1 Batch"),
    ],
)
def test_a_bad_request_names_the_fix(
    change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    request = stack_request()
    change(request)
    with pytest.raises(ConfigurationError, match=expected) as caught:
        parse_request(request)
    assert "redeploy the stack (infra/gcp)" in str(caught.value)


def test_the_job_label_is_set_whatever_the_request_says() -> None:
    request = stack_request()
    del request["labels"]
    region, name, batch = parse_request(request)
    assert (region, name, dict(batch.labels)) == (REGION, NAME, {"job": NAME})


def test_watch_restarts_a_failed_batch_and_ends_cleanly_on_sigterm(
    dataproc: FakeDataproc, outputs: Path
) -> None:
    deployed(dataproc)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOOGLE_")}
    watch = subprocess.Popen(
        cli("watch", *gcp(dataproc, outputs), "--interval", "0.2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        seen = len(dataproc.filters)
        wait_for(lambda: len(dataproc.filters) > seen + 1, "watch to look at the job")
        dataproc.fail(FIRST)
        wait_for(lambda: SECOND in dataproc.states(), "watch to restart the job")
        watch.send_signal(signal.SIGTERM)
        out, err = watch.communicate(timeout=30)
    finally:
        watch.kill()
    assert watch.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"watching {NAME} on Dataproc Serverless")
    assert any(
        f"{FIRST} FAILED: Job failed with exit code 1; restarted as {SECOND}" in x for x in lines
    )
    assert lines[-1] == "stopped watching; the job itself keeps running"
    assert dataproc.states()[SECOND] in ("PENDING", "RUNNING")  # stopping watch stops no job


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_every_page_of_batches_is_read(
    dataproc: FakeDataproc, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.cloudjob.dataproc.PAGE_SIZE", 2)
    job = DataprocServerlessJob(stack_request(), PROJECT, dataproc.endpoint)
    for number in (1, 2, 3, 4):
        assert job.deploy()[1]
        dataproc.fail(f"{NAME}-{number}")
    assert [r.run_id for r in job.runs()] == [f"{NAME}-{n}" for n in (4, 3, 2, 1)]
    assert job.deploy()[0].run_id == f"{NAME}-5"  # numbered past every page


def test_the_stand_in_refuses_what_the_api_refuses(dataproc: FakeDataproc) -> None:
    # Checks of the fake itself, through the real client: what the docs say Dataproc answers.
    client = dataproc_batches(dataproc.endpoint)
    parent = f"projects/{PROJECT}/locations/{REGION}"
    batch = parse_request(stack_request())[2]
    create = {"parent": parent, "batch": batch, "batch_id": FIRST, "request_id": "r-1"}
    operation = client.create_batch(request=create).operation
    assert operation.name.startswith(f"projects/{PROJECT}/regions/{REGION}/operations/")
    assert client.create_batch(request=create).operation.name == operation.name  # same request id
    with pytest.raises(gexc.AlreadyExists):
        client.create_batch(request={**create, "request_id": "r-2"})
    with pytest.raises(gexc.InvalidArgument):
        client.create_batch(request={**create, "batch_id": "Bad_Id", "request_id": "r-3"})
    with pytest.raises(gexc.FailedPrecondition):
        client.delete_batch(name=f"{parent}/batches/{FIRST}")
    for bad in ({"filter": "labels.job:streamkit"}, {"order_by": "create_time"}):
        with pytest.raises(gexc.InvalidArgument):
            list(client.list_batches(request={"parent": parent, **bad}))
    dataproc.fail(FIRST, "boom")
    done = client.get_operation(request={"name": operation.name})
    assert done.done and done.error.message == "boom"
    with pytest.raises(gexc.FailedPrecondition):
        client.cancel_operation(request={"name": operation.name})
    client.delete_batch(name=f"{parent}/batches/{FIRST}")
    assert dataproc.states() == {}
