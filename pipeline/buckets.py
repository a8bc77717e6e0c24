"""The trigger, output and access-log buckets: private, encrypted, versioned, TLS only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from pipeline.iam import deny_without_tls

# Parts of uploads that never completed cost storage and are never visible: drop them.
ABORT_INCOMPLETE_UPLOADS_DAYS = 7


def tls_only_policy(bucket_arn: Any) -> dict[str, Any]:
    """Returns a bucket policy that refuses every request not made over TLS.

    The wildcard action here only takes permissions away (a Deny); nothing is granted
    through the data buckets' policies: the functions' roles grant what each one needs.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            deny_without_tls("s3:*", [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")])
        ],
    }


def log_delivery_statement(
    log_bucket_arn: Any, source_arns: list[Any], account_id: Any
) -> dict[str, Any]:
    """Returns the access-log bucket's one grant: S3's log delivery may write objects,
    only on behalf of the given buckets of this account (the confused-deputy guard)."""
    return {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": pulumi.Output.concat(log_bucket_arn, "/*"),
        "Condition": {
            "ArnLike": {"aws:SourceArn": source_arns},
            "StringEquals": {"aws:SourceAccount": account_id},
        },
    }


def encryption_rule(
    kms_key_arn: pulumi.Input[str] | None,
) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgs:
    """Returns the default encryption: SSE-KMS with the stack's key, or SSE-S3.

    With a key, S3 bucket keys cut the KMS requests (and their cost) to about one per
    object prefix and hour instead of one per object.
    """
    by_default = (
        aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
    )
    if kms_key_arn is None:
        return aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=by_default(sse_algorithm="AES256")
        )
    return aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
        apply_server_side_encryption_by_default=by_default(
            sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
        ),
        bucket_key_enabled=True,
    )


@dataclass(frozen=True)
class PrivateBucketArgs:
    """How one bucket differs from the others.

    Attributes:
        noncurrent_version_days: Noncurrent object versions are deleted after this.
        force_destroy: Whether ``pulumi destroy`` may delete the bucket with objects in it
            (only where the stack is not protected).
        eventbridge: Whether the bucket sends its events to EventBridge.
        kms_key_arn: The stack's key for SSE-KMS, or ``None`` for SSE-S3.
        expire_days: Current objects are deleted after this many days (the access logs);
            ``None`` keeps them.
        log_sources: For the access-log bucket: the buckets whose server access logs it
            receives, by log prefix (``trigger/``, ``output/``).
    """

    noncurrent_version_days: int
    force_destroy: bool
    eventbridge: bool = False
    kms_key_arn: pulumi.Input[str] | None = None
    expire_days: int | None = None
    log_sources: Mapping[str, PrivateBucket] = field(default_factory=dict)


class PrivateBucket(pulumi.ComponentResource):
    """One S3 bucket with everything that makes it private and safe.

    Creates the bucket, ownership controls (bucket owner enforced: no ACLs), a public
    access block with all four settings on, default encryption (SSE-S3, or SSE-KMS with
    the stack's key), versioning, a lifecycle rule expiring noncurrent versions (and,
    where asked, current objects) and aborting stale multipart uploads, a TLS-only bucket
    policy, and, where asked, EventBridge notifications. As the access-log bucket it
    also lets S3's log delivery write for its sources only, and turns on each source's
    server access logging into it (never its own: that would log its own deliveries).

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
            rules=[encryption_rule(args.kms_key_arn)],
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
                    expiration=(
                        aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.expire_days)
                        if args.expire_days is not None
                        else None
                    ),
                )
            ],
            # S3 rejects lifecycle rules on noncurrent versions until versioning is on.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        policy = tls_only_policy(bucket.arn)
        if args.log_sources:
            account_id = aws.get_caller_identity_output(
                opts=pulumi.InvokeOutputOptions(parent=self)
            ).account_id
            sources = [source.arn for source in args.log_sources.values()]
            policy["Statement"].append(log_delivery_statement(bucket.arn, sources, account_id))
        bucket_policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(policy),
            # Both change the bucket's policy state; S3 refuses them concurrently.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        for prefix, source in args.log_sources.items():
            aws.s3.BucketLogging(
                f"{name}-from-{prefix}",
                bucket=source.name,
                target_bucket=bucket.bucket,
                target_prefix=f"{prefix}/",
                # S3 checks at once that log delivery may write: the grant must exist.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket_policy]),
            )
        if args.eventbridge:
            aws.s3.BucketNotification(
                f"{name}-events", bucket=bucket.id, eventbridge=True, opts=child
            )
        self.name = bucket.bucket
        self.arn = bucket.arn
        self.register_outputs({"name": self.name, "arn": self.arn})
