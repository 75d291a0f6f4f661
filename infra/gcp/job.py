"""The stream job as a Dataproc Serverless batch, with its code in the data bucket.

The stack uploads the entry script (``infra/common/spark_entry.py``), the streamkit wheel and
the job's Python environment under ``gs://<bucket>/job/`` and creates the batch: creating it
starts the job, which runs until stopped (no TTL); changing it replaces the batch, and the new
one resumes from the checkpoint. It runs as its own service account in the stack's subnet
(egress through the NAT address Atlas admits). Dynamic allocation between ``minExecutors`` and
``maxExecutors`` (autoscaling V2) is the job's autoscaling.

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


class StreamJob(pulumi.ComponentResource):
    """The uploaded job files and the Dataproc Serverless batch."""

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
        grants: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Upload the job's files and create the batch (when ``cfg.enabled``)."""
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
        self.batch: gcp.dataproc.Batch | None = None
        if cfg.enabled:
            self.batch = gcp.dataproc.Batch(
                f"{name}-batch",
                batch_id=f"{name}-pipeline",
                location=region,
                labels={"app": "streamkit"},
                runtime_config={
                    "version": cfg.runtimeVersion,
                    "container_image": cfg.containerImage or None,
                    "properties": self._properties(cfg, settings),
                },
                environment_config={
                    "execution_config": {
                        "service_account": identities.job.email,
                        "subnetwork_uri": network.subnet.id,
                        "authentication_config": {
                            "user_workload_authentication_type": "SERVICE_ACCOUNT"
                        },
                    }
                },
                pyspark_batch={
                    "main_python_file_uri": self._uri(self.files["entry"]),
                    "python_file_uris": [self._uri(self.files["wheel"])],
                    "args": [],
                },
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[*self.files.values(), *grants]
                ),
            )
        self.register_outputs({})

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
