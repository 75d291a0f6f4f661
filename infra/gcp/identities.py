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
from infra.gcp.iam import Grant, grant, member


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
        job = member(self.job)
        on_project = {"project": project}
        on_bucket = {"bucket": archive.bucket.name}
        on_subscription = {"subscription": bus.subscription.name}
        on_deadletter = {"topic": bus.deadletter.name}
        on_events = {"topic": bus.events.name}
        grants: list[Grant] = [
            ("dataproc-worker", gcp.projects.IAMMember, on_project, "roles/dataproc.worker"),
            ("data", gcp.storage.BucketIAMMember, on_bucket, "roles/storage.objectUser"),
            ("pull", gcp.pubsub.SubscriptionIAMMember, on_subscription, "roles/pubsub.subscriber"),
            ("view", gcp.pubsub.SubscriptionIAMMember, on_subscription, "roles/pubsub.viewer"),
            ("deadletter", gcp.pubsub.TopicIAMMember, on_deadletter, "roles/pubsub.publisher"),
            # The binding reads the partition count from the topic's label.
            ("events-view", gcp.pubsub.TopicIAMMember, on_events, "roles/pubsub.viewer"),
        ]
        self.job_grants = grant(f"{name}-job", job, grants, child)
        self.job_grants += self._subscription_creator(name, project, bus, job, child)
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
        on_events = {"topic": bus.events.name}
        grants: list[Grant] = [
            ("subscription-creator", gcp.projects.IAMMember, {"project": project}, role.name),
            ("events-attach", gcp.pubsub.TopicIAMMember, on_events, "roles/pubsub.subscriber"),
        ]
        return [role, *grant(f"{name}-job", job, grants, opts)]
