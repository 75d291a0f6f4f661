"""The stream job on Dataproc Serverless: its code in the data bucket, its batch as a request.

The stack uploads the entry script (``infra/common/spark_entry.py``), the streamkit wheel and
the job's Python environment under ``gs://<bucket>/job/`` and exports ``job_batch_request``:
the batch to create, as Dataproc v1's ``Batch`` in JSON form (camelCase keys) plus ``region``
and ``name`` (the batch ids' prefix). It does not create the batch: a Dataproc Serverless batch
has no retry policy, so a batch the stack owned would stay FAILED after a crash.
``streamkit job deploy --env gcp`` creates it (and ``watch`` creates the next one after a
failure; each resumes from the checkpoint). The job runs until stopped (no TTL), as its own
service account in the stack's subnet (egress through the NAT address Atlas admits). Dynamic
allocation between ``minExecutors`` and ``maxExecutors`` (autoscaling V2) is its autoscaling.

Settings reach the driver as ``spark.dataproc.driverEnv.*`` and the executors as
``spark.executorEnv.*``; the hot store URL is a ``gcp-secretmanager://`` reference.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_gcp as gcp

from infra.common.spark_job import (
    environment_properties,
    job_files,
    packed_python_properties,
    sizing_properties,
)
from infra.gcp.archive import JOB_PREFIX, Archive
from infra.gcp.config import JobConfig
from infra.gcp.identities import Identities
from infra.gcp.network import Network

DRIVER_ENV = "spark.dataproc.driverEnv"
#: The label ``streamkit job`` finds the job's batches by (app.cloudjob.dataproc.JOB_LABEL).
JOB_LABEL = "job"


class StreamJob(pulumi.ComponentResource):
    """The uploaded job files and the request that creates the job's batch."""

    def __init__(
        self,
        name: str,
        cfg: JobConfig,
        *,
        settings: dict[str, pulumi.Input[str]],
        region: str,
        archive: Archive,
        identities: Identities,
        network: Network,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Upload the job's files and build ``batch_request`` (``job_batch_request``)."""
        super().__init__("streamkit:gcp:StreamJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._bucket = archive.bucket
        # A custom runtime image brings its own Python: no environment archive then.
        uploads = job_files(cfg, guide="docs/deploy-gcp.md", environment=not cfg.containerImage)
        self.files = {
            key: gcp.storage.BucketObject(
                f"{name}-{key}",
                bucket=archive.bucket.name,
                name=f"{JOB_PREFIX}/{target or Path(path).name}",
                source=pulumi.FileAsset(str(path)),
                opts=child,
            )
            for key, (path, target) in uploads.items()
        }
        runtime: dict[str, pulumi.Input[object]] = {
            "version": cfg.runtimeVersion,
            "properties": self._properties(cfg, settings),
        }
        if cfg.containerImage:
            runtime["containerImage"] = cfg.containerImage
        batch_name = f"{name}-pipeline"
        self.batch_request: pulumi.Output[str] = pulumi.Output.json_dumps(
            {
                "region": region,
                "name": batch_name,
                "labels": {"app": "streamkit", JOB_LABEL: batch_name},
                "runtimeConfig": runtime,
                "environmentConfig": {
                    "executionConfig": {
                        "serviceAccount": identities.job.email,
                        "subnetworkUri": network.subnet.id,
                        "authenticationConfig": {
                            "userWorkloadAuthenticationType": "SERVICE_ACCOUNT"
                        },
                    }
                },
                "pysparkBatch": {
                    "mainPythonFileUri": self._uri(self.files["entry"]),
                    "pythonFileUris": [self._uri(self.files["wheel"])],
                    "args": [],
                },
            }
        )
        self.register_outputs({"batch_request": self.batch_request})

    def _uri(self, obj: gcp.storage.BucketObject) -> pulumi.Output[str]:
        return pulumi.Output.concat("gs://", self._bucket.name, "/", obj.name)

    def _properties(
        self, cfg: JobConfig, settings: dict[str, pulumi.Input[str]]
    ) -> dict[str, pulumi.Input[str]]:
        properties: dict[str, pulumi.Input[str]] = {
            **sizing_properties(cfg),
            "spark.dataproc.scaling.version": "2",
        }
        if "environment" in self.files:
            environment = self._uri(self.files["environment"])
            properties |= packed_python_properties(DRIVER_ENV, environment)
        properties |= environment_properties(DRIVER_ENV, settings)
        return properties
