"""The GCP stack: components wired together, and the outputs named like the app's settings.

Data flow: producers -> Pub/Sub (``Bus``) -> the stream job on Dataproc Serverless
(``StreamJob``) -> MongoDB Atlas (``HotStore``) and GCS (``Archive``) -> the API on Cloud Run
(``Api``) -> the dashboard on Cloud Run (``Dashboard``); ``Monitoring`` and ``AuditLogs``
watch it.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.common.spark_job import job_settings
from infra.gcp import config
from infra.gcp.api import Api
from infra.gcp.api_keys import api_keys_secret
from infra.gcp.archive import Archive
from infra.gcp.audit import AuditLogs
from infra.gcp.bus import Bus
from infra.gcp.dashboard import Dashboard
from infra.gcp.hot_store import HotStore
from infra.gcp.iam import member
from infra.gcp.identities import Identities
from infra.gcp.images import Images
from infra.gcp.job import StreamJob
from infra.gcp.monitoring import Monitoring
from infra.gcp.network import Network
from infra.gcp.project_apis import ProjectApis


def build() -> None:
    """Declare every resource of the stack and export its outputs."""
    cfg = config.load()
    name = cfg.prefix
    apis = ProjectApis(f"{name}-apis", cfg.project)
    after_apis = pulumi.ResourceOptions(depends_on=apis.ready)
    project_number = gcp.organizations.get_project_output(project_id=cfg.project).number
    network = Network(name, cfg.network, cfg.region, opts=after_apis)
    archive = Archive(name, cfg.archive, project=cfg.project, region=cfg.region, opts=after_apis)
    bus = Bus(
        name,
        cfg.bus,
        project=cfg.project,
        project_number=project_number,
        journal=archive.journal_dir,
        opts=after_apis,
    )
    AuditLogs(f"{name}-audit", cfg.project, opts=after_apis)
    identities = Identities(name, project=cfg.project, bus=bus, archive=archive, opts=after_apis)
    hot_store = HotStore(
        f"{name}-hot",
        cfg.hot_store,
        egress_ip=network.egress_ip,
        region=cfg.region,
        opts=after_apis,
    )
    api_keys = api_keys_secret(f"{name}-api-keys", cfg.region, opts=after_apis)
    settings: dict[str, pulumi.Input[str]] = {
        "STREAMKIT_ENV": cfg.app_env,
        "STREAMKIT_BUS_URL": bus.url,
        "STREAMKIT_DEADLETTER_URL": bus.deadletter_url,
        "STREAMKIT_ARCHIVE_URL": archive.archive_url,
        "STREAMKIT_CHECKPOINT_DIR": archive.checkpoint_dir,
    }
    # The job's grants exist once `pulumi up` is done, before anyone creates its batch.
    hot_store.url_secret.readable_by(f"{name}-job-reads-hot-store-url", member(identities.job))
    job = StreamJob(
        f"{name}-job",
        cfg.job,
        settings={
            **settings,
            **job_settings(cfg.job),
            "STREAMKIT_HOT_STORE_URL": hot_store.url_secret.ref,
        },
        region=cfg.region,
        archive=archive,
        identities=identities,
        network=network,
        opts=after_apis,
    )
    images = Images(
        name,
        project=cfg.project,
        region=cfg.region,
        api=cfg.api,
        dashboard=cfg.dashboard,
        opts=after_apis,
    )
    api = Api(
        f"{name}-api",
        cfg.api,
        image=images.api,
        region=cfg.region,
        account=identities.api,
        settings=settings,
        hot_store_url=hot_store.url_secret,
        api_keys=api_keys,
        network=network,
        opts=after_apis,
    )
    dashboard = Dashboard(
        f"{name}-dashboard",
        cfg.dashboard,
        image=images.dashboard,
        project=cfg.project,
        region=cfg.region,
        account=identities.dashboard,
        api_url=api.url,
        api_keys=api_keys,
        iap_api=apis.enabled["iap"],
        opts=after_apis,
    )
    Monitoring(
        name,
        cfg.monitoring,
        project=cfg.project,
        project_number=project_number,
        region=cfg.region,
        bus=bus,
        api_url=api.url,
        probe_image=images.api,
        api_keys=api_keys,
        identities=identities,
        opts=after_apis,
    )
    # Named like the app's settings (infra.common.settings_outputs); secrets as references.
    pulumi.export("env", cfg.app_env)
    pulumi.export("bus_url", bus.url)
    pulumi.export("deadletter_url", bus.deadletter_url)
    pulumi.export("hot_store_url", hot_store.url_secret.ref)
    pulumi.export("archive_url", archive.archive_url)
    pulumi.export("checkpoint_dir", archive.checkpoint_dir)
    pulumi.export("api__keys", api_keys.ref)
    pulumi.export("dashboard__api_url", api.url)
    pulumi.export("dashboard__api_key", api_keys.ref)
    # What operating the stack needs.
    pulumi.export("api_url", api.url)
    pulumi.export("dashboard_url", dashboard.url)
    # "iap" or "public": who may open the dashboard; infra.policy accepts its allUsers grant
    # only when this says public.
    pulumi.export("dashboard_access", dashboard.access)
    pulumi.export("project", cfg.project)
    pulumi.export("region", cfg.region)
    pulumi.export("egress_ip", network.egress_ip)
    pulumi.export("subscription", bus.subscription.name)
    pulumi.export("job_service_account", identities.job.email)
    # What `streamkit job deploy --env gcp` creates the job's batch with.
    pulumi.export("job_batch_request", job.batch_request)
