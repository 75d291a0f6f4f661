"""The GCP stack's configuration, read in one place with its defaults.

Keys live under the ``streamkit-gcp`` namespace of ``Pulumi.<stack>.yaml`` (groups are YAML
objects); ``gcp:project`` and ``gcp:region`` are the provider's own. Every default is written
here and in docs/deploy-gcp.md; unknown keys are refused so that a typo fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.common.stack_config import StackNaming, read_group

NAMESPACE = "streamkit-gcp"


@dataclass(frozen=True)
class NetworkConfig:
    """The VPC the job and the API egress through (one static NAT address, for Atlas)."""

    cidr: str = "10.50.0.0/20"


@dataclass(frozen=True)
class BusConfig:
    """Pub/Sub topics and the job's subscription."""

    # Logical partitions (the topic label the Pub/Sub binding reads), as Kafka's events_raw has.
    partitions: int = 3  # config keys are camelCase, as Pulumi's own are
    # Short, as the binding creates it: what a crashed job had in flight comes back soon; the
    # job's Spark source extends the deadline every few seconds while a batch runs.
    ackDeadlineSeconds: int = 10
    retentionDays: int = 7  # how long unacknowledged messages (and dead letters) are kept
    # High enough that redeliveries caused by the job's own restarts never divert a valid
    # message to the dead-letter topic (docs/cloud.md); 100 is Pub/Sub's maximum.
    maxDeliveryAttempts: int = 100


@dataclass(frozen=True)
class ArchiveConfig:
    """The archive bucket's lifecycle (days after creation of each object)."""

    nearlineDays: int = 30
    coldlineDays: int = 180
    expireDays: int = 0  # 0 keeps the archive forever
    forceDestroy: bool = False  # true lets `pulumi destroy` delete a non-empty bucket
    keyRotationDays: int = 90


@dataclass(frozen=True)
class HotStoreConfig:
    """MongoDB Atlas, created with the Atlas provider (keys: mongodbatlas:publicKey/privateKey)."""

    atlasOrgId: str = ""  # required: the Atlas organisation the project is created in
    atlasRegion: str = "WESTERN_EUROPE"  # Atlas's name for gcp:region europe-west1
    instanceSize: str = "M10"
    mongoVersion: str = "8.0"
    backup: bool = True
    terminationProtection: bool = False


@dataclass(frozen=True)
class JobConfig:
    """The stream job's Dataproc Serverless batch; the executor bounds are its autoscaling.

    The stack only exports the batch's request (``job_batch_request``); ``streamkit job
    deploy --env gcp`` creates the batch.
    """

    # Must be a runtime with Spark 4.0+ (transformWithStateInPandas); unverified offline.
    runtimeVersion: str = "3.0"
    environmentArchive: str = "dist/streamkit-job-env.tar.gz"
    wheel: str = "dist/streamkit-0.1.0-py3-none-any.whl"
    containerImage: str = ""  # a custom runtime image instead of the environment archive
    minExecutors: int = 2  # Dataproc Serverless's minimum
    maxExecutors: int = 4
    executorCores: int = 4  # Serverless allows 4, 8 or 16
    executorMemory: str = "9600m"
    driverCores: int = 4
    driverMemory: str = "9600m"
    shufflePartitions: int = 8
    triggerSeconds: float = 2.0
    maxRecordsPerBatch: int = 50_000


@dataclass(frozen=True)
class ServiceConfig:
    """A Cloud Run service (the API or the dashboard)."""

    image: str = ""  # an image URI; empty: build the repo's Dockerfile, push to Artifact Registry
    platform: str = "linux/amd64"
    cpu: str = "1"
    memory: str = "512Mi"
    minInstances: int = 0
    maxInstances: int = 10


@dataclass(frozen=True)
class MonitoringConfig:
    """Alert policies (the alert rules), the KPI probe, the budget."""

    alertEmail: str = ""  # an email notification channel when set
    latencyP95Ms: float = 2000.0  # alert rule: P95 end-to-end latency > 2 s
    lagSeconds: float = 60.0  # alert rule: bus lag > 60 s
    evaluationMinutes: int = 3
    billingAccount: str = ""  # required: the budget is set on this billing account
    monthlyBudget: int = 500
    currency: str = "USD"  # must be the billing account's currency


@dataclass(frozen=True)
class StackConfig(StackNaming):
    """Everything the GCP program reads from config."""

    stack: str
    project: str
    region: str
    app_env: str
    network: NetworkConfig
    bus: BusConfig
    archive: ArchiveConfig
    hot_store: HotStoreConfig
    job: JobConfig
    api: ServiceConfig
    dashboard: ServiceConfig
    monitoring: MonitoringConfig


def _required(value: str, key: str) -> str:
    if not value:
        msg = f"{NAMESPACE}:{key} is required: pulumi config set --path '{key}' <value>"
        raise ValueError(msg)
    return value


def load() -> StackConfig:
    """Read and validate the stack's configuration."""
    config = pulumi.Config(NAMESPACE)
    provider = pulumi.Config("gcp")
    hot_store = read_group(config, "hotStore", HotStoreConfig)
    monitoring = read_group(config, "monitoring", MonitoringConfig)
    _required(hot_store.atlasOrgId, "hotStore.atlasOrgId")
    _required(monitoring.billingAccount, "monitoring.billingAccount")
    return StackConfig(
        stack=pulumi.get_stack(),
        project=provider.require("project"),
        region=provider.require("region"),
        app_env=config.get("appEnv") or "production",
        network=read_group(config, "network", NetworkConfig),
        bus=read_group(config, "bus", BusConfig),
        archive=read_group(config, "archive", ArchiveConfig),
        hot_store=hot_store,
        job=read_group(config, "job", JobConfig),
        api=read_group(config, "api", ServiceConfig),
        dashboard=read_group(config, "dashboard", ServiceConfig),
        monitoring=monitoring,
    )
