"""The archive: one GCS bucket for the Parquet archive, the job's checkpoints and its code.

Prefixes as on AWS: ``archive/`` (Parquet, moved to Nearline then Coldline as it ages),
``checkpoints/`` (hot, never transitioned), ``job/`` (entry script, wheel, environment), and
``journal/`` (the Pub/Sub source's journal of planned batches, which must outlive the driver).
Uniform bucket-level access (no object ACLs) and public access prevention enforced. Default
encryption is a customer-managed Cloud KMS key (CMEK) rotated every ``keyRotationDays``: the
key is ours to disable, and every use is in Cloud Audit Logs. Only Cloud Storage's service
agent may use it. Key rings cannot be deleted: ``pulumi destroy`` leaves the ring and
schedules the key's versions for destruction.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.gcp.config import ArchiveConfig

ARCHIVE_PREFIX = "archive"
CHECKPOINT_PREFIX = "checkpoints"
JOB_PREFIX = "job"
JOURNAL_PREFIX = "journal"


class Archive(pulumi.ComponentResource):
    """The data bucket and its key."""

    def __init__(
        self,
        name: str,
        cfg: ArchiveConfig,
        *,
        project: str,
        region: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the key ring, key, the storage agent's grant and the bucket."""
        super().__init__("streamkit:gcp:Archive", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ring = gcp.kms.KeyRing(f"{name}-keys", name=f"{name}-keys", location=region, opts=child)
        self.key = gcp.kms.CryptoKey(
            f"{name}-archive",
            name=f"{name}-archive",
            key_ring=ring.id,
            rotation_period=f"{cfg.keyRotationDays * 86400}s",
            purpose="ENCRYPT_DECRYPT",
            opts=child,
        )
        agent = gcp.storage.get_project_service_account_output(project=project)
        grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-archive-storage-agent",
            crypto_key_id=self.key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=agent.email_address.apply(lambda e: f"serviceAccount:{e}"),
            opts=child,
        )
        self.bucket = gcp.storage.Bucket(
            f"{name}-data",
            location=region,
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=cfg.forceDestroy,
            encryption={"default_kms_key_name": self.key.id},
            lifecycle_rules=self._rules(cfg),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]),
        )
        self.archive_url = self.bucket.name.apply(lambda b: f"gs://{b}/{ARCHIVE_PREFIX}")
        self.checkpoint_dir = self.bucket.name.apply(lambda b: f"gs://{b}/{CHECKPOINT_PREFIX}")
        self.journal_dir = self.bucket.name.apply(lambda b: f"gs://{b}/{JOURNAL_PREFIX}")
        self.register_outputs(
            {"archive_url": self.archive_url, "checkpoint_dir": self.checkpoint_dir}
        )

    @staticmethod
    def _rules(cfg: ArchiveConfig) -> list[dict[str, object]]:
        def move(days: int, storage_class: str) -> dict[str, object]:
            return {
                "action": {"type": "SetStorageClass", "storage_class": storage_class},
                "condition": {"age": days, "matches_prefixes": [f"{ARCHIVE_PREFIX}/"]},
            }

        rules = [
            move(cfg.nearlineDays, "NEARLINE"),
            move(cfg.coldlineDays, "COLDLINE"),
            {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
        ]
        if cfg.expireDays:
            rules.append(
                {
                    "action": {"type": "Delete"},
                    "condition": {
                        "age": cfg.expireDays,
                        "matches_prefixes": [f"{ARCHIVE_PREFIX}/"],
                    },
                }
            )
        return rules
