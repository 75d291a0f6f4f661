"""The bus: a Kinesis stream for events and one for dead letters, both encrypted.

On-demand mode (the default) scales itself and is billed per GB; provisioned mode takes a
shard count (each shard takes 1 MB/s or 1,000 records/s in, so 2,000 events/s of ~400 bytes
need at least 2 shards). Encryption uses the AWS-managed key ``alias/aws/kinesis``, which
every principal allowed to use the stream may use through Kinesis: no key permission to grant.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.aws.config import BusConfig

_KMS_KEY = "alias/aws/kinesis"


class Bus(pulumi.ComponentResource):
    """``events_raw`` and ``events_deadletter`` as Kinesis streams."""

    def __init__(
        self, name: str, cfg: BusConfig, region: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create both streams; ``url`` and ``deadletter_url`` are the app's settings."""
        super().__init__("streamkit:aws:Bus", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        provisioned = cfg.mode == "PROVISIONED"
        self.events = aws.kinesis.Stream(
            f"{name}-events",
            name=f"{name}-events-raw",
            stream_mode_details={"stream_mode": cfg.mode},
            shard_count=cfg.shardCount if provisioned else None,
            retention_period=cfg.retentionHours,
            encryption_type="KMS",
            kms_key_id=_KMS_KEY,
            opts=child,
        )
        self.deadletter = aws.kinesis.Stream(
            f"{name}-deadletter",
            name=f"{name}-events-deadletter",
            stream_mode_details={"stream_mode": cfg.mode},
            shard_count=cfg.deadletterShardCount if provisioned else None,
            # Dead letters are inspected by people, later: keep them a week.
            retention_period=max(cfg.retentionHours, 168),
            encryption_type="KMS",
            kms_key_id=_KMS_KEY,
            opts=child,
        )
        self.url = self.events.name.apply(lambda n: f"kinesis://{n}?region={region}")
        self.deadletter_url = self.deadletter.name.apply(lambda n: f"kinesis://{n}?region={region}")
        self.register_outputs({"url": self.url, "deadletter_url": self.deadletter_url})
