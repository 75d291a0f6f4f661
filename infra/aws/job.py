"""The stream job on EMR Serverless: its code in S3, its role, and the application it runs on.

The stack uploads four files under ``s3://<bucket>/job/``: the entry script
(``infra/common/spark_entry.py``, which runs ``streamkit pipeline`` in-process), the streamkit
wheel, the job's Python environment (a packed, self-contained Python built by the user, unpacked
by Spark as ``./environment``) and the RDS CA bundle. Everything the job needs besides the
entry point is in the application's ``spark-defaults``, so starting the job is one
``start-job-run`` with the ``job_run_request`` stack output (EMR Serverless has no job-run
resource in Pulumi).

The application runs in the private subnets as a hot-store client; its maximum capacity and
the dynamic-allocation bounds are the job's autoscaling limits.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.aws.archive import ARCHIVE_PREFIX, CHECKPOINT_PREFIX, JOB_PREFIX, LOG_PREFIX, Archive
from infra.aws.bus import Bus
from infra.aws.config import JobConfig
from infra.aws.hot_store import SPARK_CA_PATH, HotStore
from infra.aws.iam import allow, role_policy, service_role
from infra.aws.network import Network
from infra.common.settings_outputs import aws_secret_ref
from infra.common.spark_job import (
    environment_properties,
    job_files,
    packed_python_properties,
    sizing_properties,
)

DRIVER_ENV = "spark.emr-serverless.driverEnv"


class StreamJob(pulumi.ComponentResource):
    """The EMR Serverless application, the job's role and its uploaded code."""

    def __init__(
        self,
        name: str,
        cfg: JobConfig,
        *,
        settings: dict[str, pulumi.Input[str]],
        archive: Archive,
        bus: Bus,
        hot_store: HotStore,
        network: Network,
        ca_bundle: Path,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Upload the job's files, create its role and application."""
        super().__init__("streamkit:aws:StreamJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._bucket = archive.bucket
        files = self._upload(name, cfg, ca_bundle, child)
        account = aws.get_caller_identity_output().account_id
        self.role = service_role(
            f"{name}-role",
            "emr-serverless.amazonaws.com",
            child,
            conditions={"StringEquals": {"aws:SourceAccount": account}},
        )
        role_policy(f"{name}-access", self.role, self._statements(archive, bus, hot_store), child)
        environment = {
            **settings,
            "STREAMKIT_HOT_STORE_URL": hot_store.job_secret.arn.apply(aws_secret_ref),
        }
        self.application = aws.emrserverless.Application(
            f"{name}-app",
            name=f"{name}-pipeline",
            release_label=cfg.releaseLabel,
            type="spark",
            architecture="X86_64",  # the job environment is built for x86_64
            maximum_capacity={"cpu": cfg.maxCpu, "memory": cfg.maxMemory, "disk": cfg.maxDisk},
            auto_start_configuration={"enabled": True},
            auto_stop_configuration={"enabled": True, "idle_timeout_minutes": cfg.idleMinutes},
            network_configuration={
                "subnet_ids": network.private_subnet_ids,
                "security_group_ids": [hot_store.client_group.id],
            },
            monitoring_configuration={
                "s3_monitoring_configuration": {"log_uri": self._uri(f"{LOG_PREFIX}/emr/")},
                "managed_persistence_monitoring_configuration": {"enabled": True},
            },
            runtime_configurations=[
                {
                    "classification": "spark-defaults",
                    "properties": self._spark(cfg, files, environment),
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(files.values())),
        )
        self.job_run_request = pulumi.Output.json_dumps(
            {
                "applicationId": self.application.id,
                "executionRoleArn": self.role.arn,
                "name": f"{name}-pipeline",
                # Streaming mode: EMR Serverless restarts the job on failure, from the checkpoint.
                "mode": "STREAMING",
                "retryPolicy": {"maxFailedAttemptsPerHour": 3},
                "jobDriver": {
                    "sparkSubmit": {
                        "entryPoint": files["entry"].key.apply(self._uri),
                        "entryPointArguments": [],
                    }
                },
            }
        )
        self.register_outputs({"application_id": self.application.id})

    def _uri(self, key: str) -> pulumi.Output[str]:
        return self._bucket.bucket.apply(lambda b: f"s3://{b}/{key}")

    def _upload(
        self, name: str, cfg: JobConfig, ca_bundle: Path, opts: pulumi.ResourceOptions
    ) -> dict[str, aws.s3.BucketObjectv2]:
        sources = {
            **job_files(cfg, guide="docs/deploy-aws.md"),
            "ca": (ca_bundle, SPARK_CA_PATH),
        }
        return {
            key: aws.s3.BucketObjectv2(
                f"{name}-{key}",
                bucket=self._bucket.id,
                key=f"{JOB_PREFIX}/{target or Path(path).name}",
                source=pulumi.FileAsset(str(path)),
                opts=opts,
            )
            for key, (path, target) in sources.items()
        }

    def _spark(
        self,
        cfg: JobConfig,
        files: dict[str, aws.s3.BucketObjectv2],
        environment: dict[str, pulumi.Input[str]],
    ) -> dict[str, pulumi.Input[str]]:
        uri = {key: obj.key.apply(self._uri) for key, obj in files.items()}
        return {
            "spark.submit.pyFiles": uri["wheel"],
            "spark.files": uri["ca"],
            **packed_python_properties(DRIVER_ENV, uri["environment"]),
            **sizing_properties(cfg),
            **environment_properties(DRIVER_ENV, environment),
        }

    @staticmethod
    def _statements(archive: Archive, bus: Bus, hot_store: HotStore) -> list[dict[str, object]]:
        return [
            allow(["s3:GetObject"], [archive.object_arn(JOB_PREFIX)], "ReadJobFiles"),
            allow(["s3:ListBucket"], [archive.bucket.arn], "ListDataBucket"),
            allow(
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                [archive.object_arn(ARCHIVE_PREFIX), archive.object_arn(CHECKPOINT_PREFIX)],
                "ReadWriteArchiveAndCheckpoints",
            ),
            allow(["s3:PutObject"], [archive.object_arn(LOG_PREFIX)], "WriteJobLogs"),
            allow(["kms:Decrypt", "kms:GenerateDataKey"], [archive.key.arn], "UseArchiveKey"),
            allow(
                [
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                ],
                [bus.events.arn],
                "ReadEvents",
            ),
            allow(
                [
                    "kinesis:DescribeStreamSummary",
                    "kinesis:ListShards",
                    "kinesis:PutRecord",
                    "kinesis:PutRecords",
                ],
                [bus.deadletter.arn],
                "WriteDeadLetters",
            ),
            allow(["secretsmanager:GetSecretValue"], [hot_store.job_secret.arn], "ReadHotStoreUrl"),
        ]
