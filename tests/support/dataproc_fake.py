"""An in-process stand-in for Dataproc Serverless's batch API, over real gRPC.

Google publishes no Dataproc emulator, so ``streamkit job --env gcp`` is tested
against this: a real gRPC server on 127.0.0.1 serving
``google.cloud.dataproc.v1.BatchController`` and ``google.longrunning.Operations``
with the real messages and the client library's own (de)serializers, so the
job goes through google-cloud-dataproc's client, transport, pager and error
mapping as it would against Google. It is written for these tests; it is not
Google's code, and it implements only what the job calls. The behaviours below
come from these pages of Google's documentation, read for it:

- https://cloud.google.com/dataproc-serverless/docs/reference/rpc (the two services)
- https://cloud.google.com/dataproc-serverless/docs/reference/rest/v1/projects.locations.batches/create
- https://cloud.google.com/dataproc-serverless/docs/reference/rest/v1/projects.locations.batches/list
- https://cloud.google.com/dataproc-serverless/docs/reference/rest/v1/projects.locations.batches/delete
- https://docs.cloud.google.com/managed-spark/docs/reference/rest/v1/projects.regions.operations/cancel.md.txt
- https://cloud.google.com/sdk/gcloud/reference/dataproc/batches/cancel
- https://cloud.google.com/python/docs/reference/dataproc/latest/google.cloud.dataproc_v1.types.CreateBatchRequest
- https://cloud.google.com/python/docs/reference/dataproc/5.3.0/google.cloud.dataproc_v1.types.Batch.State
- https://googleapis.github.io/genai-toolbox/integrations/serverless-spark/tools/serverless-spark-cancel-batch
  (not Google's reference: the only page found showing an operation's full name)

* CreateBatch: parent ``projects/*/locations/*``; ``batchId`` 4-63 characters of
  ``[a-z0-9-]``; a second request with the same ``requestId`` is ignored and the
  first one's Operation returned; the response is an Operation. The batch's name
  is ``projects/P/locations/R/batches/ID``.
* Batch: ``uuid``, ``create_time``, ``state`` PENDING → RUNNING, CANCELLING →
  CANCELLED, SUCCEEDED, FAILED with ``state_message``, ``operation`` (the resource
  name of the batch's operation), labels (at most 32; keys RFC 1035, values may be
  empty).
* ListBatches: page size 20 by default, at most 1000, ``nextPageToken``;
  ``orderBy`` only empty or ``create_time desc``; ``filter`` over ``batch_id``,
  ``batch_uuid``, ``state``, ``create_time`` and ``labels``, as in ``state = RUNNING
  and labels.environment=production``. This fake accepts only equality clauses on
  ``state``, ``batch_id`` and ``labels.<key>`` (a key of letters, digits and ``_``:
  the docs do not say how the grammar reads ``-`` in a key) joined by AND, and
  answers INVALID_ARGUMENT to anything else, as the API does to a filter it cannot
  parse.
* DeleteBatch: FAILED_PRECONDITION unless the batch is CANCELLED, SUCCEEDED or
  FAILED.
* Cancelling: the API has no CancelBatch (gcloud has ``batches cancel``); a batch
  is cancelled through Operations.CancelOperation on its operation, named
  ``projects/P/regions/R/operations/ID``. A cancelled operation ends with error
  code 1 (CANCELLED).

Assumed, not documented: how long PENDING and CANCELLING last (here: until the
batch has been read ``reads_to_settle`` times in that state); that cancelling a
finished batch answers FAILED_PRECONDITION; that a failed batch's operation ends
with code UNKNOWN and the batch's state message; the order of an unordered list
(here: creation order).

Test hooks: :meth:`FakeDataproc.fail` (a crashed driver), :meth:`FakeDataproc.lose`
(a batch gone), ``denied`` (PERMISSION_DENIED for chosen methods),
``ignore_filters`` (a server matching more than asked).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
from google.cloud.dataproc_v1.types import batches
from google.cloud.dataproc_v1.types import operations as dataproc_operations
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2
from google.rpc import code_pb2, status_pb2

from tests.support.grpc_server import serving

State = batches.Batch.State
_BATCH_SERVICE = "google.cloud.dataproc.v1.BatchController"
_OPERATIONS_SERVICE = "google.longrunning.Operations"
_PARENT = re.compile(r"^projects/([^/]+)/locations/([^/]+)$")
_BATCH_ID = re.compile(r"^[a-z0-9-]{4,63}$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_CLAUSE = re.compile(r'^(state|batch_id|labels\.[a-z][a-z0-9_]*)\s*=\s*("[^"]*"|[A-Za-z0-9_]+)$')
_TRANSIENT = {State.PENDING: State.RUNNING, State.CANCELLING: State.CANCELLED}
_ENDED = {State.CANCELLED, State.SUCCEEDED, State.FAILED}


@dataclass
class _Stored:
    batch: batches.Batch
    reads: int = 0  # reads that saw the current state


@dataclass
class FakeDataproc:
    """Batches by resource name, and the operations that own them."""

    endpoint: str = ""
    reads_to_settle: int = 1
    batches: dict[str, _Stored] = field(default_factory=dict)
    operations: dict[str, str] = field(default_factory=dict)  # operation name -> batch name
    #: Every CreateBatchRequest received, in order; every ListBatches filter.
    created: list[batches.CreateBatchRequest] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)
    #: Methods (``CreateBatch``, ``CancelOperation``...) the caller may not call.
    denied: set[str] = field(default_factory=set)
    #: List every batch whatever the filter, as a server matching more loosely would.
    ignore_filters: bool = False
    _request_ids: dict[str, str] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # Test hooks.
    def fail(self, batch_id: str, message: str = "Job failed with exit code 1") -> None:
        """Make the batch FAILED, as a crashed driver does."""
        with self._lock:
            self._set(self._by_id(batch_id).batch, State.FAILED, message)

    def lose(self, batch_id: str) -> None:
        """Remove the batch whatever its state (as if it had vanished)."""
        with self._lock:
            del self.batches[self._by_id(batch_id).batch.name]

    def states(self) -> dict[str, str]:
        """Batch id -> state name, in creation order."""
        with self._lock:
            return {n.rpartition("/")[2]: s.batch.state.name for n, s in self.batches.items()}

    def _by_id(self, batch_id: str) -> _Stored:
        return next(s for n, s in self.batches.items() if n.endswith(f"/batches/{batch_id}"))

    def _set(self, batch: batches.Batch, state: State, message: str = "") -> None:
        now = datetime.now(UTC)
        batch.state_history.append(
            batches.Batch.StateHistory(
                state=batch.state,
                state_message=batch.state_message,
                state_start_time=batch.state_time,
            )
        )
        batch.state, batch.state_message, batch.state_time = state, message, now
        self.batches[batch.name].reads = 0

    def _read(self, stored: _Stored) -> batches.Batch:
        following = _TRANSIENT.get(stored.batch.state)
        if following is not None and stored.reads >= self.reads_to_settle:
            self._set(stored.batch, following)
        stored.reads += 1
        return _copy(stored.batch)

    # BatchController.
    def create_batch(
        self, request: batches.CreateBatchRequest, context: grpc.ServicerContext
    ) -> operations_pb2.Operation:
        with self._lock:
            self.created.append(request)
            if request.request_id in self._request_ids:
                return self._operation(self._request_ids[request.request_id])
            parent = _PARENT.match(request.parent)
            if not parent:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Invalid parent {request.parent!r}"
                )
            _check_batch(request, context)
            name = f"{request.parent}/batches/{request.batch_id or uuid.uuid4().hex[:16]}"
            if name in self.batches:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, f"Batch {name} already exists")
            project, region = parent.groups()
            batch = _copy(request.batch)
            now = datetime.now(UTC)
            batch.name, batch.uuid, batch.create_time = name, str(uuid.uuid4()), now
            batch.state, batch.state_time = State.PENDING, now
            batch.operation = f"projects/{project}/regions/{region}/operations/{uuid.uuid4()}"
            self.batches[name] = _Stored(batch)
            self.operations[batch.operation] = name
            if request.request_id:
                self._request_ids[request.request_id] = batch.operation
            return self._operation(batch.operation)

    def get_batch(
        self, request: batches.GetBatchRequest, context: grpc.ServicerContext
    ) -> batches.Batch:
        with self._lock:
            return self._read(self._stored(request.name, context))

    def _stored(self, name: str, context: grpc.ServicerContext) -> _Stored:
        """The batch ``name``, or NOT_FOUND as the API answers (caller holds the lock)."""
        stored = self.batches.get(name)
        if stored is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Not found: Batch {name}")
        return stored

    def list_batches(
        self, request: batches.ListBatchesRequest, context: grpc.ServicerContext
    ) -> batches.ListBatchesResponse:
        with self._lock:
            self.filters.append(request.filter)
            matches = _filter("" if self.ignore_filters else request.filter, context)
            if request.order_by not in ("", "create_time desc"):
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Invalid order_by {request.order_by!r}"
                )
            if request.page_size < 0:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_size must not be negative")
            size = min(request.page_size or 20, 1000)
            start = _offset(request.page_token, context)
            listed = [s for n, s in self.batches.items() if n.startswith(request.parent + "/")]
            found = [b for b in map(self._read, listed) if matches(b)]
            if request.order_by:
                found.sort(key=lambda b: b.create_time, reverse=True)
            page = found[start : start + size]
            token = f"offset-{start + size}" if start + size < len(found) else ""
            return batches.ListBatchesResponse(batches=page, next_page_token=token)

    def delete_batch(
        self, request: batches.DeleteBatchRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        with self._lock:
            stored = self._stored(request.name, context)
            if stored.batch.state not in _ENDED:
                context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"Batch {request.name} is in state {stored.batch.state.name}; only CANCELLED,"
                    " SUCCEEDED or FAILED batches can be deleted",
                )
            del self.batches[request.name]
            return empty_pb2.Empty()

    # google.longrunning.Operations.
    def get_operation(
        self, request: operations_pb2.GetOperationRequest, context: grpc.ServicerContext
    ) -> operations_pb2.Operation:
        with self._lock:
            if request.name not in self.operations:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Operation {request.name} not found")
            return self._operation(request.name)

    def cancel_operation(
        self, request: operations_pb2.CancelOperationRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        with self._lock:
            stored = self.batches.get(self.operations.get(request.name, ""))
            if stored is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Operation {request.name} not found")
            if stored.batch.state in _ENDED:
                context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"Cannot cancel batch in state {stored.batch.state.name}",
                )
            if stored.batch.state != State.CANCELLING:
                self._set(stored.batch, State.CANCELLING)
            return empty_pb2.Empty()

    def _operation(self, name: str) -> operations_pb2.Operation:
        stored = self.batches.get(self.operations[name])
        operation = operations_pb2.Operation(name=name)
        if stored is None:
            return operation
        batch = stored.batch
        metadata = dataproc_operations.BatchOperationMetadata(
            batch=batch.name,
            batch_uuid=batch.uuid,
            create_time=batch.create_time,
            operation_type=dataproc_operations.BatchOperationMetadata.BatchOperationType.BATCH,
            labels=dict(batch.labels),
        )
        operation.metadata.Pack(dataproc_operations.BatchOperationMetadata.pb(metadata))
        operation.done = batch.state in _ENDED
        if batch.state == State.SUCCEEDED:
            operation.response.Pack(batches.Batch.pb(batch))
        elif batch.state in (State.FAILED, State.CANCELLED):
            code = code_pb2.CANCELLED if batch.state == State.CANCELLED else code_pb2.UNKNOWN
            operation.error.CopyFrom(status_pb2.Status(code=code, message=batch.state_message))
        return operation


def _copy(batch: batches.Batch) -> batches.Batch:
    return batches.Batch.deserialize(batches.Batch.serialize(batch))


def _check_batch(request: batches.CreateBatchRequest, context: grpc.ServicerContext) -> None:
    if request.batch_id and not _BATCH_ID.match(request.batch_id):
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Batch id {request.batch_id!r} must be 4-63 characters of a-z, 0-9 and -",
        )
    if not request.batch.pyspark_batch.main_python_file_uri:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Batch needs a main_python_file_uri")
    labels = request.batch.labels
    bad = [k for k, v in labels.items() if not _LABEL_KEY.match(k) or not _LABEL_VALUE.match(v)]
    if bad or len(labels) > 32:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid labels {sorted(bad)}")


def _filter(text: str, context: grpc.ServicerContext) -> Callable[[batches.Batch], bool]:
    clauses = (
        [c.strip() for c in re.split(r"\s+(?:AND|and)\s+", text.strip())] if text.strip() else []
    )
    tests = []
    for clause in clauses:
        match = _CLAUSE.match(clause)
        if not match:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid filter: {text!r}")
        field_name, value = match.group(1), match.group(2).strip('"')
        tests.append((field_name, value))
    return lambda batch: all(_value(batch, f) == v for f, v in tests)


def _value(batch: batches.Batch, field_name: str) -> str:
    if field_name == "state":
        return str(batch.state.name)
    if field_name == "batch_id":
        return str(batch.name.rpartition("/")[2])
    return str(batch.labels.get(field_name.removeprefix("labels."), "\0"))


def _offset(token: str, context: grpc.ServicerContext) -> int:
    if not token:
        return 0
    number = token.removeprefix("offset-")
    if not token.startswith("offset-") or not number.isdigit():
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid page token {token!r}")
    return int(number)


def _handlers(fake: FakeDataproc) -> list[grpc.GenericRpcHandler]:
    def unary(call: Callable[..., Any], request: Any, response: Callable[[Any], bytes]) -> Any:
        method = "".join(word.title() for word in call.__name__.split("_"))

        def guarded(message: Any, context: grpc.ServicerContext) -> Any:
            if method in fake.denied:
                context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"Permission denied for {method} (the fake's `denied` hook)",
                )
            return call(message, context)

        return grpc.unary_unary_rpc_method_handler(
            guarded, request_deserializer=request, response_serializer=response
        )

    proto = operations_pb2
    return [
        grpc.method_handlers_generic_handler(
            _BATCH_SERVICE,
            {
                "CreateBatch": unary(
                    fake.create_batch,
                    batches.CreateBatchRequest.deserialize,
                    proto.Operation.SerializeToString,
                ),
                "GetBatch": unary(
                    fake.get_batch, batches.GetBatchRequest.deserialize, batches.Batch.serialize
                ),
                "ListBatches": unary(
                    fake.list_batches,
                    batches.ListBatchesRequest.deserialize,
                    batches.ListBatchesResponse.serialize,
                ),
                "DeleteBatch": unary(
                    fake.delete_batch,
                    batches.DeleteBatchRequest.deserialize,
                    empty_pb2.Empty.SerializeToString,
                ),
            },
        ),
        grpc.method_handlers_generic_handler(
            _OPERATIONS_SERVICE,
            {
                "GetOperation": unary(
                    fake.get_operation,
                    proto.GetOperationRequest.FromString,
                    proto.Operation.SerializeToString,
                ),
                "CancelOperation": unary(
                    fake.cancel_operation,
                    proto.CancelOperationRequest.FromString,
                    empty_pb2.Empty.SerializeToString,
                ),
            },
        ),
    ]


def job_batch_request(project: str, region: str, name: str) -> dict[str, Any]:
    """What the tests submit: a ``job_batch_request`` shaped as infra/gcp/job.py exports it."""
    return {
        "region": region,
        "name": name,
        "labels": {"app": "streamkit", "job": name},
        "runtimeConfig": {
            "version": "3.0",
            "properties": {
                "spark.archives": "gs://data/job/streamkit-job-env.tar.gz#environment",
                "spark.dataproc.driverEnv.STREAMKIT_BUS_URL": "pubsub://p/events?subscription=s",
                "spark.executorEnv.STREAMKIT_BUS_URL": "pubsub://p/events?subscription=s",
            },
        },
        "environmentConfig": {
            "executionConfig": {
                "serviceAccount": f"streamkit-dev-job@{project}.iam.gserviceaccount.com",
                "subnetworkUri": f"projects/{project}/regions/{region}/subnetworks/streamkit-dev",
                "authenticationConfig": {"userWorkloadAuthenticationType": "SERVICE_ACCOUNT"},
            }
        },
        "pysparkBatch": {
            "mainPythonFileUri": "gs://data/job/entry.py",
            "pythonFileUris": ["gs://data/job/streamkit-0.1.0-py3-none-any.whl"],
            "args": [],
        },
    }


@contextmanager
def running_dataproc(reads_to_settle: int = 1) -> Iterator[FakeDataproc]:
    """The fake, listening on a free port of 127.0.0.1 until the block ends."""
    fake = FakeDataproc(reads_to_settle=reads_to_settle)
    with serving(_handlers(fake)) as endpoint:
        fake.endpoint = endpoint
        yield fake
