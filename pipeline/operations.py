"""Alarms that tell an operator something needs attention, and where they go."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from functions.logs import DOCUMENTS_METRIC, METRICS_NAMESPACE
from pipeline import monitoring
from pipeline.config import Settings
from pipeline.encryption import account_administers_key

FIVE_MINUTES = 300
GIB = 1024**3
# EFS publishes StorageBytes about every 15 minutes; an hour smooths it out.
STORAGE_PERIOD_SECONDS = 3600


def alarm_key_policy(account_id: Any, partition: Any = "aws") -> dict[str, Any]:
    """Returns the alarm topic key's policy.

    In a key policy, ``"Resource": "*"`` means this key and nothing else. The account's
    root statement is the standard one that lets IAM policies in the account manage the
    key (without it the key could become unmanageable); CloudWatch may only encrypt and
    decrypt, and only for this account's alarms. The AWS-managed ``aws/sns`` key would
    not do: its policy cannot let CloudWatch publish to the topic.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            account_administers_key(account_id, partition),
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
        ],
    }


@dataclass(frozen=True)
class OperationsArgs:
    """What is watched.

    Attributes:
        settings: The stack's settings (alarm e-mail, storage threshold).
        state_machine_arn: The pipeline's state machine.
        function_names: The functions by stage.
        file_system_id: The EFS workspace.
        dead_letter_queue_name: The trigger's dead-letter queue.
        sweep_failure_queue_name: Where hourly sweeps that failed after Lambda's retries go.
        uploads_queue_name: With queued uploads, the queue they wait in (on the dashboard).
        kms_key_arn: The stack's key for the topic; ``None`` creates a key for the topic
            alone (the AWS-managed ``aws/sns`` key cannot let CloudWatch publish).
    """

    settings: Settings
    state_machine_arn: pulumi.Input[str]
    function_names: dict[str, pulumi.Output[str]]
    file_system_id: pulumi.Input[str]
    dead_letter_queue_name: pulumi.Input[str]
    sweep_failure_queue_name: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None = None
    uploads_queue_name: pulumi.Input[str] | None = None


