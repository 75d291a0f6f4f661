"""The AWS stack: components wired together, and the outputs named like the app's settings.

Data flow: producers -> Kinesis (``Bus``) -> the stream job on EMR Serverless (``StreamJob``)
-> DocumentDB (``HotStore``) and S3 (``Archive``) -> the API on Lambda (``Api``) -> the
dashboard on ECS (``Dashboard``); ``Monitoring`` and ``AuditTrail`` watch it.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.aws import config
from infra.aws.api import Api
from infra.aws.api_keys import ApiKeys
from infra.aws.archive import Archive
from infra.aws.audit import AuditTrail
from infra.aws.bus import Bus
from infra.aws.dashboard import Dashboard
from infra.aws.hot_store import HotStore
from infra.aws.iam import allow, document
from infra.aws.job import StreamJob
from infra.aws.monitoring import Monitoring
from infra.aws.network import Network
from infra.common.files import local_file
from infra.common.settings_outputs import aws_secret_ref
from infra.common.spark_job import job_settings

_CA_HOW = (
    "download it: curl -o dist/global-bundle.pem "
    "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
)


def build() -> None:
    """Declare every resource of the stack and export its outputs."""
    cfg = config.load()
    name = cfg.prefix
    ca_bundle = local_file(cfg.hot_store.caBundle, "the RDS CA bundle", _CA_HOW)
    lambda_zip = local_file(
        cfg.api.lambdaZip, "the API's Lambda zip", "run `streamkit package lambda`"
    )
    network = Network(name, cfg.network, cfg.region)
    bus = Bus(name, cfg.bus, cfg.region)
    archive = Archive(name, cfg.archive)
    hot_store = HotStore(f"{name}-hot", cfg.hot_store, network)
    api_keys = ApiKeys(f"{name}-api-keys")
    settings: dict[str, pulumi.Input[str]] = {
        "STREAMKIT_ENV": cfg.app_env,
        "STREAMKIT_BUS_URL": bus.url,
        "STREAMKIT_DEADLETTER_URL": bus.deadletter_url,
        "STREAMKIT_ARCHIVE_URL": archive.archive_url,
        "STREAMKIT_CHECKPOINT_DIR": archive.checkpoint_dir,
    }
    job = StreamJob(
        f"{name}-job",
        cfg.job,
        settings={**settings, **job_settings(cfg.job)},
        archive=archive,
        bus=bus,
        hot_store=hot_store,
        network=network,
        ca_bundle=ca_bundle,
    )
    api = Api(
        f"{name}-api",
        cfg.api,
        settings=settings,
        lambda_zip=lambda_zip,
        ca_bundle=ca_bundle,
        hot_store=hot_store,
        api_keys=api_keys,
        network=network,
    )
    dashboard = Dashboard(
        f"{name}-dashboard",
        cfg.dashboard,
        api_url=api.url,
        api_keys=api_keys,
        network=network,
        deletion_protection=cfg.hot_store.deletionProtection,
    )
    monitoring = Monitoring(
        name, cfg.monitoring, stack=cfg.stack, bus=bus, api_url=api.url, api_keys=api_keys
    )
    AuditTrail(
        f"{name}-audit",
        watched_bucket=archive.bucket,
        retention_days=cfg.monitoring.auditLogRetentionDays,
        force_destroy=cfg.archive.forceDestroy,
    )
    producer = aws.iam.Policy(
        f"{name}-producer",
        description="Publish events and dead letters to the stack's streams (attach to producers)",
        policy=document(
            [
                allow(
                    [
                        "kinesis:DescribeStreamSummary",
                        "kinesis:ListShards",
                        "kinesis:PutRecord",
                        "kinesis:PutRecords",
                    ],
                    [bus.events.arn, bus.deadletter.arn],
                    "PublishEvents",
                )
            ]
        ),
    )
    api_keys_ref = api_keys.secret.arn.apply(aws_secret_ref)
    # Named like the app's settings (infra.common.settings_outputs); secrets as references.
    pulumi.export("env", cfg.app_env)
    pulumi.export("bus_url", bus.url)
    pulumi.export("deadletter_url", bus.deadletter_url)
    pulumi.export("hot_store_url", hot_store.job_secret.arn.apply(aws_secret_ref))
    pulumi.export("archive_url", archive.archive_url)
    pulumi.export("checkpoint_dir", archive.checkpoint_dir)
    pulumi.export("api__keys", api_keys_ref)
    pulumi.export("dashboard__api_url", api.url)
    pulumi.export("dashboard__api_key", api_keys_ref)
    # What operating the stack needs.
    pulumi.export("api_url", api.url)
    pulumi.export("dashboard_url", dashboard.url)
    # dashboard.domainName's DNS record points here (CNAME, or a Route 53 alias).
    pulumi.export("dashboard_alb_dns_name", dashboard.balancer.dns_name)
    if dashboard.login is not None:
        # For `aws cognito-idp admin-create-user --user-pool-id ...`: the only way users appear.
        pulumi.export("dashboard_user_pool_id", dashboard.login.pool.id)
    pulumi.export("region", cfg.region)
    pulumi.export("hot_store_endpoint", hot_store.cluster.endpoint)
    pulumi.export("emr_application_id", job.application.id)
    pulumi.export("job_role_arn", job.role.arn)
    pulumi.export("job_run_request", job.job_run_request)
    pulumi.export("producer_policy_arn", producer.arn)
    pulumi.export("alerts_topic_arn", monitoring.topic.arn)
