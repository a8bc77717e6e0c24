"""The uploads queue's consumer: a batch of new objects becomes one Express execution.

With ``uploads: queued`` (docs/ARCHITECTURE.md, "Bursts and backfill") the trigger rule
sends each new object's execution input to the uploads queue instead of starting a
pipeline execution. A Lambda event source mapping reads the queue in batches and invokes
this function with at most ``uploadsMaxConcurrency / 2`` batches in flight; the rest of
a burst waits in the queue, where waiting costs nothing. This function runs its batch
synchronously on the uploads state machine (EXPRESS: the pipeline's own states, two
documents at a time, each with its report when it fails) and tells the mapping which
messages to deliver again.

Each document's job id is ``upload-<message id>``: a message delivered again runs as the
same job, and ingest's claim on the object version makes a document already processed a
no-op. A batch that could not run to its end (Express's five minutes, an API error) is
delivered again as a whole after the queue's visibility timeout; after
``maxReceiveCount`` deliveries a message moves to the dead-letter queue, whose alarm
pages the operator. A message that is not an execution input goes there too, without
running (only the trigger rule may send to the queue, so one would be a defect).
"""

from __future__ import annotations

import functools
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
#: Prefix of a queued document's job id (its message id follows).
JOB_PREFIX = "upload-"
#: The execution input fields a message must carry (``pipeline.trigger.INPUT_TEMPLATE``).
REQUIRED_FIELDS = ("bucket", "key")


@dataclass(frozen=True)
class Batch:
    """A batch of queue messages, sorted into the items to run and the messages to drop.

    Attributes:
        items: One ``{"input": execution input, "job": job id}`` per runnable message.
        ids: The message ids of ``items``, in order.
        unreadable: Message ids whose body is not an execution input.
    """

    items: list[dict[str, Any]]
    ids: list[str]
    unreadable: list[str]


def batch_of(records: Sequence[Mapping[str, Any]]) -> Batch:
    """Reads the SQS records of an event source mapping's event into a batch."""
    items: list[dict[str, Any]] = []
    ids: list[str] = []
    unreadable: list[str] = []
    for record in records:
        message_id = str(record["messageId"])
        try:
            body = json.loads(record.get("body") or "")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not all(
            isinstance(body.get(name), str) and body[name] for name in REQUIRED_FIELDS
        ):
            unreadable.append(message_id)
            continue
        items.append({"input": body, "job": JOB_PREFIX + message_id})
        ids.append(message_id)
    return Batch(items, ids, unreadable)


def failures(message_ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """The partial batch response naming the messages to deliver again."""
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in message_ids]}


def run_batch(sfn: SFNClient, state_machine_arn: str, batch: Batch) -> list[str]:
    """Runs ``batch`` on the uploads state machine; returns the message ids to retry.

    Every document of a batch that ran to its end is done: processed, already processed,
    handed to the pipeline state machine, or failed with its report written. A batch that
    did not (timed out, failed, or could not start) is retried whole.
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
    retry = run_batch(_sfn(), os.environ[UPLOADS_STATE_MACHINE], batch)
    return failures([*batch.unreadable, *retry])
