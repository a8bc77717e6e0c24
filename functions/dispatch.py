"""The uploads queue's consumer: a batch of new objects becomes one Express execution.

With ``uploads: queued`` (docs/ARCHITECTURE.md, "Bursts and backfill") the trigger rule
sends each new object's execution input to the uploads queue instead of starting a
pipeline execution. A Lambda event source mapping reads the queue in batches and invokes
this function with at most ``uploadsMaxConcurrency / 2`` batches in flight; the rest of
a burst waits in the queue, where waiting costs nothing. This function runs its batch
synchronously on the uploads state machine (EXPRESS: the pipeline's own states, two
documents at a time, each with its report when it fails) and tells the mapping which
messages to deliver again.

Each delivery of a message is its own job, ``upload-<message id>-<delivery>`` (the
delivery named after the receipt, which is new each time): SQS may deliver a message
twice at once, and two jobs of one version are kept apart by ingest's claim (one runs,
the other ends as a duplicate), where one job run twice would share a workspace. A job
inside an Express execution claims its version for six minutes only, so a delivery that
comes back after a batch was cut short takes the version over.

A batch that did not run to its end (Express's five minutes, an API error) comes back
after the queue's visibility timeout. A message delivered again does not go into a
batch: it starts its own STANDARD pipeline execution (named after the job), which has no
five-minute limit, so a document too slow for a batch is processed and not retried into
the dead-letter queue. After ``maxReceiveCount`` deliveries a message moves to the
dead-letter queue, whose alarm pages the operator; a message that is not an execution
input goes there too, without running (only the trigger rule may send to the queue, so
one would be a defect).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.logs import configure

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

#: The environment variable naming the uploads state machine.
UPLOADS_STATE_MACHINE = "UPLOADS_STATE_MACHINE_ARN"
#: The environment variable naming the pipeline state machine (messages delivered again).
PIPELINE_STATE_MACHINE = "STATE_MACHINE_ARN"
#: Prefix of a queued document's job id (its message id and delivery follow).
JOB_PREFIX = "upload-"
#: The execution input fields a message must carry (``pipeline.trigger.INPUT_TEMPLATE``).
REQUIRED_FIELDS = ("bucket", "key")


@dataclass(frozen=True)
class Batch:
    """A batch of queue messages, sorted by how each is run.

    Attributes:
        items: One ``{"input": execution input, "job": job id}`` per message delivered
            for the first time, to run together in an Express batch.
        ids: The message ids of ``items``, in order.
        again: ``(message id, item)`` for each message delivered again, to run alone.
        unreadable: Message ids whose body is not an execution input.
    """

    items: list[dict[str, Any]]
    ids: list[str]
    again: list[tuple[str, dict[str, Any]]]
    unreadable: list[str]


def job_id(record: Mapping[str, Any]) -> str:
    """The job of one delivery of a message: its id and a digest of the receipt."""
    receipt = str(record.get("receiptHandle", ""))
    delivery = hashlib.sha256(receipt.encode()).hexdigest()[:12]
    return f"{JOB_PREFIX}{record['messageId']}-{delivery}"


def _delivered_before(record: Mapping[str, Any]) -> bool:
    count = (record.get("attributes") or {}).get("ApproximateReceiveCount", "1")
    return str(count).isdigit() and int(count) > 1


def batch_of(records: Sequence[Mapping[str, Any]]) -> Batch:
    """Reads the SQS records of an event source mapping's event into a batch."""
    batch = Batch([], [], [], [])
    for record in records:
        message_id = str(record["messageId"])
        try:
            body = json.loads(record.get("body") or "")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not all(
            isinstance(body.get(name), str) and body[name] for name in REQUIRED_FIELDS
        ):
            batch.unreadable.append(message_id)
            continue
        item = {"input": body, "job": job_id(record)}
        if _delivered_before(record):
            batch.again.append((message_id, item))
        else:
            batch.items.append(item)
            batch.ids.append(message_id)
    return batch


def failures(message_ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """The partial batch response naming the messages to deliver again."""
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in message_ids]}


def run_batch(sfn: SFNClient, state_machine_arn: str, batch: Batch) -> list[str]:
    """Runs the first deliveries of ``batch`` on the uploads state machine; returns the
    message ids to deliver again.

    Every document of a batch that ran to its end is done: processed, already processed,
    handed to the pipeline state machine, or failed with its report written. A batch that
    did not (timed out, failed, or could not start) is delivered again whole.
    """
    log = configure()
    if not batch.items:
        return []
    try:
        result = sfn.start_sync_execution(
            stateMachineArn=state_machine_arn, input=json.dumps({"Items": batch.items})
        )
    except Exception as err:  # noqa: BLE001 - any failure to run means deliver again
        log.warning(
            "the uploads batch could not start; its messages will be delivered again",
            extra={"error": f"{type(err).__name__}: {err}", "documents": len(batch.ids)},
        )
        return list(batch.ids)
    status = result.get("status")
    if status == "SUCCEEDED":
        log.info("uploads batch done", extra={"documents": len(batch.ids)})
        return []
    log.warning(
        "the uploads batch did not finish; its messages will be delivered again",
        extra={
            "status": status,
            "error": result.get("error"),
            "cause": result.get("cause"),
            "execution": result.get("executionArn"),
            "documents": len(batch.ids),
        },
    )
    return list(batch.ids)


def start_alone(sfn: SFNClient, pipeline_arn: str, batch: Batch) -> list[str]:
    """Starts a pipeline execution for each message delivered again; returns the message
    ids whose execution could not be started (to deliver again)."""
    log = configure()
    retry = []
    for message_id, item in batch.again:
        try:
            sfn.start_execution(
                stateMachineArn=pipeline_arn, name=item["job"], input=json.dumps(item["input"])
            )
        except sfn.exceptions.ExecutionAlreadyExists:
            continue  # this delivery's execution was started before
        except Exception as err:  # noqa: BLE001 - any failure to start means deliver again
            log.warning(
                "a queued upload delivered again could not start its execution",
                extra={"error": f"{type(err).__name__}: {err}", "job": item["job"]},
            )
            retry.append(message_id)
            continue
        log.info("queued upload delivered again runs alone", extra={"job": item["job"]})
    return retry


@functools.cache
def _sfn() -> SFNClient:
    import boto3
    from botocore.config import Config

    # StartSyncExecution's endpoint is the "sync-" host of the region's; a local endpoint
    # (AWS_ENDPOINT_URL, as the local stack sets) has no such host.
    local = bool(os.environ.get("AWS_ENDPOINT_URL"))
    config = Config(retries={"mode": "standard"}, inject_host_prefix=not local)
    return boto3.client("stepfunctions", config=config)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point (``functions.dispatch.handler``) for the uploads queue."""
    batch = batch_of(event.get("Records") or [])
    if batch.unreadable:
        configure().error(
            "queue messages that are not execution inputs; they go to the dead-letter queue",
            extra={"messages": batch.unreadable},
        )
    alone = start_alone(_sfn(), os.environ[PIPELINE_STATE_MACHINE], batch)
    retry = run_batch(_sfn(), os.environ[UPLOADS_STATE_MACHINE], batch)
    return failures([*batch.unreadable, *alone, *retry])
