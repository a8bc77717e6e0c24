"""The state machine, the S3 trigger that starts it (or queues uploads, see
:mod:`pipeline.uploads`), and the hourly workspace sweep."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from pipeline.backfill import BackfillArns, backfill_definition, backfill_name
from pipeline.config import Settings
from pipeline.definition import state_machine_definition
from pipeline.encryption import states_log_group
from pipeline.iam import assume_role_policy
from pipeline.queues import queue_encryption
from pipeline.trigger import INPUT_PATHS, INPUT_TEMPLATE, event_pattern
from pipeline.uploads_queue import QueuedUploads, QueuedUploadsArgs
from pipeline.workflow_policies import (
    backfill_role_policy,
    dead_letter_queue_policy,
    invocable,
    start_execution_policy,
    state_machine_policy,
)

# EventBridge keeps retrying a failed delivery this long / this often (its maximums)
# before it moves the event to the dead-letter queue.
TRIGGER_MAX_EVENT_AGE_SECONDS = 24 * 60 * 60
TRIGGER_MAX_RETRY_ATTEMPTS = 185
DLQ_RETENTION_SECONDS = 14 * 24 * 60 * 60
SWEEP_SCHEDULE = "rate(1 hour)"
SWEEP_INPUT = {"action": "sweep"}


@dataclass(frozen=True)
class WorkflowArgs:
    """What the workflow needs: settings, the functions, and the trigger bucket.

    Attributes:
        settings: The stack's settings.
        function_arns: ARNs of the ingest, transform and compress functions, by stage.
        compress_function_name: The compress function, invoked by the hourly sweep.
        trigger_bucket_name: The bucket whose new objects start executions.
        output_bucket_name: The bucket a backfill writes its results to.
        kms_key_arn: The stack's key (log group, dead-letter queue), or ``None``.
        code_archive: The functions' code archive, which the dispatch function of queued
            uploads runs (needed with ``uploads: queued``).
    """

    settings: Settings
    function_arns: dict[str, pulumi.Output[str]]
    compress_function_name: pulumi.Input[str]
    trigger_bucket_name: pulumi.Input[str]
    output_bucket_name: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None = None
    code_archive: Path | None = None


class Workflow(pulumi.ComponentResource):
    """Step Functions, the EventBridge trigger, and the hourly sweep.

    Creates: the state machine's log group, role and policy (invoke only the three
    functions), the STANDARD state machine (logging and X-Ray tracing on); the trigger
    rule on the trigger bucket's Object Created events, its target (input transformer,
    retry policy, dead-letter queue), the target's role (start this state machine only),
    the encrypted dead-letter queue and its policy; the hourly schedule rule that invokes
    compress with ``{"action": "sweep"}`` and the permission letting it do so; the
    backfill state machine (a Distributed Map over a prefix of the trigger bucket, see
    :mod:`pipeline.backfill`), its log group, role and policy. With ``uploads: queued``
    the rule's target is the uploads queue of a :class:`QueuedUploads` instead, and there
    is no target role.

    Attributes:
        state_machine_arn: The state machine's ARN.
        state_machine_name: The state machine's name.
        backfill_state_machine_arn: The backfill state machine's ARN.
        dead_letter_queue_arn: Events that could not start an execution end up here.
        dead_letter_queue_name: The dead-letter queue's name.
        uploads: The queued uploads (``uploads: queued``), else ``None``.
    """

    state_machine_arn: pulumi.Output[str]
    state_machine_name: pulumi.Output[str]
    backfill_state_machine_arn: pulumi.Output[str]
    dead_letter_queue_arn: pulumi.Output[str]
    dead_letter_queue_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: WorkflowArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("docpipe:index:Workflow", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region
        partition = aws.get_partition_output(opts=invoke).partition

        # The "/aws/vendedlogs/" prefix keeps CloudWatch's resource policy for log
        # deliveries within its size limit when many state machines log.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=states_log_group(name),
            retention_in_days=settings.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=child,
        )
        state_machine_arn = pulumi.Output.concat(
            "arn:", partition, ":states:", region, ":", account_id, ":stateMachine:", name
        )
        role = aws.iam.Role(
            f"{name}-role",
            description="docpipe state machine",
            assume_role_policy=pulumi.Output.json_dumps(
                assume_role_policy("states.amazonaws.com", account_id, state_machine_arn)
            ),
            opts=child,
        )
        arns = args.function_arns
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                state_machine_policy([arns["ingest"], arns["transform"], arns["compress"]])
            ),
            opts=child,
        )
        state_machine = aws.sfn.StateMachine(
            f"{name}-state-machine",
            name=name,
            type="STANDARD",
            role_arn=role.arn,
            definition=pulumi.Output.json_dumps(
                state_machine_definition(
                    arns["ingest"],
                    arns["transform"],
                    arns["compress"],
                    task_timeout_seconds=settings.task_timeout_seconds,
                    ocr_max_concurrency=settings.ocr_max_concurrency,
                    execution_timeout_seconds=settings.execution_timeout_seconds,
                )
            ),
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level="ALL",
                # Execution data holds object keys and extracted facts of documents; the
                # execution history keeps it for 90 days, the logs need not copy it.
                include_execution_data=False,
                log_destination=pulumi.Output.concat(log_group.arn, ":*"),
            ),
            tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
            # Step Functions validates the role's permissions when it creates the machine.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

        dead_letters = aws.sqs.Queue(
            f"{name}-trigger-dlq",
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            **queue_encryption(args.kms_key_arn),
            opts=child,
        )
        trigger_rule = aws.cloudwatch.EventRule(
            f"{name}-trigger",
            description="New objects in the docpipe trigger bucket start the pipeline",
            event_pattern=pulumi.Output.json_dumps(
                event_pattern(args.trigger_bucket_name, settings.trigger_prefix)
            ),
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-trigger-dlq-policy",
            queue_url=dead_letters.url,
            policy=pulumi.Output.json_dumps(
                dead_letter_queue_policy(dead_letters.arn, trigger_rule.arn)
            ),
            opts=child,
        )
        target: dict[str, Any] = {
            "input_transformer": aws.cloudwatch.EventTargetInputTransformerArgs(
                input_paths=INPUT_PATHS, input_template=INPUT_TEMPLATE
            ),
            "retry_policy": aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_event_age_in_seconds=TRIGGER_MAX_EVENT_AGE_SECONDS,
                maximum_retry_attempts=TRIGGER_MAX_RETRY_ATTEMPTS,
            ),
            "dead_letter_config": aws.cloudwatch.EventTargetDeadLetterConfigArgs(
                arn=dead_letters.arn
            ),
        }
        self.uploads: QueuedUploads | None = None
        if settings.uploads == "queued":
            if args.code_archive is None:
                raise ValueError("queued uploads need the code archive (WorkflowArgs.code_archive)")
            self.uploads = QueuedUploads(
                name,
                QueuedUploadsArgs(
                    settings=settings,
                    code_archive=args.code_archive,
                    pipeline=state_machine,
                    function_arns=arns,
                    rule_arn=trigger_rule.arn,
                    dead_letter_queue_arn=dead_letters.arn,
                    account_id=account_id,
                    region=region,
                    kms_key_arn=args.kms_key_arn,
                ),
                opts=child,
            )
            # The queue's policy lets the rule send; EventBridge needs no role for SQS.
            target["arn"] = self.uploads.queue_arn
        else:
            trigger_role = aws.iam.Role(
                f"{name}-trigger-role",
                description="docpipe trigger: start the pipeline",
                assume_role_policy=pulumi.Output.json_dumps(
                    assume_role_policy("events.amazonaws.com", account_id, trigger_rule.arn)
                ),
                opts=child,
            )
            aws.iam.RolePolicy(
                f"{name}-trigger-policy",
                role=trigger_role.id,
                policy=pulumi.Output.json_dumps(start_execution_policy(state_machine.arn)),
                opts=child,
            )
            target |= {"arn": state_machine.arn, "role_arn": trigger_role.arn}
        aws.cloudwatch.EventTarget(
            f"{name}-trigger-target", rule=trigger_rule.name, **target, opts=child
        )

        sweep_rule = aws.cloudwatch.EventRule(
            f"{name}-sweep",
            description="Hourly removal of orphaned docpipe workspaces",
            schedule_expression=SWEEP_SCHEDULE,
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-sweep-invoke",
            action="lambda:InvokeFunction",
            function=args.compress_function_name,
            principal="events.amazonaws.com",
            source_arn=sweep_rule.arn,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-sweep-target",
            rule=sweep_rule.name,
            arn=arns["compress"],
            input=json.dumps(SWEEP_INPUT),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )

        self.backfill_state_machine_arn = self._backfill(name, args, account_id, state_machine)
        self.state_machine_arn = state_machine.arn
        self.state_machine_name = state_machine.name
        self.dead_letter_queue_arn = dead_letters.arn
        self.dead_letter_queue_name = dead_letters.name
        self.register_outputs(
            {
                "stateMachineArn": self.state_machine_arn,
                "backfillStateMachineArn": self.backfill_state_machine_arn,
                "deadLetterQueueArn": self.dead_letter_queue_arn,
            }
        )

    def _backfill(
        self,
        name: str,
        args: WorkflowArgs,
        account_id: pulumi.Output[str],
        pipeline: aws.sfn.StateMachine,
    ) -> pulumi.Output[str]:
        """Creates the backfill state machine; returns its ARN."""
        child = pulumi.ResourceOptions(parent=self)
        machine_name = backfill_name(name)
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region

        def states_arn(
            kind: str, machine: pulumi.Input[str], suffix: str = ""
        ) -> pulumi.Output[str]:
            return pulumi.Output.concat(
                "arn:aws:states:", region, ":", account_id, f":{kind}:", machine, suffix
            )

        trigger_arn = pulumi.Output.concat("arn:aws:s3:::", args.trigger_bucket_name)
        functions = (
            args.function_arns["ingest"],
            args.function_arns["transform"],
            args.function_arns["compress"],
        )
        arns = BackfillArns(
            # Named, not taken from the machine: the role must exist before the machine.
            backfill=states_arn("stateMachine", machine_name),
            backfill_executions=states_arn("execution", machine_name, "/*"),
            pipeline=pipeline.arn,
            functions=invocable(list(functions)),
            trigger_bucket=trigger_arn,
            results=pulumi.Output.concat("arn:aws:s3:::", args.output_bucket_name, "/backfill/*"),
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-backfill-logs",
            name=states_log_group(machine_name),
            retention_in_days=args.settings.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-backfill-role",
            description="docpipe backfill: a Distributed Map over the trigger bucket",
            assume_role_policy=pulumi.Output.json_dumps(
                assume_role_policy("states.amazonaws.com", account_id, arns.backfill)
            ),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-backfill-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(backfill_role_policy(arns, args.kms_key_arn, region)),
            opts=child,
        )
        machine = aws.sfn.StateMachine(
            f"{name}-backfill-state-machine",
            name=machine_name,
            type="STANDARD",
            role_arn=role.arn,
            definition=pulumi.Output.json_dumps(
                backfill_definition(
                    pipeline.arn,
                    functions,
                    args.trigger_bucket_name,
                    args.output_bucket_name,
                    max_concurrency=args.settings.backfill_max_concurrency,
                    batch_size=args.settings.batch_size,
                    task_timeout_seconds=args.settings.task_timeout_seconds,
                    ocr_max_concurrency=args.settings.ocr_max_concurrency,
                )
            ),
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level="ERROR",
                include_execution_data=False,
                log_destination=pulumi.Output.concat(log_group.arn, ":*"),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        return machine.arn
