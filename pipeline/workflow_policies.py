"""The policies of the workflow's roles and dead-letter queue: documents, no resources.

:mod:`pipeline.workflow` creates the resources; here is what each role may do. Every
statement names its resources, except the two services that grant on ``"*"`` only.
"""

from __future__ import annotations

from typing import Any

import pulumi

from pipeline.backfill import BackfillArns, backfill_policy
from pipeline.iam import XRAY_ACTIONS, invoke_the_pipeline_functions
from pipeline.queues import tls_only_queue_policy

# CloudWatch Logs' log delivery API, which Step Functions uses to write its logs, does not
# support resource-level permissions: "*" is the only resource it can be granted on.
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
# Step Functions' X-Ray integration also reads the sampling rules.
STATES_XRAY_ACTIONS = (*XRAY_ACTIONS, "xray:GetSamplingRules", "xray:GetSamplingTargets")


def deliver_logs_statement() -> dict[str, Any]:
    """Returns the grant a state machine needs to write its logs (on ``"*"``: the log
    delivery API has no resource-level permissions, see the constant)."""
    return {
        "Sid": "DeliverLogs",
        "Effect": "Allow",
        "Action": list(LOG_DELIVERY_ACTIONS),
        "Resource": "*",
    }


def invocable(function_arns: list[Any]) -> list[Any]:
    """The resources that let a role invoke these functions: each unqualified ARN and its
    versions and aliases (``:*``)."""
    return [
        arn
        for function_arn in function_arns
        for arn in (function_arn, pulumi.Output.concat(function_arn, ":*"))
    ]


def state_machine_policy(function_arns: list[Any]) -> dict[str, Any]:
    """Returns the state machine role's policy: invoke exactly these functions."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            invoke_the_pipeline_functions(invocable(function_arns)),
            deliver_logs_statement(),
            {
                # X-Ray's trace upload has no resource-level permissions either.
                "Sid": "UploadTraces",
                "Effect": "Allow",
                "Action": list(STATES_XRAY_ACTIONS),
                "Resource": "*",
            },
        ],
    }


def backfill_role_policy(
    arns: BackfillArns, kms_key_arn: pulumi.Input[str] | None, region: Any
) -> dict[str, Any]:
    """Returns the backfill role's policy: what the map run needs
    (:func:`pipeline.backfill.backfill_policy`), the stack's key for its results when
    there is one, and log delivery."""
    policy = backfill_policy(arns)
    if kms_key_arn is not None:
        # The map run writes its results into the output bucket, under the stack's key.
        policy["Statement"].append(
            {
                "Sid": "WriteResultsUnderTheStackKey",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": kms_key_arn,
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": pulumi.Output.concat("s3.", region, ".amazonaws.com")
                    }
                },
            }
        )
    policy["Statement"].append(deliver_logs_statement())
    return policy


def start_execution_policy(state_machine_arn: Any) -> dict[str, Any]:
    """Returns the trigger role's policy: start executions of this state machine only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StartThePipeline",
                "Effect": "Allow",
                "Action": ["states:StartExecution"],
                "Resource": state_machine_arn,
            }
        ],
    }


def dead_letter_queue_policy(queue_arn: Any, rule_arn: Any) -> dict[str, Any]:
    """Returns the DLQ's policy: only the trigger rule may send to it, and only over TLS."""
    return tls_only_queue_policy(
        queue_arn,
        {
            "Sid": "TriggerRuleDeadLetters",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        },
    )
