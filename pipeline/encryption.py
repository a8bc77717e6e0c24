"""The stack's customer-managed key, when ``kmsKey`` asks for one, and the policy it needs.

With ``kmsKey: aws-managed`` (the default) nothing is created and every resource keeps
the encryption AWS provides. With ``stack``, one key per stack is created here; with a key
ARN, that key is used and its policy is the owner's to maintain (README, "Security").
Either way the key encrypts the file system, the three buckets, every log group, both
queues, the alarm topic and the functions' environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from pipeline.bounds import KMS_AWS_MANAGED, KMS_STACK
from pipeline.config import Settings

KEY_DELETION_WINDOW_DAYS = 7
# Everything CloudWatch Logs does with a log group's key (its documented key policy).
LOGS_KEY_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)
# What a service writing to an encrypted queue or topic needs.
PRODUCER_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


def lambda_log_group(function_name: str) -> str:
    """Returns the log group a function logs to."""
    return f"/aws/lambda/{function_name}"


def states_log_group(name: str) -> str:
    """Returns the state machine's log group (the vendedlogs prefix keeps CloudWatch's
    resource policy for log deliveries small)."""
    return f"/aws/vendedlogs/states/{name}"


def api_access_log_group(name: str) -> str:
    """Returns the log group of an HTTP API stage's access logs."""
    return f"/aws/apigateway/{name}"


def flow_log_group(name: str) -> str:
    """Returns the log group of the stack's VPC flow logs."""
    return f"/aws/vpc/flow-logs/{name}"


def _service_statement(
    sid: str, service: Any, actions: tuple[str, ...], account_id: Any, source_arn: Any
) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": list(actions),
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": source_arn},
        },
    }


def account_administers_key(account_id: Any, partition: Any) -> dict[str, Any]:
    """Returns the standard key-policy statement that lets IAM policies in the account
    use and manage the key (without it the key could become unmanageable)."""
    return {
        "Sid": "AccountAdministersTheKey",
        "Effect": "Allow",
        "Principal": {
            "AWS": pulumi.Output.concat("arn:", partition, ":iam::", account_id, ":root")
        },
        "Action": "kms:*",
        "Resource": "*",
    }


def stack_key_policy(name: str, account_id: Any, region: Any, partition: Any) -> dict[str, Any]:
    """Returns the key policy of the stack's key: what each service may do, and for whom.

    In a key policy ``"Resource": "*"`` means this key. The account statement is the
    standard one that lets IAM policies in the account use and manage the key (without it
    the key could become unmanageable): the functions' roles, EFS, S3, SQS and Lambda
    reach the key through it, each role only for what its own policy grants. The
    services that act without a role of this stack are named one by one, each only on
    behalf of this stack's resources (their names all start with ``name``):

    * CloudWatch Logs, for the stack's log groups (encryption context condition);
    * CloudWatch alarms, publishing to the alarm topic;
    * EventBridge, sending undeliverable trigger events to the dead-letter queue;
    * S3 server access logging, writing into the access-log bucket.
    """

    def arn(service: str, resource: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            "arn:", partition, ":", service, ":", region, ":", account_id, ":", resource
        )

    log_groups = [
        arn("logs", f"log-group:{group}")
        for group in (
            lambda_log_group(f"{name}-*"),
            states_log_group(name),
            states_log_group(f"{name}-*"),
            api_access_log_group(f"{name}-*"),
            flow_log_group(name),
        )
    ]
    s3_buckets = pulumi.Output.concat("arn:", partition, ":s3:::", name, "-*")
    return {
        "Version": "2012-10-17",
        "Statement": [
            account_administers_key(account_id, partition),
            {
                "Sid": "CloudWatchLogsEncryptTheStacksLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": pulumi.Output.concat("logs.", region, ".amazonaws.com")},
                "Action": list(LOGS_KEY_ACTIONS),
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
            },
            _service_statement(
                "CloudWatchAlarmsPublish",
                "cloudwatch.amazonaws.com",
                PRODUCER_KEY_ACTIONS,
                account_id,
                arn("cloudwatch", f"alarm:{name}-*"),
            ),
            _service_statement(
                "EventBridgeDeadLetters",
                "events.amazonaws.com",
                PRODUCER_KEY_ACTIONS,
                account_id,
                arn("events", f"rule/{name}-*"),
            ),
            _service_statement(
                "S3ServerAccessLogDelivery",
                "logging.s3.amazonaws.com",
                ("kms:GenerateDataKey",),
                account_id,
                s3_buckets,
            ),
        ],
    }


