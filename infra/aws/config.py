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
    # The host name users open: the certificate's name, pointed at the load balancer by your
    # DNS. Cognito sends users back to https://<domainName>/oauth2/idpresponse.
    domainName: str = ""
    # "cognito": the load balancer signs users in against the stack's Cognito user pool before
    # anything reaches the dashboard (needs certificateArn and domainName). "none": no sign-in,
    # anyone in allowedCidrs sees the data; an explicit choice, never the default.
    auth: str = "cognito"
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


DASHBOARD_AUTH = ("cognito", "none")
_HOW_TO_SET = (
    "pulumi config set --path dashboard.certificateArn arn:aws:acm:...; "
    "pulumi config set --path dashboard.domainName dashboard.example.com"
)


def check_dashboard(dashboard: DashboardConfig) -> None:
    """Refuse a dashboard that would be served unprotected, or unreachable, by accident.

    The dashboard holds the API key and shows what it guards, so sign-in is the default and
    only an explicit ``auth: none`` turns it off. The load balancer authenticates only on an
    HTTPS listener, and Cognito must know the address it sends users back to: so ``cognito``
    needs the certificate and the host name before any resource is made.
    """
    key = f"{NAMESPACE}:dashboard"
    if dashboard.auth not in DASHBOARD_AUTH:
        msg = f"{key}.auth must be one of {', '.join(DASHBOARD_AUTH)}, not {dashboard.auth!r}"
        raise ValueError(msg)
    host = dashboard.domainName
    if "/" in host or ":" in host:
        msg = f"{key}.domainName is a host name (dashboard.example.com), not {host!r}"
        raise ValueError(msg)
    needed = ("certificateArn", "domainName")
    missing = [f"dashboard.{k}" for k in needed if not getattr(dashboard, k)]
    if dashboard.auth == "cognito" and missing:
        msg = (
            f"{key}.auth is cognito (the default), which needs {' and '.join(missing)}: the load "
            f"balancer signs users in only over HTTPS, on the certificate's host name. Set them "
            f"({_HOW_TO_SET}), or set dashboard.auth to none to serve the dashboard without "
            "sign-in to everyone in dashboard.allowedCidrs"
        )
        raise ValueError(msg)


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
    dashboard = read_group(config, "dashboard", DashboardConfig)
    check_dashboard(dashboard)
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
        dashboard=dashboard,
        monitoring=read_group(config, "monitoring", MonitoringConfig),
    )