class Operations(pulumi.ComponentResource):
    """Alarms to an encrypted SNS topic, with an optional e-mail subscription.

    Creates a KMS key (and alias) for the topic, the topic, an e-mail subscription when
    ``alarmEmail`` is set, and alarms on what an operator must act on, never on a user's
    bad document: documents failed with a paged code (``INTERNAL_ERROR``,
    ``PROCESSING_TIMEOUT``, ``INFRASTRUCTURE_UNAVAILABLE``; from the functions' EMF
    metrics, see :mod:`pipeline.monitoring`); timed-out executions; each function's
    throttles; the file system holding more than ``efsStorageAlarmGib`` (a sign that
    workspaces are not being removed); events in the trigger's dead-letter queue. Every
    alarm notifies the topic when it fires and when it clears. Also creates a CloudWatch
    dashboard of the document metrics, throttles, dead letters and alarms.

    Attributes:
        topic_arn: The alarm topic.
        alarm_names: The alarms' names.
        dashboard_url: The dashboard's console URL.
    """

    topic_arn: pulumi.Output[str]
    alarm_names: list[pulumi.Output[str]]
    dashboard_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: OperationsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("docpipe:index:Operations", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition

        topic_key = args.kms_key_arn
        if topic_key is None:
            key = aws.kms.Key(
                f"{name}-alarms-key",
                description="docpipe alarm topic",
                enable_key_rotation=True,
                deletion_window_in_days=7,
                policy=pulumi.Output.json_dumps(alarm_key_policy(account_id, partition)),
                opts=child,
            )
            aws.kms.Alias(
                f"{name}-alarms-key", name=f"alias/{name}-alarms", target_key_id=key.id, opts=child
            )
            topic_key = key.arn
        topic = aws.sns.Topic(f"{name}-alarms", kms_master_key_id=topic_key, opts=child)
        if settings.alarm_email:
            aws.sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=topic.arn,
                protocol="email",
                endpoint=settings.alarm_email,
                opts=child,
            )

        def alarm(
            suffix: str,
            description: str,
            *,
            namespace: str,
            metric: str,
            dimensions: dict[str, pulumi.Input[str]],
            threshold: float,
            statistic: str = "Sum",
            period: int = FIVE_MINUTES,
        ) -> aws.cloudwatch.MetricAlarm:
            return aws.cloudwatch.MetricAlarm(
                f"{name}-{suffix}",
                alarm_description=description,
                namespace=namespace,
                metric_name=metric,
                dimensions=dimensions,
                statistic=statistic,
                period=period,
                evaluation_periods=1,
                threshold=threshold,
                comparison_operator="GreaterThanOrEqualToThreshold",
                # No data means nothing ran, which is not a problem.
                treat_missing_data="notBreaching",
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                opts=child,
            )

        machine = {"StateMachineArn": args.state_machine_arn}
        alarms = [
            alarm(
                f"documents-{code.lower().replace('_', '-')}",
                description,
                namespace=METRICS_NAMESPACE,
                metric=DOCUMENTS_METRIC,
                dimensions={"ErrorCode": code},
                threshold=1,
            )
            for code, description in monitoring.PAGED_CODES.items()
        ]
        alarms += [
            alarm(
                "executions-timed-out",
                "A pipeline execution timed out",
                namespace="AWS/States",
                metric="ExecutionsTimedOut",
                dimensions=machine,
                threshold=1,
            ),
        ]
        for stage, function_name in args.function_names.items():
            dimensions: dict[str, pulumi.Input[str]] = {"FunctionName": function_name}
            alarms.append(
                alarm(
                    f"{stage}-throttles",
                    f"The {stage} function was throttled (reserved concurrency reached)",
                    namespace="AWS/Lambda",
                    metric="Throttles",
                    dimensions=dimensions,
                    threshold=1,
                )
            )
        alarms.append(
            alarm(
                "efs-storage",
                "The workspace file system grew beyond its threshold: are workspaces swept?",
                namespace="AWS/EFS",
                metric="StorageBytes",
                dimensions={"FileSystemId": args.file_system_id, "StorageClass": "Total"},
                threshold=settings.efs_storage_alarm_gib * GIB,
                statistic="Maximum",
                period=STORAGE_PERIOD_SECONDS,
            )
        )
        alarms.append(
            alarm(
                "trigger-dead-letters",
                "An upload could not start the pipeline (or, queued, did not finish in five "
                "deliveries); it is in the dead-letter queue",
                namespace="AWS/SQS",
                metric="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": args.dead_letter_queue_name},
                threshold=1,
                statistic="Maximum",
            )
        )
        alarms.append(
            alarm(
                "sweep-failures",
                "The hourly workspace sweep failed after Lambda's retries; orphaned "
                "workspaces stay on the file system until a sweep succeeds",
                namespace="AWS/SQS",
                metric="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": args.sweep_failure_queue_name},
                threshold=1,
                statistic="Maximum",
            )
        )
        region = aws.get_region_output(opts=invoke).region
        body = monitoring.dashboard_body(
            region,
            args.function_names,
            args.state_machine_arn,
            args.dead_letter_queue_name,
            [a.arn for a in alarms],
            args.uploads_queue_name,
        )
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=name,
            dashboard_body=pulumi.Output.json_dumps(body),
            opts=child,
        )
        self.topic_arn = topic.arn
        self.alarm_names = [a.name for a in alarms]
        self.dashboard_url = pulumi.Output.all(region, dashboard.dashboard_name).apply(
            lambda values: monitoring.dashboard_url(values[0], values[1])
        )
        self.register_outputs(
            {
                "topicArn": self.topic_arn,
                "alarmNames": self.alarm_names,
                "dashboardUrl": self.dashboard_url,
            }
        )
