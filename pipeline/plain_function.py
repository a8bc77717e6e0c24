"""A function outside the VPC, without the file system or the layer: the HTTP API's and
the queued uploads' dispatch function (the README's Lambda.3 exceptions).

Each gets its identity (:mod:`pipeline.function_identity`: log group, role, one policy)
and the shared code archive with JSON logs and active tracing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from functions.publish import sha256_file
from pipeline.config import Settings
from pipeline.function_identity import IdentityArgs, function_identity
from pipeline.functions import RUNTIMES


@dataclass(frozen=True)
class PlainFunctionArgs:
    """One function outside the VPC.

    Attributes:
        settings: The stack's settings (runtime, architecture, log retention).
        code_archive: The shared code archive.
        handler: The handler in the archive.
        description: The function's description.
        role_description: Its role's description.
        memory_mb: Its memory.
        timeout_seconds: Its timeout.
        environment: Its environment variables.
        policy: Its permission policy, given its log group's ARN (the stack's key use is
            added to it).
        account_id: The stack's account.
        region: The stack's region.
        kms_key_arn: The stack's key (log group, environment), or ``None``.
    """

    settings: Settings
    code_archive: Path
    handler: str
    description: str
    role_description: str
    memory_mb: int
    timeout_seconds: int
    environment: Mapping[str, pulumi.Input[str]]
    policy: Callable[[pulumi.Output[str]], dict[str, Any]]
    account_id: pulumi.Input[str]
    region: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None = None


def plain_function(
    parent: pulumi.Resource, function_name: str, args: PlainFunctionArgs
) -> aws.lambda_.Function:
    """Creates the function ``function_name`` with its log group, role and policy under
    ``parent`` (logical names ``<function_name>-logs``, ``-role`` and ``-policy``)."""
    settings = args.settings
    identity = function_identity(
        parent,
        function_name,
        IdentityArgs(
            role_description=args.role_description,
            policy=args.policy,
            account_id=args.account_id,
            region=args.region,
            log_retention_days=settings.log_retention_days,
            kms_key_arn=args.kms_key_arn,
        ),
    )
    return aws.lambda_.Function(
        function_name,
        name=function_name,
        description=args.description,
        role=identity.role.arn,
        runtime=RUNTIMES[settings.python_version],
        architectures=[settings.architecture],
        handler=args.handler,
        code=pulumi.FileArchive(str(args.code_archive)),
        source_code_hash=sha256_file(args.code_archive),
        memory_size=args.memory_mb,
        timeout=args.timeout_seconds,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(args.environment)),
        kms_key_arn=args.kms_key_arn,
        logging_config=identity.logging_config,
        tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[identity.policy]),
    )
