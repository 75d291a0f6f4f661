"""The stream job on EMR Serverless: one streaming job run per stack, restarted by EMR on failure.

The stack (infra/aws) uploads the job's files and exports ``job_run_request``,
the ``StartJobRun`` request: streaming mode with a retry policy, so EMR
Serverless itself restarts the job after a failure, from the checkpoint on
S3. ``deploy`` starts it unless a run of that name is already active (two
jobs on one checkpoint would corrupt it); ``stop`` cancels the active runs.
"""

from __future__ import annotations

import uuid
from typing import Any

from adapters.aws import client, error_code, is_aws_error, translate
from adapters.errors import ConfigurationError
from app.cloudjob.runs import JobRun, newest_first

#: Job run states in which the job holds its checkpoint (or is about to).
ACTIVE = frozenset({"SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED"})


def _run(raw: dict[str, Any], name: str) -> JobRun:
    state = raw.get("state", "UNKNOWN")
    return JobRun(
        run_id=raw["id"],
        name=raw.get("name", name),
        state=state,
        details=raw.get("stateDetails", ""),
        created=raw.get("createdAt"),
        updated=raw.get("updatedAt"),
        active=state in ACTIVE,
    )


class EmrServerlessJob:
    """Start, list and cancel the stack's job runs."""

    def __init__(self, request: dict[str, Any], region: str, endpoint: str | None = None) -> None:
        for key in ("applicationId", "executionRoleArn", "name", "jobDriver"):
            if key not in request:
                msg = f"job_run_request has no {key!r}; redeploy the stack (infra/aws)"
                raise ConfigurationError(msg)
        self.request = request
        self.application_id = str(request["applicationId"])
        self.name = str(request["name"])
        self._client = client("emr-serverless", region, endpoint)

    @property
    def where(self) -> str:
        """The EMR Serverless application, for messages."""
        return f"application {self.application_id}"

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, method)(**kwargs)
        except Exception as e:
            if is_aws_error(e):
                raise translate(
                    e, f"{what} (EMR Serverless application {self.application_id})"
                ) from e
            raise

    def runs(self) -> list[JobRun]:
        """This job's runs, newest first."""
        self._call("reading the application", "get_application", applicationId=self.application_id)
        found: list[JobRun] = []
        kwargs: dict[str, Any] = {"applicationId": self.application_id}
        while True:
            try:
                page = self._client.list_job_runs(**kwargs)
            except Exception as e:
                if error_code(e) == "ResourceNotFoundException":
                    # The application exists (checked above): moto says so when it has no run yet.
                    break
                if is_aws_error(e):
                    raise translate(e, f"listing job runs of {self.application_id}") from e
                raise
            found += [
                _run(raw, self.name)
                for raw in page.get("jobRuns", [])
                if raw.get("name") == self.name
            ]
            token = page.get("nextToken")
            if not token:
                break
            kwargs["nextToken"] = token
        return newest_first(found)

    def deploy(self) -> tuple[JobRun, bool]:
        """Start the job unless a run is active; the run and whether it was started now."""
        active = [r for r in self.runs() if r.active]
        if active:
            return active[0], False
        answer = self._call(
            "starting the job", "start_job_run", clientToken=uuid.uuid4().hex, **self.request
        )
        started = self._call(
            "reading the new job run",
            "get_job_run",
            applicationId=self.application_id,
            jobRunId=answer["jobRunId"],
        )["jobRun"]
        return _run({"state": "SUBMITTED", **started, "id": answer["jobRunId"]}, self.name), True

    def stop(self) -> list[JobRun]:
        """Cancel every active run; the runs cancelled."""
        cancelled = []
        for run in self.runs():
            if run.active:
                self._call(
                    "cancelling the job",
                    "cancel_job_run",
                    applicationId=self.application_id,
                    jobRunId=run.run_id,
                )
                cancelled.append(run)
        return cancelled
