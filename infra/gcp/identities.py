"""One service account per workload, each with only what that workload does.

* ``job`` (the Dataproc batch): ``roles/dataproc.worker`` on the project (Dataproc requires
  it of a batch's account), object read/write on the data bucket only, pull and view on its
  subscription only, view the events topic (its partition label), publish on the dead-letter
  topic only, read the hot store URL secret; and, because the binding creates its
  subscription if missing, a one-permission custom role (see ``_subscription_creator``).
* ``api`` (Cloud Run): read the hot store URL and the API keys secrets.
* ``dashboard`` (Cloud Run): read the API keys secret.
* ``probe`` (the KPI probe job): read the API keys secret.

Those grants are made where the resources are (bus, archive, secrets); this module makes the
accounts and the job's own grants.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.gcp.archive import Archive
from infra.gcp.bus import Bus


class Identities(pulumi.ComponentResource):
    """The workloads' service accounts and the job's grants."""

    def __init__(
        self,
        name: str,
        *,
        project: str,
        bus: Bus,
        archive: Archive,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the accounts and the job's grants."""
        super().__init__("streamkit:gcp:Identities", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def account(role: str, what: str) -> gcp.serviceaccount.Account:
            return gcp.serviceaccount.Account(
                f"{name}-{role}",
                account_id=f"{name}-{role}",
                display_name=f"streamkit {what}",
                opts=child,
            )

        self.job = account("job", "stream job (Dataproc)")
        self.api = account("api", "KPI API (Cloud Run)")
        self.dashboard = account("dashboard", "dashboard (Cloud Run)")
        self.probe = account("probe", "KPI probe (Cloud Run job)")
        self.scheduler = account("scheduler", "scheduler of the KPI probe")
        job = self.job.email.apply(lambda e: f"serviceAccount:{e}")
        self.job_grants = [
            gcp.projects.IAMMember(
                f"{name}-job-dataproc-worker",
                project=project,
                role="roles/dataproc.worker",
                member=job,
                opts=child,
            ),
            gcp.storage.BucketIAMMember(
                f"{name}-job-data",
                bucket=archive.bucket.name,
                role="roles/storage.objectUser",
                member=job,
                opts=child,
            ),
            gcp.pubsub.SubscriptionIAMMember(
                f"{name}-job-pull",
                subscription=bus.subscription.name,
                role="roles/pubsub.subscriber",
                member=job,
                opts=child,
            ),
            gcp.pubsub.SubscriptionIAMMember(
                f"{name}-job-view",
                subscription=bus.subscription.name,
                role="roles/pubsub.viewer",
                member=job,
                opts=child,
            ),
            gcp.pubsub.TopicIAMMember(
                f"{name}-job-deadletter",
                topic=bus.deadletter.name,
                role="roles/pubsub.publisher",
                member=job,
                opts=child,
            ),
            # The binding reads the partition count from the topic's label.
            gcp.pubsub.TopicIAMMember(
                f"{name}-job-events-view",
                topic=bus.events.name,
                role="roles/pubsub.viewer",
                member=job,
                opts=child,
            ),
            *self._subscription_creator(name, project, bus, job, child),
        ]
        self.register_outputs({"job": self.job.email})

    @staticmethod
    def _subscription_creator(
        name: str, project: str, bus: Bus, job: pulumi.Input[str], opts: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        """What the binding's idempotent create-if-missing of the job's subscription needs.

        The Spark source creates its subscription at start and takes "already exists" as
        success; Pub/Sub checks ``pubsub.subscriptions.create`` (a project permission) before
        answering that. So: a custom role with that one permission, and attaching a
        subscription to the events topic only (``roles/pubsub.subscriber`` on the topic). If
        the binding looked the subscription up first, both grants could go.
        """
        role = gcp.projects.IAMCustomRole(
            f"{name}-subscription-creator",
            project=project,
            role_id=f"{name.replace('-', '_')}_subscription_creator",
            title=f"{name}: create Pub/Sub subscriptions",
            permissions=["pubsub.subscriptions.create"],
            opts=opts,
        )
        return [
            role,
            gcp.projects.IAMMember(
                f"{name}-job-subscription-creator",
                project=project,
                role=role.name,
                member=job,
                opts=opts,
            ),
            gcp.pubsub.TopicIAMMember(
                f"{name}-job-events-attach",
                topic=bus.events.name,
                role="roles/pubsub.subscriber",
                member=job,
                opts=opts,
            ),
        ]


def member(account: gcp.serviceaccount.Account) -> pulumi.Output[str]:
    """The IAM member string of ``account``."""
    return account.email.apply(lambda e: f"serviceAccount:{e}")