def key_statements(
    granted: list[dict[str, Any]], *, kms_key_arn: Any, region: Any, function_name: Any
) -> list[dict[str, Any]]:
    """Returns what a function may do with the stack's key (nothing without one).

    Derived from what its role already grants, so that a new grant brings its key use:
    reading from S3 or an SQS queue needs ``kms:Decrypt``; writing to S3 or sending to SQS
    also needs ``kms:GenerateDataKey`` (and a multipart upload, ``kms:Decrypt``). The key is usable
    only through those services (``kms:ViaService``). Each function may also decrypt
    its own environment.

    Args:
        granted: The function's other statements.
        kms_key_arn: The stack's key, or ``None``.
        region: The stack's region (the services' names carry it).
        function_name: The function (its environment's encryption context).
    """
    if kms_key_arn is None:
        return []
    actions = {action for s in granted for action in _as_list(s["Action"])}
    reads = {
        a.split(":")[0] for a in actions if a.startswith("s3:Get") or a == "sqs:ReceiveMessage"
    }
    writes = {a.split(":")[0] for a in actions if a in ("s3:PutObject", "sqs:SendMessage")}
    services = sorted(writes | reads)
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DecryptOwnEnvironment",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": kms_key_arn,
            "Condition": {
                "StringEquals": {"kms:EncryptionContext:LambdaFunctionName": function_name}
            },
        }
    ]
    if services:
        statements.append(
            {
                "Sid": "UseTheKeyThroughItsServices",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", *(["kms:GenerateDataKey"] if writes else [])],
                "Resource": kms_key_arn,
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": [
                            pulumi.Output.concat(service, ".", region, ".amazonaws.com")
                            for service in services
                        ]
                    }
                },
            }
        )
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class EncryptionArgs:
    """Which key: the stack's settings (``kmsKey``)."""

    settings: Settings


class Encryption(pulumi.ComponentResource):
    """The stack's customer-managed key, if ``kmsKey`` asks for one.

    With ``kmsKey: stack`` creates a symmetric key with yearly rotation and the policy of
    :func:`stack_key_policy`, and the alias ``alias/<name>``. Creates nothing otherwise.

    Attributes:
        key_arn: The key every encrypted resource names, or ``None`` for AWS-managed
            encryption.
    """

    key_arn: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: EncryptionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("docpipe:index:Encryption", name, None, opts)
        mode = args.settings.kms_key
        if mode == KMS_AWS_MANAGED:
            self.key_arn = None
        elif mode == KMS_STACK:
            self.key_arn = self._create_key(name)
        else:
            self.key_arn = pulumi.Output.from_input(mode)
        self.register_outputs({"keyArn": self.key_arn})

    def _create_key(self, name: str) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region
        partition = aws.get_partition_output(opts=invoke).partition
        key = aws.kms.Key(
            f"{name}-key",
            description=f"docpipe stack {name}: file system, buckets, logs, queues, topic",
            enable_key_rotation=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            policy=pulumi.Output.json_dumps(stack_key_policy(name, account_id, region, partition)),
            opts=child,
        )
        aws.kms.Alias(f"{name}-key", name=f"alias/{name}", target_key_id=key.id, opts=child)
        return key.arn
