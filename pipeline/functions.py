"""The three Lambda functions, their layer, roles and log groups."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from functions.publish import sha256_file
from pipeline.config import Settings, function_environment
from pipeline.iam import assume_role_policy
from pipeline.packaging import HANDLERS

STAGES = tuple(HANDLERS)
RUNTIMES = {
    "3.12": aws.lambda_.Runtime.PYTHON3D12,
    "3.13": aws.lambda_.Runtime.PYTHON3D13,
}

# Actions that do not support resource-level permissions, so "*" is the only resource
# they can be granted on: the network interfaces Lambda manages for a function in a VPC,
# and X-Ray's trace upload.
VPC_NETWORK_INTERFACE_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


def stage_statements(
    stage: str,
    *,
    trigger_bucket_arn: Any,
    trigger_prefix: str,
    output_bucket_arn: Any,
) -> list[dict[str, Any]]:
    """Returns what only this stage may do on S3 (transform touches no bucket at all)."""
    sources = pulumi.Output.concat(trigger_bucket_arn, "/", trigger_prefix, "*")
    status = pulumi.Output.concat(output_bucket_arn, "/status/*")
    if stage == "ingest":
        return [
            {
                "Sid": "ReadSources",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": sources,
            },
            {
                # The key's status document: "processing" when work starts, written only
                # by the key's current version (docs/ARCHITECTURE.md, "Status per key").
                "Sid": "WriteStatus",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": status,
            },
        ]
    if stage == "compress":
        outputs = [
            pulumi.Output.concat(output_bucket_arn, "/processed/*"),
            pulumi.Output.concat(output_bucket_arn, "/failed/*"),
            status,
        ]
        return [
            {
                # HeadObject of the key's current version decides which version commits.
                "Sid": "ReadCurrentVersion",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": sources,
            },
            {
                # A commit writes its outputs and removes the key's stale ones.
                "Sid": "PublishResultsAndReports",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": outputs,
            },
            {
                # The status (read before a commit) and a retried compress's own manifest.
                "Sid": "ReadOwnOutputs",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": outputs,
            },
            {
                # A commit lists a bundle's member outputs to remove stale ones.
                "Sid": "ListOwnOutputs",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": output_bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": ["processed/*"]}},
            },
        ]
    if stage == "transform":
        return []
    raise ValueError(f"unknown stage {stage!r}")


def function_policy(
    *,
    log_group_arn: Any,
    file_system_arn: Any,
    access_point_arn: Any,
    stage_specific: list[dict[str, Any]],
) -> dict[str, Any]:
    """Returns a function's whole permission policy."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": pulumi.Output.concat(log_group_arn, ":log-stream:*"),
            },
            {
                "Sid": "UseTheWorkspace",
                "Effect": "Allow",
                "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                "Resource": file_system_arn,
                "Condition": {
                    "StringEquals": {"elasticfilesystem:AccessPointArn": access_point_arn}
                },
            },
            {
                # No resource-level permissions exist for these (see the constant).
                "Sid": "ManageVpcNetworkInterfaces",
                "Effect": "Allow",
                "Action": list(VPC_NETWORK_INTERFACE_ACTIONS),
                "Resource": "*",
            },
            {
                # No resource-level permissions exist for these (see the constant).
                "Sid": "UploadTraces",
                "Effect": "Allow",
                "Action": list(XRAY_ACTIONS),
                "Resource": "*",
            },
            *stage_specific,
        ],
    }


@dataclass(frozen=True)
class FunctionsArgs:
    """What the functions need from the rest of the stack.

    Attributes:
        settings: The stack's settings.
        subnet_ids: Private subnets the functions run in.
        security_group_id: The functions' security group.
        file_system_arn: The EFS file system.
        access_point_arn: The one access point every function mounts.
        mount_targets: Every mount target; a function must not exist before all do.
        trigger_bucket_arn: Where ingest reads sources.
        output_bucket_name: Where compress publishes (the functions' OUTPUT_BUCKET).
        output_bucket_arn: The output bucket's ARN.
        code_archive: The deterministic zip of ``functions/``.
        layer_archive: The zip of the third-party packages (``python/...``).
    """

    settings: Settings
    subnet_ids: list[pulumi.Output[str]]
    security_group_id: pulumi.Input[str]
    file_system_arn: pulumi.Input[str]
    access_point_arn: pulumi.Input[str]
    mount_targets: list[aws.efs.MountTarget]
    trigger_bucket_arn: pulumi.Input[str]
    output_bucket_name: pulumi.Input[str]
    output_bucket_arn: pulumi.Input[str]
    code_archive: Path
    layer_archive: Path


