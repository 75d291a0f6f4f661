"""The AWS stack's configuration, read in one place with its defaults.

Keys live under the ``streamkit-aws`` namespace of ``Pulumi.<stack>.yaml``; groups are YAML
objects (``bus: {mode: PROVISIONED, shardCount: 4}``). Every default is written here and in
docs/deploy-aws.md; unknown keys are refused so that a typo fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.common.stack_config import StackNaming, read_group

NAMESPACE = "streamkit-aws"


@dataclass(frozen=True)
class NetworkConfig:
    """The VPC: two or three zones, public and private subnets, NAT, endpoints."""

    cidr: str = "10.40.0.0/16"
    azCount: int = 2  # config keys are camelCase, as Pulumi's own are
    natGateways: int = 1
    # Interface endpoints keep the job's Kinesis reads and the secret reads off the NAT
    # gateway (cheaper per GB, no internet path); "" or [] to rely on NAT alone.
    interfaceEndpoints: tuple[str, ...] = ("kinesis-streams", "secretsmanager")


@dataclass(frozen=True)
class BusConfig:
    """Kinesis: on-demand (pay per GB, scales itself) or provisioned shards."""

    mode: str = "ON_DEMAND"
    shardCount: int = 2  # PROVISIONED only: 1 MB/s or 1,000 records/s in per shard
    retentionHours: int = 24
    deadletterShardCount: int = 1


@dataclass(frozen=True)
class ArchiveConfig:
    """The archive bucket's lifecycle (days after creation of each object)."""

    infrequentAccessDays: int = 30
    glacierDays: int = 180
    expireDays: int = 0  # 0 keeps the archive forever
    forceDestroy: bool = False  # true lets `pulumi destroy` delete a non-empty bucket


@dataclass(frozen=True)
class HotStoreConfig:
    """DocumentDB."""

    instanceClass: str = "db.t4g.medium"
    instances: int = 1
    engineVersion: str = "5.0.0"
    backupRetentionDays: int = 1
    deletionProtection: bool = False
    skipFinalSnapshot: bool = True
    # The RDS CA bundle (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem).
    caBundle: str = "dist/global-bundle.pem"


@dataclass(frozen=True)
class JobConfig:
    """The stream job on EMR Serverless; capacity limits are the autoscaling bounds."""

    # Must be a release with Spark 4.0+ (transformWithStateInPandas); unverified offline.
    releaseLabel: str = "emr-spark-8.0.0"
    environmentArchive: str = "dist/streamkit-job-env.tar.gz"
    wheel: str = "dist/streamkit-0.1.0-py3-none-any.whl"
    maxCpu: str = "16 vCPU"  # the application's maximum capacity
    maxMemory: str = "64 GB"
    maxDisk: str = "400 GB"
    minExecutors: int = 1
    maxExecutors: int = 3
    executorCores: int = 4
    executorMemory: str = "8g"
    driverCores: int = 2
    driverMemory: str = "4g"
    idleMinutes: int = 15  # the application stops after this long without a job
    shufflePartitions: int = 8
    triggerSeconds: float = 2.0
    maxRecordsPerBatch: int = 50_000


@dataclass(frozen=True)
class ApiConfig:
    """The API on Lambda behind an HTTP API."""

    lambdaZip: str = "dist/lambda.zip"  # built by `streamkit package lambda`
    memoryMb: int = 1024
    timeoutSeconds: int = 10
    reservedConcurrency: int = -1  # -1: no reservation
    throttleRate: float = 200.0  # requests/s across the API
    throttleBurst: int = 400
    logRetentionDays: int = 30


@dataclass(frozen=True)
class DashboardConfig:
    """The dashboard on ECS Fargate behind an ALB with sticky sessions."""

    image: str = ""  # an image URI; empty: build the repo's Dockerfile and push to ECR
    platform: str = "linux/amd64"
    cpu: int = 512
    memory: int = 1024
    desiredCount: int = 1
    certificateArn: str = ""  # ACM certificate: HTTPS on 443, HTTP redirected
    allowedCidrs: tuple[str, ...] = ("0.0.0.0/0",)
    stickinessSeconds: int = 86_400
    idleTimeoutSeconds: int = 300  # WebSocket connections idle this long are cut


@dataclass(frozen=True)
class MonitoringConfig:
    """Alarms (the alert rules), the KPI probe, the budget and the audit trail."""

    alertEmail: str = ""  # subscribed to the alerts topic when set
    latencyP95Ms: float = 2000.0  # alert rule: P95 end-to-end latency > 2 s
    lagSeconds: float = 60.0  # alert rule: bus lag > 60 s
    evaluationMinutes: int = 3  # consecutive minutes over before alarming
    monthlyBudgetUsd: float = 500.0
    auditLogRetentionDays: int = 365


@dataclass(frozen=True)
class StackConfig(StackNaming):
    """Everything the AWS program reads from config."""

    stack: str
    region: str
    app_env: str
    network: NetworkConfig
    bus: BusConfig
    archive: ArchiveConfig
    hot_store: HotStoreConfig
    job: JobConfig
    api: ApiConfig
    dashboard: DashboardConfig
    monitoring: MonitoringConfig


def load() -> StackConfig:
    """Read and validate the stack's configuration."""
    config = pulumi.Config(NAMESPACE)
    bus = read_group(config, "bus", BusConfig)
    if bus.mode not in ("ON_DEMAND", "PROVISIONED"):
        msg = f"{NAMESPACE}:bus.mode must be ON_DEMAND or PROVISIONED, not {bus.mode!r}"
        raise ValueError(msg)
    network = read_group(config, "network", NetworkConfig)
    if not 2 <= network.azCount <= 3:
        msg = f"{NAMESPACE}:network.azCount must be 2 or 3 (DocumentDB needs two zones)"
        raise ValueError(msg)
    return StackConfig(
        stack=pulumi.get_stack(),
        region=pulumi.Config("aws").require("region"),
        app_env=config.get("appEnv") or "production",
        network=network,
        bus=bus,
        archive=read_group(config, "archive", ArchiveConfig),
        hot_store=read_group(config, "hotStore", HotStoreConfig),
        job=read_group(config, "job", JobConfig),
        api=read_group(config, "api", ApiConfig),
        dashboard=read_group(config, "dashboard", DashboardConfig),
        monitoring=read_group(config, "monitoring", MonitoringConfig),
    )
