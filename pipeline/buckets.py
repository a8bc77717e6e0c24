"""The trigger and output buckets: private, encrypted, versioned, TLS only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

# Parts of uploads that never completed cost storage and are never visible: drop them.
ABORT_INCOMPLETE_UPLOADS_DAYS = 7


def tls_only_policy(bucket_arn: Any) -> dict[str, Any]:
    """Returns a bucket policy that refuses every request not made over TLS.

    The wildcard action here only takes permissions away (a Deny); nothing is granted
    through bucket policies: the functions' roles grant what each one needs.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyWithoutTls",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "s3:*",
                "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


@dataclass(frozen=True)
class PrivateBucketArgs:
    """How one bucket differs from the other.

    Attributes:
        noncurrent_version_days: Noncurrent object versions are deleted after this.
        force_destroy: Whether ``pulumi destroy`` may delete the bucket with objects in it
            (only where the stack is not protected).
        eventbridge: Whether the bucket sends its events to EventBridge.
    """

    noncurrent_version_days: int
    force_destroy: bool
    eventbridge: bool = False


class PrivateBucket(pulumi.ComponentResource):
    """One S3 bucket with everything that makes it private and safe.

    Creates the bucket, ownership controls (bucket owner enforced: no ACLs), a public
    access block with all four settings on, default encryption (SSE-S3), versioning, a
    lifecycle rule expiring noncurrent versions and aborting stale multipart uploads, a
    TLS-only bucket policy, and, where asked, EventBridge notifications.

    Attributes:
        name: The bucket's name.
        arn: The bucket's ARN.
    """

    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: PrivateBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("docpipe:index:PrivateBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(name, force_destroy=args.force_destroy, opts=child)
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                )
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-noncurrent-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_version_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=ABORT_INCOMPLETE_UPLOADS_DAYS
                    ),
                )
            ],
            # S3 rejects lifecycle rules on noncurrent versions until versioning is on.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(tls_only_policy(bucket.arn)),
            # Both change the bucket's policy state; S3 refuses them concurrently.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        if args.eventbridge:
            aws.s3.BucketNotification(
                f"{name}-events", bucket=bucket.id, eventbridge=True, opts=child
            )
        self.name = bucket.bucket
        self.arn = bucket.arn
        self.register_outputs({"name": self.name, "arn": self.arn})
