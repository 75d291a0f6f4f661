"""Audit logging: a CloudTrail trail recording S3 data events on the archive.

Every read and write of an object under ``archive/`` (who, when, from where) goes to a
separate private bucket, kept ``auditLogRetentionDays``. The checkpoints and the job's logs
are left out: they are written every few seconds by the job itself and would multiply the
cost of the trail (data events are billed per 100,000) without telling anyone anything.
Management events are left to the account's own trail.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.aws.archive import ARCHIVE_PREFIX
from infra.aws.buckets import private_bucket
from infra.aws.iam import Statement


class AuditTrail(pulumi.ComponentResource):
    """The trail and its log bucket."""

    def __init__(
        self,
        name: str,
        *,
        watched_bucket: aws.s3.Bucket,
        retention_days: int,
        force_destroy: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the log bucket (with CloudTrail's write grant) and the trail."""
        super().__init__("streamkit:aws:AuditTrail", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output().account_id
        region = aws.get_region_output().region
        trail_name = f"{name}-archive-data-events"
        trail_arn = pulumi.Output.concat(
            "arn:aws:cloudtrail:", region, ":", account, ":trail/", trail_name
        )
        logs = private_bucket(
            f"{name}-logs",
            child,
            force_destroy=force_destroy,
            extra_statements=lambda bucket: cloudtrail_grants(bucket, account, trail_arn),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-logs-expire",
            bucket=logs.id,
            rules=[
                {
                    "id": "expire",
                    "status": "Enabled",
                    "filter": {},
                    "expiration": {"days": retention_days},
                }
            ],
            opts=child,
        )
        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=trail_name,
            s3_bucket_name=logs.id,
            is_multi_region_trail=False,
            include_global_service_events=False,
            enable_log_file_validation=True,
            advanced_event_selectors=[
                {
                    "name": "Objects of the archive",
                    "field_selectors": [
                        {"field": "eventCategory", "equals": ["Data"]},
                        {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                        {
                            "field": "resources.ARN",
                            "starts_withs": [
                                watched_bucket.arn.apply(lambda a: f"{a}/{ARCHIVE_PREFIX}/")
                            ],
                        },
                    ],
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs]),
        )
        self.register_outputs({"trail_arn": self.trail.arn})


def cloudtrail_grants(
    bucket: aws.s3.Bucket, account: pulumi.Input[str], trail_arn: pulumi.Input[str]
) -> list[Statement]:
    """What CloudTrail needs on its log bucket, for this trail only."""
    from_trail = {"aws:SourceArn": trail_arn}
    return [
        {
            "Sid": "CloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket.arn,
            "Condition": {"StringEquals": from_trail},
        },
        {
            "Sid": "CloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": pulumi.Output.concat(bucket.arn, "/AWSLogs/", account, "/*"),
            "Condition": {
                "StringEquals": {**from_trail, "s3:x-amz-acl": "bucket-owner-full-control"}
            },
        },
    ]
