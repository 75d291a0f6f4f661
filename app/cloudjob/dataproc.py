"""The stream job on Dataproc Serverless: one batch at a time per stack, restarted by ``watch``.

Dataproc Serverless batches have no retry policy: a batch that fails stays
FAILED. So the stack (infra/gcp) does not create the batch; it uploads the
job's files and exports ``job_batch_request``: the ``Batch`` to create, in
Dataproc v1's JSON form, plus ``region`` and ``name``. ``deploy`` creates the
batch ``<name>-<n>`` (``n`` one past the job's highest so far), labelled
``job=<name>``, unless one of the job's batches is active (two jobs on one
checkpoint would corrupt it); the counter also makes two deploys racing each
other ask for the same id, so Dataproc lets only one of them create it.
``stop`` cancels the active batches through their long-running operation, the
only way the API cancels a batch (``gcloud dataproc batches cancel`` does the
same). ``streamkit job watch`` (:mod:`app.cloudjob.watch`) deploys again after
a failure; the new batch resumes from the checkpoint on GCS.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from adapters.errors import ConfigurationError
from adapters.gcp import (
    CALL,
    calling,
    dataproc_batch,
    dataproc_batches,
    is_gcp_error,
    status_name,
    translate,
)
from app.cloudjob.runs import JobRun, newest_first

#: The label that finds a job's batches; a plain key, as in the API's own filter examples.
JOB_LABEL = "job"
#: Batch states in which the job holds its checkpoint, is about to, or is still letting go.
ACTIVE = frozenset({"PENDING", "RUNNING", "CANCELLING"})
REQUIRED = ("region", "name", "runtimeConfig", "environmentConfig", "pysparkBatch")
PAGE_SIZE = 100
#: Batch ids are 4-63 of [a-z0-9-]: the name leaves room for ``-<n>``.
_NAME = re.compile(r"^[a-z][a-z0-9-]{2,55}$")
_REDEPLOY = (
    "redeploy the stack (infra/gcp) and save its outputs again: "
    "`pulumi stack output --json > outputs.json`"
)


def parse_request(request: Mapping[str, Any]) -> tuple[str, str, Any]:
    """``(region, name, Batch)`` from the stack's ``job_batch_request``; the fix when it is bad."""
    missing = [key for key in REQUIRED if not request.get(key)]
    if missing:
        msg = f"job_batch_request has no {', '.join(map(repr, missing))}; {_REDEPLOY}"
        raise ConfigurationError(msg)
    region, name = str(request["region"]), str(request["name"])
    if not _NAME.match(name):
        msg = (
            f"job_batch_request: name {name!r} cannot prefix a batch id (3-56 characters of "
            f"a-z, 0-9 and -, starting with a letter); {_REDEPLOY}"
        )
        raise ConfigurationError(msg)
    fields = {k: v for k, v in request.items() if k not in ("region", "name")}
    try:
        batch = dataproc_batch(fields)
    except ValueError as e:
        msg = f"job_batch_request is not a Dataproc v1 Batch ({e}); {_REDEPLOY}"
        raise ConfigurationError(msg) from e
    batch.labels[JOB_LABEL] = name
    return region, name, batch


class DataprocServerlessJob:
    """Create, list and cancel the stack's batches."""

    def __init__(
        self, request: Mapping[str, Any], project: str, endpoint: str | None = None
    ) -> None:
        """Check ``request`` (``job_batch_request``) and connect (see :mod:`adapters.gcp`)."""
        self.region, self.name, self._batch = parse_request(request)
        self.project = project
        self.parent = f"projects/{project}/locations/{self.region}"
        self._client = dataproc_batches(endpoint)

    @property
    def where(self) -> str:
        """Where the batches live, for messages."""
        return f"Dataproc Serverless {self.parent}"

    def _fixes(self) -> dict[str, str]:
        account = self._batch.environment_config.execution_config.service_account
        return {
            "PERMISSION_DENIED": (
                f"your account needs roles/dataproc.editor on project {self.project} and "
                f"roles/iam.serviceAccountUser on {account or 'the job service account'}, "
                "which the batch runs as"
            ),
            "UNAUTHENTICATED": "log in again: `gcloud auth application-default login`",
            "NOT_FOUND": f"is the Dataproc API on, and are these this stack's outputs? {_REDEPLOY}",
            "INVALID_ARGUMENT": f"Dataproc refused the stack's job_batch_request; {_REDEPLOY}",
        }

    def _call(self, what: str, call: Any) -> Any:
        return calling(f"{what} ({self.where})", call, self._fixes())

    def _batches(self) -> list[Any]:
        request = {
            "parent": self.parent,
            "filter": f'labels.{JOB_LABEL} = "{self.name}"',
            "order_by": "create_time desc",
            "page_size": PAGE_SIZE,
        }
        found = self._call(
            "listing the job's batches",
            lambda: list(self._client.list_batches(request=request, **CALL)),
        )
        # The filter is the server's; this check is ours, whatever the server matched.
        return [b for b in found if b.labels.get(JOB_LABEL) == self.name]

    def runs(self) -> list[JobRun]:
        """The job's batches, newest first."""
        return newest_first([self._run(b) for b in self._batches()])

    def deploy(self) -> tuple[JobRun, bool]:
        """Create the next batch unless one is active: the run, and whether it was created now."""
        runs = self.runs()
        active = [r for r in runs if r.active]
        if active:
            return active[0], False
        batch_id = f"{self.name}-{_next_number(self.name, runs)}"
        request = {
            "parent": self.parent,
            "batch": self._batch,
            "batch_id": batch_id,
            "request_id": uuid.uuid4().hex,  # a retried create returns the first one's operation
        }
        created = True
        try:
            self._client.create_batch(request=request, **CALL)
        except Exception as e:
            if not is_gcp_error(e):
                raise
            if status_name(e) != "ALREADY_EXISTS":
                raise translate(e, f"creating the batch ({self.where})", self._fixes()) from e
            created = False  # another deploy took this id a moment ago
        name = f"{self.parent}/batches/{batch_id}"
        batch = self._call(
            "reading the new batch", lambda: self._client.get_batch(name=name, **CALL)
        )
        return self._run(batch), created

    def stop(self) -> list[JobRun]:
        """Cancel every active batch (through its operation); the runs cancelled."""
        cancelled = []
        for batch in self._batches():
            run = self._run(batch)
            if run.state in ("PENDING", "RUNNING"):
                request = {"name": batch.operation}
                self._call(
                    f"cancelling batch {run.run_id}",
                    lambda r=request: self._client.cancel_operation(request=r, **CALL),
                )
                cancelled.append(run)
        return cancelled

    def _run(self, batch: Any) -> JobRun:
        state = batch.state.name
        return JobRun(
            run_id=batch.name.rpartition("/")[2],
            name=batch.labels.get(JOB_LABEL, ""),
            state=state,
            details=batch.state_message,
            created=batch.create_time or None,
            updated=batch.state_time or None,
            active=state in ACTIVE,
        )


def _next_number(name: str, runs: list[JobRun]) -> int:
    numbers = [
        int(r.run_id.removeprefix(f"{name}-"))
        for r in runs
        if r.run_id.startswith(f"{name}-") and r.run_id.removeprefix(f"{name}-").isdigit()
    ]
    return max(numbers, default=0) + 1
