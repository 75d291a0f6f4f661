"""The bus: Pub/Sub topics for events and dead letters, and the stream job's subscription.

Made to match the Pub/Sub binding (``adapters/bus/pubsub.py``): the events topic carries the
``streamkit-partitions`` label (the binding's logical partition count); the job's subscription
delivers without ordering, as the binding makes it (``JOB_ORDERED``: the job orders by event
time and acknowledges only when a batch commits), has the binding's short ack deadline (the
job extends it while a batch runs), keeps unacknowledged messages ``retentionDays`` and never
expires. Its dead-letter policy diverts a message only after ``maxDeliveryAttempts`` (100,
Pub/Sub's maximum), so redeliveries caused by the job's own restarts never divert a valid one;
Pub/Sub's service agent gets exactly the two grants dead-lettering needs. Dead letters are held
by a subscription of their own, for people to inspect. Pub/Sub encrypts at rest with
Google-managed keys.

``url`` names everything the job's source needs: the subscription, the dead-letter policy (the
same as the subscription's, should the binding ever create it) and the journal of planned
batches on GCS (it must outlive a driver: a re-run batch is read back from it).
"""

from __future__ import annotations

from urllib.parse import urlencode

import pulumi
import pulumi_gcp as gcp

from infra.gcp.config import BusConfig
from infra.gcp.iam import Grant, grant

PARTITIONS_LABEL = "streamkit-partitions"


def bus_url(project: str, topic: str, query: dict[str, str]) -> str:
    """A ``pubsub://`` URL of the binding."""
    return f"pubsub://{project}/{topic}" + (f"?{urlencode(query, safe=':/')}" if query else "")


class Bus(pulumi.ComponentResource):
    """``events_raw`` and ``events_deadletter`` topics and the job's subscription."""

    def __init__(
        self,
        name: str,
        cfg: BusConfig,
        *,
        project: str,
        project_number: pulumi.Input[str],
        journal: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the topics and subscriptions; ``url`` and ``deadletter_url`` are settings."""
        super().__init__("streamkit:gcp:Bus", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        retention = f"{cfg.retentionDays * 86400}s"
        self.events = gcp.pubsub.Topic(
            f"{name}-events",
            name=f"{name}-events-raw",
            labels={PARTITIONS_LABEL: str(cfg.partitions)},
            opts=child,
        )
        self.deadletter = gcp.pubsub.Topic(
            f"{name}-deadletter", name=f"{name}-events-deadletter", opts=child
        )
        self.subscription = gcp.pubsub.Subscription(
            f"{name}-job",
            name=f"{name}-events-raw-job",
            topic=self.events.id,
            ack_deadline_seconds=cfg.ackDeadlineSeconds,
            message_retention_duration=retention,
            enable_message_ordering=False,  # adapters/bus/pubsub_wire.py JOB_ORDERED
            expiration_policy={"ttl": ""},  # never expires, even while the job is stopped
            dead_letter_policy={
                "dead_letter_topic": self.deadletter.id,
                "max_delivery_attempts": cfg.maxDeliveryAttempts,
            },
            opts=child,
        )
        gcp.pubsub.Subscription(
            f"{name}-deadletter-hold",
            name=f"{name}-events-deadletter-hold",
            topic=self.deadletter.id,
            message_retention_duration=retention,
            expiration_policy={"ttl": ""},
            opts=child,
        )
        agent = pulumi.Output.concat(
            "serviceAccount:service-", project_number, "@gcp-sa-pubsub.iam.gserviceaccount.com"
        )
        # What dead-lettering needs of Pub/Sub's service agent: publish the dead letter, and
        # acknowledge it on the subscription it came from.
        on_topic = {"topic": self.deadletter.name}
        on_job = {"subscription": self.subscription.name}
        grants: list[Grant] = [
            ("deadletter-agent", gcp.pubsub.TopicIAMMember, on_topic, "roles/pubsub.publisher"),
            ("job-agent", gcp.pubsub.SubscriptionIAMMember, on_job, "roles/pubsub.subscriber"),
        ]
        grant(name, agent, grants, child)
        self.url = pulumi.Output.all(
            self.events.name, self.subscription.name, self.deadletter.name, journal
        ).apply(
            lambda parts: bus_url(
                project,
                parts[0],
                {
                    "subscription": parts[1],
                    "dead_letter_topic": parts[2],
                    "max_delivery_attempts": str(cfg.maxDeliveryAttempts),
                    "journal": parts[3],
                },
            )
        )
        self.deadletter_url = self.deadletter.name.apply(lambda n: bus_url(project, n, {}))
        self.register_outputs({"url": self.url, "deadletter_url": self.deadletter_url})
