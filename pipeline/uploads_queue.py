"""The resources of queued uploads (``uploads: queued``); :mod:`pipeline.uploads` has
the definition and the policies, docs/ARCHITECTURE.md ("Bursts and backfill") the why."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from functions.dispatch import PIPELINE_STATE_MACHINE, UPLOADS_STATE_MACHINE
from pipeline.config import Settings
from pipeline.encryption import states_log_group
from pipeline.iam import assume_role_policy
from pipeline.plain_function import PlainFunctionArgs, plain_function
from pipeline.queues import queue_encryption
from pipeline.uploads import (
    BATCHING_WINDOW_SECONDS,
    DISPATCH_HANDLER,
    DISPATCH_MEMORY_MB,
    DISPATCH_TIMEOUT_SECONDS,
    MAX_RECEIVE_COUNT,
    VISIBILITY_TIMEOUT_SECONDS,
    UploadsArns,
    batches_at_once,
    dispatch_policy,
    uploads_definition,
    uploads_name,
    uploads_policy,
    uploads_queue_policy,
)
from pipeline.workflow_policies import STATES_XRAY_ACTIONS, deliver_logs_statement, invocable

#: Messages wait at most this long in the queue: a burst drains well within it, and the
#: dead-letter queue (14 days) keeps a message moved to it for ten days more.
QUEUE_RETENTION_SECONDS = 4 * 24 * 60 * 60


@dataclass(frozen=True)
class QueuedUploadsArgs:
    """What queued uploads need from the rest of the stack.

    Attributes:
        settings: The stack's settings.
        code_archive: The functions' code archive (the dispatch function runs it too).
        pipeline: The pipeline state machine.
        function_arns: ARNs of the ingest, transform and compress functions, by stage.
        rule_arn: The trigger rule, the only sender to the queue.
        dead_letter_queue_arn: Where a message goes after its last delivery.
        account_id: The stack's account.
        region: The stack's region.
        kms_key_arn: The stack's key, or ``None``.
    """

    settings: Settings
    code_archive: Path
    pipeline: aws.sfn.StateMachine
    function_arns: dict[str, pulumi.Output[str]]
    rule_arn: pulumi.Input[str]
    dead_letter_queue_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]
    region: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None = None


class QueuedUploads(pulumi.ComponentResource):
    """The uploads queue, its consumer, and the Express machine that runs its batches.

    Creates: the encrypted uploads queue (redrive to the dead-letter queue after
    :data:`~pipeline.uploads.MAX_RECEIVE_COUNT` deliveries) and its policy (the trigger
    rule sends, TLS only); the EXPRESS uploads state machine with its log group, role
    and policy; the ``dispatch`` function (the shared code archive, outside the VPC, no
    EFS, no layer) with its role, policy and log group; and the event source mapping that
    feeds it batches of ``batchSize`` messages, at most
    :func:`~pipeline.uploads.batches_at_once` at a time.

    Attributes:
        queue_arn: The uploads queue (the trigger rule's target).
        queue_name: Its name.
        state_machine_arn: The uploads state machine.
        function_name: The dispatch function.
    """

    queue_arn: pulumi.Output[str]
    queue_name: pulumi.Output[str]
    state_machine_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: QueuedUploadsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("docpipe:index:QueuedUploads", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        machine_name = uploads_name(name)
        function_name = f"{name}-dispatch"
        queue = aws.sqs.Queue(
            f"{name}-uploads",
            visibility_timeout_seconds=VISIBILITY_TIMEOUT_SECONDS,
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            redrive_policy=pulumi.Output.json_dumps(
                {
                    "deadLetterTargetArn": args.dead_letter_queue_arn,
                    "maxReceiveCount": MAX_RECEIVE_COUNT,
                }
            ),
            **queue_encryption(args.kms_key_arn),
            opts=child,
        )
        arns = UploadsArns(
            queue=queue.arn,
            rule=args.rule_arn,
            # Named, not taken from the machine: its role must exist before it.
            uploads=pulumi.Output.concat(
                "arn:aws:states:", args.region, ":", args.account_id, ":stateMachine:", machine_name
            ),
            pipeline=args.pipeline.arn,
            functions=invocable(
                [args.function_arns[stage] for stage in ("ingest", "transform", "compress")]
            ),
        )
        aws.sqs.QueuePolicy(
            f"{name}-uploads-policy",
            queue_url=queue.url,
            policy=pulumi.Output.json_dumps(uploads_queue_policy(arns)),
            opts=child,
        )
        machine = self._state_machine(name, args, arns)
        function = plain_function(
            self,
            function_name,
            PlainFunctionArgs(
                settings=settings,
                code_archive=args.code_archive,
                handler=DISPATCH_HANDLER,
                description="docpipe dispatch: a batch of queued uploads, one Express execution",
                role_description="docpipe dispatch: run queued uploads in Express batches",
                memory_mb=DISPATCH_MEMORY_MB,
                timeout_seconds=DISPATCH_TIMEOUT_SECONDS,
                environment={
                    UPLOADS_STATE_MACHINE: machine.arn,
                    PIPELINE_STATE_MACHINE: args.pipeline.arn,
                },
                policy=lambda log_group_arn: dispatch_policy(arns, log_group_arn),
                account_id=args.account_id,
                region=args.region,
                kms_key_arn=args.kms_key_arn,
            ),
        )
        aws.lambda_.EventSourceMapping(
            f"{name}-uploads-mapping",
            event_source_arn=queue.arn,
            function_name=function.arn,
            batch_size=settings.batch_size,
            maximum_batching_window_in_seconds=BATCHING_WINDOW_SECONDS,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=batches_at_once(settings.uploads_max_concurrency)
            ),
            # The mapping polls with the function's role, which the function depends on.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[function]),
        )
        self.queue_arn = queue.arn
        self.queue_name = queue.name
        self.state_machine_arn = machine.arn
        self.function_name = function.name
        self.register_outputs({"uploadsQueueArn": queue.arn, "uploadsStateMachineArn": machine.arn})

    def _state_machine(
        self, name: str, args: QueuedUploadsArgs, arns: UploadsArns
    ) -> aws.sfn.StateMachine:
        """Creates the EXPRESS uploads state machine, its log group, role and policy."""
        child = pulumi.ResourceOptions(parent=self)
        machine_name = uploads_name(name)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-uploads-logs",
            name=states_log_group(machine_name),
            retention_in_days=args.settings.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-uploads-role",
            description="docpipe uploads: run a batch of queued uploads",
            assume_role_policy=pulumi.Output.json_dumps(
                assume_role_policy("states.amazonaws.com", args.account_id, arns.uploads)
            ),
            opts=child,
        )
        policy = uploads_policy(arns)
        policy["Statement"] += [
            deliver_logs_statement(),
            {
                # X-Ray's trace upload has no resource-level permissions.
                "Sid": "UploadTraces",
                "Effect": "Allow",
                "Action": list(STATES_XRAY_ACTIONS),
                "Resource": "*",
            },
        ]
        role_policy = aws.iam.RolePolicy(
            f"{name}-uploads-role-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(policy),
            opts=child,
        )
        functions = tuple(
            args.function_arns[stage] for stage in ("ingest", "transform", "compress")
        )
        return aws.sfn.StateMachine(
            f"{name}-uploads-state-machine",
            name=machine_name,
            type="EXPRESS",
            role_arn=role.arn,
            definition=pulumi.Output.json_dumps(
                uploads_definition(
                    args.pipeline.arn,
                    (functions[0], functions[1], functions[2]),
                    task_timeout_seconds=args.settings.task_timeout_seconds,
                    ocr_max_concurrency=args.settings.ocr_max_concurrency,
                )
            ),
            # Express keeps no history: its logs are where a failed batch is read.
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level="ERROR",
                include_execution_data=False,
                log_destination=pulumi.Output.concat(log_group.arn, ":*"),
            ),
            tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
