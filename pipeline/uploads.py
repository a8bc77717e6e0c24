"""Queued uploads (``uploads: queued``): new objects wait in a queue and run in batches.

docs/ARCHITECTURE.md, "Bursts and backfill", says why; the path of one upload::

    trigger rule (same pattern and input transformer) -> uploads queue (SQS)
      -> event source mapping (batches of batchSize, MaximumConcurrency batches at once)
      -> dispatch function (functions/dispatch.py): StartSyncExecution
      -> uploads state machine (EXPRESS): the documents of the batch, two at a time,
         through the pipeline's own states (:func:`pipeline.backfill.batch_processor`)

A burst waits in the queue, where waiting costs nothing, instead of in throttled
retries; a batch costs one Express request and its duration instead of a STANDARD
execution's state transitions per document. Each document's job id is
``upload-<message id>-<delivery>`` (:mod:`functions.dispatch`); objects too large for
Express's five minutes are handed to the STANDARD pipeline state machine, as in a
backfill, and a message delivered again runs alone in one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pipeline.backfill import SIDE_BY_SIDE, batch_processor
from pipeline.iam import invoke_the_pipeline_functions, upload_traces, write_own_logs
from pipeline.queues import tls_only_queue_policy

#: The dispatch function's handler in the code archive.
DISPATCH_HANDLER = "functions.dispatch.handler"
#: Express executions end after five minutes; the dispatch function waits for its batch.
DISPATCH_TIMEOUT_SECONDS = 330
DISPATCH_MEMORY_MB = 128
#: A message comes back this long after a delivery that did not finish. Lambda asks for
#: six times the function's timeout, so that a throttled batch is not delivered again
#: while it may still run.
VISIBILITY_TIMEOUT_SECONDS = 6 * DISPATCH_TIMEOUT_SECONDS
#: Deliveries of one message before it moves to the dead-letter queue.
MAX_RECEIVE_COUNT = 5
#: How long the event source mapping gathers messages into a batch (a batch over ten
#: messages needs a window).
BATCHING_WINDOW_SECONDS = 1
#: An event source mapping runs at least two batches at once.
MIN_BATCHES = 2


def uploads_name(pipeline_name: str) -> str:
    """Returns the uploads state machine's name for the pipeline's state machine."""
    return f"{pipeline_name}-uploads"


def batches_at_once(max_concurrency: int) -> int:
    """The event source mapping's ``MaximumConcurrency`` for ``uploadsMaxConcurrency``."""
    return max(MIN_BATCHES, math.ceil(max_concurrency / SIDE_BY_SIDE))


def uploads_definition(
    pipeline_arn: Any,
    functions: tuple[Any, Any, Any],
    *,
    task_timeout_seconds: int = 960,
    ocr_max_concurrency: int = 10,
) -> dict[str, Any]:
    """Returns the uploads state machine's definition (EXPRESS).

    Args:
        pipeline_arn: The pipeline state machine (objects too large for a batch).
        functions: The ingest, transform and compress function ARNs.
        task_timeout_seconds: Upper bound of one task attempt, as in the pipeline.
        ocr_max_concurrency: Most page ranges of one document OCR'd at once.

    The input is ``{"Items": [{"input": execution input, "job": job id}, ...]}``, as
    :func:`functions.dispatch.batch_of` makes it.
    """
    return {
        "Comment": "docpipe queued uploads: one batch of new objects, two at a time",
        "StartAt": "Documents",
        "States": {
            "Documents": {
                "Type": "Map",
                "ItemsPath": "$.Items",
                "MaxConcurrency": SIDE_BY_SIDE,
                "ItemSelector": {
                    "input.$": "$$.Map.Item.Value.input",
                    "job.$": "$$.Map.Item.Value.job",
                },
                "ItemProcessor": batch_processor(
                    pipeline_arn,
                    functions,
                    task_timeout_seconds=task_timeout_seconds,
                    ocr_max_concurrency=ocr_max_concurrency,
                ),
                "End": True,
            }
        },
    }


@dataclass(frozen=True)
class UploadsArns:
    """The ARNs the queued uploads' policies name (strings or pulumi Outputs).

    Attributes:
        queue: The uploads queue.
        rule: The trigger rule, the only sender to the queue.
        uploads: The uploads state machine.
        pipeline: The pipeline state machine (objects too large for a batch).
        functions: The three functions and their versions and aliases.
    """

    queue: Any
    rule: Any
    uploads: Any
    pipeline: Any
    functions: list[Any]


def uploads_queue_policy(arns: UploadsArns) -> dict[str, Any]:
    """Returns the uploads queue's policy: only the trigger rule sends, only over TLS."""
    return tls_only_queue_policy(
        arns.queue,
        {
            "Sid": "TriggerRuleSendsUploads",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arns.queue,
            "Condition": {"ArnEquals": {"aws:SourceArn": arns.rule}},
        },
    )


def dispatch_policy(arns: UploadsArns, log_group_arn: Any) -> dict[str, Any]:
    """Returns the dispatch function's policy: read the queue, run batches, start the
    pipeline for a message delivered again, write logs and traces (the stack's key use is
    added from these, see :mod:`pipeline.plain_function`). The event source mapping reads
    and deletes messages with the function's role.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            write_own_logs(log_group_arn),
            upload_traces(),
            {
                "Sid": "ReadTheUploadsQueue",
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
                "Resource": arns.queue,
            },
            {
                "Sid": "RunBatches",
                "Effect": "Allow",
                "Action": ["states:StartSyncExecution"],
                "Resource": arns.uploads,
            },
            {
                # A message delivered again runs alone, without Express's time limit.
                "Sid": "StartThePipeline",
                "Effect": "Allow",
                "Action": ["states:StartExecution"],
                "Resource": arns.pipeline,
            },
        ],
    }


def uploads_policy(arns: UploadsArns) -> dict[str, Any]:
    """Returns the uploads state machine role's policy (log delivery is added with it).

    A batch runs the pipeline's states under this role and hands objects too large for
    Express to the pipeline state machine.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            invoke_the_pipeline_functions(arns.functions),
            {
                "Sid": "StartThePipeline",
                "Effect": "Allow",
                "Action": ["states:StartExecution"],
                "Resource": [arns.pipeline],
            },
        ],
    }
