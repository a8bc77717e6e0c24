"""IAM documents that need no cloud SDK, shared by the Pulumi components and the local runner."""

from __future__ import annotations

from typing import Any


def assume_role_policy(service: str, account_id: Any = None) -> dict[str, Any]:
    """Returns a trust policy letting one AWS service assume a role.

    Args:
        service: The service principal, e.g. ``lambda.amazonaws.com``.
        account_id: When given, only on behalf of this account (confused-deputy guard).
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if account_id is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}