class Functions(pulumi.ComponentResource):
    """The ingest, transform and compress functions.

    Creates one layer version (third-party packages, for the configured architecture and
    runtime) and, per stage: an IAM role with one inline least-privilege policy, a log
    group ``/aws/lambda/<name>`` with retention, and the function itself, which runs the
    shared code archive in the private subnets, mounts the one access point at the mount
    path, logs JSON, is traced with X-Ray and has its reserved concurrency, memory,
    timeout and environment from the settings.

    Attributes:
        functions: The functions by stage (``ingest``, ``transform``, ``compress``).
        names: Function names by stage.
        arns: Function ARNs by stage.
    """

    functions: dict[str, aws.lambda_.Function]
    names: dict[str, pulumi.Output[str]]
    arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: FunctionsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("docpipe:index:Functions", name, None, opts)
        settings = args.settings
        runtime = RUNTIMES[settings.python_version]
        layer = aws.lambda_.LayerVersion(
            f"{name}-packages",
            layer_name=f"{name}-packages",
            description="pypdf, Pillow and pikepdf for the docpipe functions",
            code=pulumi.FileArchive(str(args.layer_archive)),
            source_code_hash=sha256_file(args.layer_archive),
            compatible_architectures=[settings.architecture],
            compatible_runtimes=[runtime],
            opts=pulumi.ResourceOptions(parent=self),
        )
        code = pulumi.FileArchive(str(args.code_archive))
        code_hash = sha256_file(args.code_archive)
        environment: dict[str, pulumi.Input[str]] = {
            **function_environment(settings, output_bucket=""),
            "OUTPUT_BUCKET": args.output_bucket_name,
        }
        self.functions = {}
        for stage in STAGES:
            function_name = f"{name}-{stage}"
            child = pulumi.ResourceOptions(parent=self)
            log_group = aws.cloudwatch.LogGroup(
                f"{name}-{stage}-logs",
                name=f"/aws/lambda/{function_name}",
                retention_in_days=settings.log_retention_days,
                opts=child,
            )
            role = aws.iam.Role(
                f"{name}-{stage}-role",
                description=f"docpipe {stage} function",
                assume_role_policy=pulumi.Output.json_dumps(
                    assume_role_policy("lambda.amazonaws.com")
                ),
                opts=child,
            )
            policy = aws.iam.RolePolicy(
                f"{name}-{stage}-policy",
                role=role.id,
                policy=pulumi.Output.json_dumps(
                    function_policy(
                        log_group_arn=log_group.arn,
                        file_system_arn=args.file_system_arn,
                        access_point_arn=args.access_point_arn,
                        stage_specific=stage_statements(
                            stage,
                            trigger_bucket_arn=args.trigger_bucket_arn,
                            trigger_prefix=settings.trigger_prefix,
                            output_bucket_arn=args.output_bucket_arn,
                        ),
                    )
                ),
                opts=child,
            )
            self.functions[stage] = aws.lambda_.Function(
                function_name,
                name=function_name,
                description=f"docpipe {stage} stage",
                role=role.arn,
                runtime=runtime,
                architectures=[settings.architecture],
                handler=HANDLERS[stage],
                code=code,
                source_code_hash=code_hash,
                layers=[layer.arn],
                memory_size=settings.memory_mb[stage],
                timeout=settings.function_timeout_seconds,
                reserved_concurrent_executions=settings.reserved_concurrency,
                environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
                logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                    log_format="JSON",
                    log_group=log_group.name,
                    application_log_level="INFO",
                    system_log_level="WARN",
                ),
                tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
                vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                    subnet_ids=args.subnet_ids,
                    security_group_ids=[args.security_group_id],
                ),
                file_system_config=aws.lambda_.FunctionFileSystemConfigArgs(
                    arn=args.access_point_arn,
                    local_mount_path=settings.mount_path,
                ),
                # Lambda checks the role's network-interface permissions when it creates a
                # function in a VPC, and the first mount fails unless every mount target
                # is available: both must exist before the function does.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, *args.mount_targets]),
            )
        self.names = {stage: fn.name for stage, fn in self.functions.items()}
        self.arns = {stage: fn.arn for stage, fn in self.functions.items()}
        self.register_outputs(
            {f"{stage}Name": fn_name for stage, fn_name in self.names.items()}
            | {f"{stage}Arn": arn for stage, arn in self.arns.items()}
        )
