"""The GCP stack's configuration, read in one place with its defaults.

Keys live under the ``streamkit-gcp`` namespace of ``Pulumi.<stack>.yaml`` (groups are YAML
objects); ``gcp:project`` and ``gcp:region`` are the provider's own. Every default is written
here and in docs/deploy-gcp.md; unknown keys are refused so that a typo fails loudly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

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


#: Who may open the dashboard: ``iap`` (members only, through Identity-Aware Proxy) or ``public``.
DASHBOARD_ACCESS = ("iap", "public")
#: The kinds of principal IAP can let through, as IAM spells them.
MEMBER_PREFIXES = ("user:", "group:", "domain:", "serviceAccount:")
MEMBER_FORMS = "user:<email>, group:<email>, domain:<domain> or serviceAccount:<email>"
_GRANT_EXAMPLE = "pulumi config set --path 'dashboard.members[0]' user:you@example.com"


@dataclass(frozen=True)
class DashboardConfig(ServiceConfig):
    """The dashboard's service, and who may open it.

    It holds the API key and shows the data the key guards, so it is private by default:
    ``iap`` lets only ``members`` through Identity-Aware Proxy; ``public`` (anyone on the
    internet) must be chosen explicitly.
    """

    access: str = "iap"
    # IAM principals: user:ana@example.com, group:analysts@example.com, domain:example.com.
    members: Sequence[str] = ()


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
    dashboard: DashboardConfig
    monitoring: MonitoringConfig


def _required(value: str, key: str) -> str:
    if not value:
        msg = f"{NAMESPACE}:{key} is required: pulumi config set --path '{key}' <value>"
        raise ValueError(msg)
    return value


def _invalid(key: str, problem: str, fix: str) -> str:
    """The message refusing ``key``: what is wrong with it, and the command that fixes it."""
    return f"{NAMESPACE}:{key} {problem}; fix: {fix}"


def _member_problem(member: object) -> str | None:
    """Why ``member`` is not a principal IAP can let through, or None."""
    if member in ("allUsers", "allAuthenticatedUsers"):
        return "would let anyone in: that is dashboard.access public, not a member"
    kind, _, who = str(member).partition(":")
    if (
        not isinstance(member, str)
        or f"{kind}:" not in MEMBER_PREFIXES
        or not who
        or (kind == "domain") == ("@" in who)  # a domain has no '@', the others are emails
    ):
        return f"is not {MEMBER_FORMS}"
    return None


def _members(members: object) -> tuple[str, ...]:
    """The dashboard's members, each checked: a typo would lock its owner out silently."""
    if not isinstance(members, list | tuple):
        msg = _invalid("dashboard.members", "is not a list", _GRANT_EXAMPLE)
        raise ValueError(msg)
    seen: set[str] = set()
    for i, member in enumerate(members):
        problem = _member_problem(member)
        if problem:
            # A bare email most likely meant a user.
            bare = isinstance(member, str) and "@" in member and ":" not in member
            example = f"user:{member}" if bare else "user:ana@example.com"
            fix = f"pulumi config set --path 'dashboard.members[{i}]' {example}"
            msg = _invalid(f"dashboard.members[{i}]", f"{member!r} {problem}", fix)
            raise ValueError(msg)
        # Each member gets one grant named after it: the same member twice would clash.
        if member.lower() in seen:
            msg = _invalid(f"dashboard.members[{i}]", f"repeats {member!r}", "drop it")
            raise ValueError(msg)
        seen.add(member.lower())
    return tuple(members)


def _dashboard(config: pulumi.Config) -> DashboardConfig:
    """The dashboard's config: its access checked, its members validated."""
    dashboard = read_group(config, "dashboard", DashboardConfig)
    if dashboard.access not in DASHBOARD_ACCESS:
        problem = (
            f"is {dashboard.access!r}; allowed: 'iap' (the default: only dashboard.members, "
            "through Identity-Aware Proxy) or 'public' (anyone on the internet)"
        )
        fix = "pulumi config set --path 'dashboard.access' iap"
        msg = _invalid("dashboard.access", problem, fix)
        raise ValueError(msg)
    members = _members(dashboard.members)
    if dashboard.access == "iap" and not members:
        pulumi.log.warn(
            "dashboard.access is iap and dashboard.members is empty: the dashboard deploys, "
            f"but nobody can open it until someone is granted: {_GRANT_EXAMPLE}"
        )
    if dashboard.access == "public" and members:
        pulumi.log.warn("dashboard.members is ignored: dashboard.access is public (anyone)")
    return replace(dashboard, members=members)


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
        dashboard=_dashboard(config),
        monitoring=monitoring,
    )
