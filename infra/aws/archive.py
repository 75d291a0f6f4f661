"""The archive: one S3 bucket for the Parquet archive, the job's checkpoints, its code and logs.

Prefixes: ``archive/`` (Parquet, moved to cheaper classes as it ages), ``checkpoints/`` (the
stream job's state and offsets: hot, never transitioned), ``job/`` (the entry script, wheel,
Python environment and CA bundle the job runs from) and ``logs/`` (EMR Serverless logs).
Encrypted with a customer-managed KMS key (rotated yearly), so access to the data can be cut
by disabling one key and every use of it is in CloudTrail.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.aws.buckets import private_bucket
from infra.aws.config import ArchiveConfig

ARCHIVE_PREFIX = "archive"
CHECKPOINT_PREFIX = "checkpoints"
JOB_PREFIX = "job"
LOG_PREFIX = "logs"


class Archive(pulumi.ComponentResource):
    """The data bucket and its key."""

    def __init__(
        self, name: str, cfg: ArchiveConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the key, the bucket and its lifecycle."""
        super().__init__("streamkit:aws:Archive", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{name}: the archive bucket's data",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key", name=f"alias/{name}", target_key_id=self.key.key_id, opts=child
        )
        self.bucket = private_bucket(
            f"{name}-data", child, kms_key_arn=self.key.arn, force_destroy=cfg.forceDestroy
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=self.bucket.id, rules=self._rules(cfg), opts=child
        )
        self.archive_url = self.bucket.bucket.apply(lambda b: f"s3://{b}/{ARCHIVE_PREFIX}")
        self.checkpoint_dir = self.bucket.bucket.apply(lambda b: f"s3://{b}/{CHECKPOINT_PREFIX}")
        self.register_outputs(
            {"archive_url": self.archive_url, "checkpoint_dir": self.checkpoint_dir}
        )

    @staticmethod
    def _rules(cfg: ArchiveConfig) -> list[dict[str, object]]:
        archive: dict[str, object] = {
            "id": "archive-ages-to-cheaper-storage",
            "status": "Enabled",
            "filter": {"prefix": f"{ARCHIVE_PREFIX}/"},
            "transitions": [
                {"days": cfg.infrequentAccessDays, "storage_class": "STANDARD_IA"},
                {"days": cfg.glacierDays, "storage_class": "GLACIER_IR"},
            ],
        }
        if cfg.expireDays:
            archive["expiration"] = {"days": cfg.expireDays}
        return [
            archive,
            {
                "id": "logs-expire",
                "status": "Enabled",
                "filter": {"prefix": f"{LOG_PREFIX}/"},
                "expiration": {"days": 30},
            },
            {
                "id": "abort-incomplete-uploads",
                "status": "Enabled",
                "filter": {},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            },
        ]

    def object_arn(self, prefix: str) -> pulumi.Output[str]:
        """The ARN pattern of every object under ``prefix/``."""
        return pulumi.Output.concat(self.bucket.arn, f"/{prefix}/*")
