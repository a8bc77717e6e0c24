"""What every docpipe queue shares: encryption and a TLS-only policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.iam import deny_without_tls

if TYPE_CHECKING:
    import pulumi


def tls_only_queue_policy(queue_arn: Any, *grants: dict[str, Any]) -> dict[str, Any]:
    """Returns a queue policy: the given grants, and no request without TLS.

    The wildcard action here only takes permissions away (a Deny).
    """
    return {
        "Version": "2012-10-17",
        "Statement": [*grants, deny_without_tls("sqs:*", queue_arn)],
    }


def queue_encryption(kms_key_arn: pulumi.Input[str] | None) -> dict[str, Any]:
    """Returns a queue's encryption arguments: the stack's key, or SQS-managed keys."""
    if kms_key_arn is None:
        return {"sqs_managed_sse_enabled": True}
    return {"kms_master_key_id": kms_key_arn}
