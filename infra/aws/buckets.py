"""A private, encrypted S3 bucket: the one shape of every bucket the stack makes.

ACLs disabled (the owner owns every object), all four public-access blocks on, default
encryption (SSE-KMS with the given key, or SSE-S3), and a policy that refuses plain HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pulumi
import pulumi_aws as aws

from infra.aws.iam import Statement, document


def private_bucket(
    name: str,
    opts: pulumi.ResourceOptions,
    *,
    kms_key_arn: pulumi.Input[str] | None = None,
    force_destroy: bool = False,
    extra_statements: Callable[[aws.s3.Bucket], Sequence[Statement]] | None = None,
) -> aws.s3.Bucket:
    """A bucket that is private and encrypted at rest and in transit.

    ``extra_statements`` adds grants to its policy (given the bucket, for its ARN).
    """
    bucket = aws.s3.Bucket(name, force_destroy=force_destroy, opts=opts)
    after_bucket = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[bucket]))
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=after_bucket,
    )
    block = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=after_bucket,
    )
    by_default = (
        {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key_arn}
        if kms_key_arn is not None
        else {"sse_algorithm": "AES256"}
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": by_default,
                # One data key per bucket instead of per object: far fewer KMS requests.
                "bucket_key_enabled": kms_key_arn is not None,
            }
        ],
        opts=after_bucket,
    )
    deny_plain_http: Statement = {
        "Sid": "DenyPlainHttp",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    aws.s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.id,
        policy=document([deny_plain_http, *(extra_statements(bucket) if extra_statements else [])]),
        # A policy put before the block is in place could be judged public and refused.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[block])),
    )
    return bucket
