"""What every docpipe function has besides its code: a log group, a role, one policy.

The stage functions (:mod:`pipeline.functions`) and the functions outside the VPC
(:mod:`pipeline.plain_function`) get them here, so that each role is made one way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from pipeline.encryption import key_statements, lambda_log_group
from pipeline.iam import assume_role_policy


@dataclass(frozen=True)
class FunctionIdentity:
    """A function's log group, role and policy."""

    log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    policy: aws.iam.RolePolicy

    @property
    def logging_config(self) -> aws.lambda_.FunctionLoggingConfigArgs:
        """JSON logs into the function's own log group."""
        return aws.lambda_.FunctionLoggingConfigArgs(
            log_format="JSON",
            log_group=self.log_group.name,
            application_log_level="INFO",
            system_log_level="WARN",
        )


@dataclass(frozen=True)
class IdentityArgs:
    """What a function's identity is made from.

    Attributes:
        role_description: The role's description.
        policy: The role's policy, given the log group's ARN; what the function may do
            with the stack's key is derived from it and added at its end.
        account_id: The stack's account (the role's trust is tied to it).
        region: The stack's region.
        log_retention_days: The log group's retention.
        kms_key_arn: The stack's key (log group, key use), or ``None``.
    """

    role_description: str
    policy: Callable[[pulumi.Output[str]], dict[str, Any]]
    account_id: pulumi.Input[str]
    region: pulumi.Input[str]
    log_retention_days: int
    kms_key_arn: pulumi.Input[str] | None = None


def function_identity(
    parent: pulumi.Resource, function_name: str, args: IdentityArgs
) -> FunctionIdentity:
    """Creates the log group, role and policy of ``function_name`` under ``parent``
    (logical names ``<function_name>-logs``, ``-role`` and ``-policy``)."""
    child = pulumi.ResourceOptions(parent=parent)
    log_group = aws.cloudwatch.LogGroup(
        f"{function_name}-logs",
        name=lambda_log_group(function_name),
        retention_in_days=args.log_retention_days,
        kms_key_id=args.kms_key_arn,
        opts=child,
    )
    # Lambda documents aws:SourceAccount for execution roles but not aws:SourceArn (it
    # checks the trust when the function does not exist yet), so the role is tied to
    # this account only: only Lambda, only on its behalf (confused-deputy guard).
    role = aws.iam.Role(
        f"{function_name}-role",
        description=args.role_description,
        assume_role_policy=pulumi.Output.json_dumps(
            assume_role_policy("lambda.amazonaws.com", args.account_id)
        ),
        opts=child,
    )
    document = args.policy(log_group.arn)
    statements = list(document["Statement"])
    statements += key_statements(
        statements, kms_key_arn=args.kms_key_arn, region=args.region, function_name=function_name
    )
    policy = aws.iam.RolePolicy(
        f"{function_name}-policy",
        role=role.id,
        policy=pulumi.Output.json_dumps({**document, "Statement": statements}),
        opts=child,
    )
    return FunctionIdentity(log_group, role, policy)
