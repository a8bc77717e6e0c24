"""IAM documents that need no cloud SDK, shared by the Pulumi components and the local runner."""

from __future__ import annotations

from typing import Any

# X-Ray's trace upload has no resource-level permissions: "*" is its only resource.
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


def write_own_logs(log_group_arn: Any) -> dict[str, Any]:
    """The statement letting a function write to its own log group (the ARN may be a
    pulumi Output; pulumi is imported here only, so the local runner never loads it)."""
    import pulumi

    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": pulumi.Output.concat(log_group_arn, ":log-stream:*"),
    }


def invoke_the_pipeline_functions(resources: list[Any]) -> dict[str, Any]:
    """The statement letting a state machine run the pipeline's tasks: invoke exactly
    these functions (with their versions and aliases, ``pipeline.workflow_policies.invocable``)."""
    return {
        "Sid": "InvokeThePipelineFunctions",
        "Effect": "Allow",
        "Action": ["lambda:InvokeFunction"],
        "Resource": list(resources),
    }


def upload_traces() -> dict[str, Any]:
    """The statement letting a function upload X-Ray traces (on ``"*"``, see the constant)."""
    return {
        "Sid": "UploadTraces",
        "Effect": "Allow",
        "Action": list(XRAY_ACTIONS),
        "Resource": "*",
    }


def assume_role_policy(
    service: str, account_id: Any = None, source_arn: Any = None
) -> dict[str, Any]:
    """Returns a trust policy letting one AWS service assume a role.

    The deployed stack always passes both guards (the cross-service confused-deputy
    defence: the service may assume the role only on behalf of this account's resource);
    the local runner, whose moto IAM evaluates no conditions, passes neither.

    Args:
        service: The service principal, e.g. ``lambda.amazonaws.com``.
        account_id: When given, only on behalf of this account (``aws:SourceAccount``).
        source_arn: When given, only on behalf of the resource with this ARN, or an ARN
            pattern with ``*`` (``aws:SourceArn``, compared with ``ArnLike``).
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    condition: dict[str, Any] = {}
    if account_id is not None:
        condition["StringEquals"] = {"aws:SourceAccount": account_id}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def deny_without_tls(action: Any, resource: Any) -> dict[str, Any]:
    """Returns the statement that refuses ``action`` on ``resource`` to any request not
    made over TLS.

    Its wildcard principal (and a wildcard action) only takes permissions away: a Deny.
    """
    return {
        "Sid": "DenyWithoutTls",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": action,
        "Resource": resource,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
