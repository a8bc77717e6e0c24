"""The three Lambda functions, their layer, roles and log groups."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from functions.publish import sha256_file
from pipeline.config import Settings, function_environment
from pipeline.function_identity import IdentityArgs, function_identity
from pipeline.iam import upload_traces, write_own_logs
from pipeline.packaging import HANDLERS
from pipeline.queues import queue_encryption, tls_only_queue_policy

STAGES = tuple(HANDLERS)
RUNTIMES = {
    "3.12": aws.lambda_.Runtime.PYTHON3D12,
    "3.13": aws.lambda_.Runtime.PYTHON3D13,
}

# Actions that do not support resource-level permissions, so "*" is the only resource
# they can be granted on: the network interfaces Lambda manages for a function in a VPC
# (and X-Ray's trace upload, pipeline/iam.py).
VPC_NETWORK_INTERFACE_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
# Failed sweeps are kept two weeks (SQS's maximum) for an operator to look at; a sweep
# older than an hour is not retried, since the next one is due by then.
SWEEP_FAILURE_RETENTION_SECONDS = 14 * 24 * 60 * 60
SWEEP_MAX_EVENT_AGE_SECONDS = 60 * 60
SWEEP_RETRY_ATTEMPTS = 2


def stage_statements(
    stage: str,
    *,
    trigger_bucket_arn: Any,
    trigger_prefix: str,
    output_bucket_arn: Any,
    sweep_failure_queue_arn: Any = None,
    models_bucket_arn: Any = None,
) -> list[dict[str, Any]]:
    """Returns what only this stage may do on S3 (transform reads only the OCR models),
    and for compress, reporting a failed hourly sweep to its queue."""
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
            *(
                [
                    {
                        # Lambda sends a failed asynchronous invocation (the sweep) to its
                        # failure destination with the function's own role.
                        "Sid": "ReportFailedSweeps",
                        "Effect": "Allow",
                        "Action": ["sqs:SendMessage"],
                        "Resource": sweep_failure_queue_arn,
                    }
                ]
                if sweep_failure_queue_arn is not None
                else []
            ),
        ]
    if stage == "transform":
        if models_bucket_arn is None:
            return []
        return [
            {
                # The provision_models action copies the OCR models onto EFS.
                "Sid": "ReadOcrModels",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": pulumi.Output.concat(models_bucket_arn, "/models/*"),
            }
        ]
    raise ValueError(f"unknown stage {stage!r}")


def function_policy(
    log_group_arn: Any,
    *,
    file_system_arn: Any,
    access_point_arn: Any,
    stage_specific: list[dict[str, Any]],
) -> dict[str, Any]:
    """Returns a function's whole permission policy."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            write_own_logs(log_group_arn),
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
            upload_traces(),
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
        kms_key_arn: The stack's key (log groups, environment, sweep-failure queue), or
            ``None`` for AWS-managed encryption.
        models_bucket_arn: The bucket transform provisions the OCR models from.
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
    kms_key_arn: pulumi.Input[str] | None = None
    models_bucket_arn: pulumi.Input[str] | None = None


class Functions(pulumi.ComponentResource):
    """The ingest, transform and compress functions.

    Creates one layer version (third-party packages, for the configured architecture and
    runtime) and, per stage: an IAM role that only Lambda may assume, only for that
    function, with one inline least-privilege policy; a log group
    ``/aws/lambda/<name>`` with retention (and the stack's key); and the function itself,
    which runs the shared code archive in the private subnets, mounts the one access
    point at the mount path, logs JSON, is traced with X-Ray and has its reserved
    concurrency, memory, timeout and environment (encrypted with the stack's key) from
    the settings. Compress's asynchronous invocations (only the hourly sweep) retry
    twice and then go to an encrypted, TLS-only sweep-failure queue.

    Attributes:
        functions: The functions by stage (``ingest``, ``transform``, ``compress``).
        names: Function names by stage.
        arns: Function ARNs by stage.
        sweep_failure_queue_arn: Where failed sweeps end up.
        sweep_failure_queue_name: Its name.
    """

    functions: dict[str, aws.lambda_.Function]
    names: dict[str, pulumi.Output[str]]
    arns: dict[str, pulumi.Output[str]]
    sweep_failure_queue_arn: pulumi.Output[str]
    sweep_failure_queue_name: pulumi.Output[str]

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
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region
        sweep_failures = self._sweep_failure_queue(name, args.kms_key_arn)
        self.functions = {}
        for stage in STAGES:
            function_name = f"{name}-{stage}"
            granted = stage_statements(
                stage,
                trigger_bucket_arn=args.trigger_bucket_arn,
                trigger_prefix=settings.trigger_prefix,
                output_bucket_arn=args.output_bucket_arn,
                sweep_failure_queue_arn=sweep_failures.arn,
                models_bucket_arn=args.models_bucket_arn,
            )
            identity = function_identity(
                self,
                function_name,
                IdentityArgs(
                    role_description=f"docpipe {stage} function",
                    policy=functools.partial(
                        function_policy,
                        file_system_arn=args.file_system_arn,
                        access_point_arn=args.access_point_arn,
                        stage_specific=granted,
                    ),
                    account_id=account_id,
                    region=region,
                    log_retention_days=settings.log_retention_days,
                    kms_key_arn=args.kms_key_arn,
                ),
            )
            self.functions[stage] = aws.lambda_.Function(
                function_name,
                name=function_name,
                description=f"docpipe {stage} stage",
                role=identity.role.arn,
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
                kms_key_arn=args.kms_key_arn,
                logging_config=identity.logging_config,
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
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[identity.policy, *args.mount_targets]
                ),
            )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-compress-async",
            function_name=self.functions["compress"].name,
            maximum_retry_attempts=SWEEP_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=SWEEP_MAX_EVENT_AGE_SECONDS,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=sweep_failures.arn
                )
            ),
            opts=child,
        )
        self.names = {stage: fn.name for stage, fn in self.functions.items()}
        self.arns = {stage: fn.arn for stage, fn in self.functions.items()}
        self.sweep_failure_queue_arn = sweep_failures.arn
        self.sweep_failure_queue_name = sweep_failures.name
        self.register_outputs(
            {f"{stage}Name": fn_name for stage, fn_name in self.names.items()}
            | {f"{stage}Arn": arn for stage, arn in self.arns.items()}
            | {"sweepFailureQueueArn": self.sweep_failure_queue_arn}
        )

    def _sweep_failure_queue(
        self, name: str, kms_key_arn: pulumi.Input[str] | None
    ) -> aws.sqs.Queue:
        child = pulumi.ResourceOptions(parent=self)
        queue = aws.sqs.Queue(
            f"{name}-sweep-failures",
            message_retention_seconds=SWEEP_FAILURE_RETENTION_SECONDS,
            **queue_encryption(kms_key_arn),
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-sweep-failures-policy",
            queue_url=queue.url,
            policy=pulumi.Output.json_dumps(tls_only_queue_policy(queue.arn)),
            opts=child,
        )
        return queue
