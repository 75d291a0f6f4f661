"""``storage``: every store is private and encrypted at rest.

* S3 buckets: a public access block with all four flags on, ACLs disabled (object ownership
  ``BucketOwnerEnforced``), default encryption (SSE-KMS, DSSE-KMS or SSE-S3), no public ACL,
  and no bucket policy that allows anyone (``Principal: "*"``).
* GCS buckets: uniform bucket-level access, public access prevention ``enforced``, and a
  customer-managed key (CMEK) as default encryption: the stacks create one, so that the key
  (its rotation, its audit trail, disabling it) is ours; Google's default encryption at rest
  would pass any check and prove nothing.
* DocumentDB clusters: storage encryption on. Kinesis streams: server-side encryption (KMS).
"""

from __future__ import annotations

from collections.abc import Iterator

from infra.policy.checks.aws_policy import parse, statements
from infra.policy.checks.violation import Violation
from infra.policy.recorded import Resource, Resources

CHECK = "storage"

_BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
_SSE_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse", "AES256"})
_PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
_ACL_TYPES = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
_SSE_TYPES = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)


def _for_bucket(resources: Resources, bucket: Resource, *types: str) -> list[Resource]:
    return [r for r in resources.of_type(*types) if r.get("bucket") == bucket.id]


def _s3_bucket(resources: Resources, bucket: Resource) -> Iterator[str]:
    blocks = _for_bucket(
        resources, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
    )
    if not any(all(b.get(flag) is True for flag in _BLOCK_FLAGS) for b in blocks):
        yield f"no public access block with all of {', '.join(_BLOCK_FLAGS)} on"
    ownership = _for_bucket(
        resources, bucket, "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
    )
    if not any(o.get("rule", "objectOwnership") == "BucketOwnerEnforced" for o in ownership):
        yield "ACLs are not disabled (object ownership BucketOwnerEnforced)"
    algorithms = {
        (rule or {}).get("applyServerSideEncryptionByDefault", {}).get("sseAlgorithm")
        for sse in _for_bucket(resources, bucket, *_SSE_TYPES)
        for rule in sse.get("rules") or []
    }
    if not algorithms & _SSE_ALGORITHMS:
        yield "no default encryption (SSE-KMS or SSE-S3)"
    acls = [bucket.get("acl"), *(a.get("acl") for a in _for_bucket(resources, bucket, *_ACL_TYPES))]
    for acl in set(acls) & _PUBLIC_ACLS:
        yield f"public ACL {acl}"
    for policy in _for_bucket(resources, bucket, "aws:s3/bucketPolicy:BucketPolicy"):
        for statement in statements(parse(policy.get("policy"))):
            principal = statement.get("Principal")
            public = principal == "*" or (
                isinstance(principal, dict) and "*" in str(principal.get("AWS"))
            )
            if statement.get("Effect") == "Allow" and public:
                what = statement.get("Sid") or statement.get("Action")
                yield f"bucket policy allows anyone: {what}"


def _gcs_bucket(bucket: Resource) -> Iterator[str]:
    if bucket.get("uniformBucketLevelAccess") is not True:
        yield "uniform bucket-level access is off (object ACLs can make objects public)"
    if bucket.get("publicAccessPrevention") != "enforced":
        yield "public access prevention is not 'enforced'"
    if not bucket.get("encryption", "defaultKmsKeyName"):
        yield "no customer-managed encryption key (encryption.defaultKmsKeyName)"


def check_storage(resources: Resources) -> list[Violation]:
    """Buckets, databases and streams that are public or unencrypted."""
    found: list[Violation] = []
    for bucket in resources.of_type("aws:s3/bucket:Bucket"):
        found += [Violation.of(CHECK, bucket, m) for m in _s3_bucket(resources, bucket)]
    for bucket in resources.of_type("gcp:storage/bucket:Bucket"):
        found += [Violation.of(CHECK, bucket, m) for m in _gcs_bucket(bucket)]
    for cluster in resources.of_type("aws:docdb/cluster:Cluster"):
        if cluster.get("storageEncrypted") is not True:
            found.append(Violation.of(CHECK, cluster, "storage is not encrypted"))
    for stream in resources.of_type("aws:kinesis/stream:Stream"):
        if stream.get("encryptionType") != "KMS":
            found.append(Violation.of(CHECK, stream, "server-side encryption (KMS) is off"))
    return found
