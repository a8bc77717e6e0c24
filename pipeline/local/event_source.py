"""The local stack's event source mapping: the uploads queue feeds the dispatch function.

It does what Lambda's SQS event source mapping does for the deployed stack
(:mod:`pipeline.uploads`): one poller receives messages, gathers up to ``batch_size`` of
them (waiting at most the batching window once the first one arrived), and invokes the
function with the mapping's event (``{"Records": [...]}``, each record with
``messageId``, ``receiptHandle``, ``body``, ``attributes``, ``eventSource``
``aws:sqs``, ``eventSourceARN`` and ``awsRegion``), at most ``max_batches`` invocations
at once (``ScalingConfig.MaximumConcurrency``). With ``ReportBatchItemFailures`` the
function answers ``{"batchItemFailures": [{"itemIdentifier": message id}, ...]}``: the
other messages are deleted; the ones listed stay, and come back after the queue's
visibility timeout, as do all of a batch whose invocation failed (a function error, an
answer that names a message not in the batch, or a Lambda service error). The queue's
redrive policy moves a message to the dead-letter queue after ``maxReceiveCount``
deliveries.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.local.invoker import InvocationResult

LOG = logging.getLogger(__name__)
# SQS returns at most ten messages per ReceiveMessage, and deletes ten per batch call.
_SQS_MAX_MESSAGES = 10
# The poller's long poll while nothing is gathered (it checks for stop between polls).
_LONG_POLL_SECONDS = 1
_GATHER_POLL_SECONDS = 0.05
# How long stop() waits for running batches before it leaves them to the stack's end.
_STOP_GRACE_SECONDS = 10.0

Invoke = Callable[[str, str], InvocationResult]


@dataclass(frozen=True)
class MappingConfig:
    """An event source mapping's configuration, as ``pulumi up`` gives the deployed one.

    Attributes:
        queue_url: The queue to read.
        queue_arn: The queue's ARN (each record's ``eventSourceARN``).
        function_arn: The function to invoke.
        batch_size: Most records per invocation.
        window_seconds: Most time spent gathering a batch once its first record arrived.
        max_batches: Most invocations at once (``MaximumConcurrency``).
        region: The records' ``awsRegion``.
    """

    queue_url: str
    queue_arn: str
    function_arn: str
    batch_size: int
    window_seconds: float
    max_batches: int
    region: str


@dataclass
class MappingStats:
    """What the mapping did so far.

    Attributes:
        batches: Invocations made.
        records: Records passed in them.
        deleted: Messages deleted (their batch item succeeded).
        retried: Records left to come back (listed as failures, or of a failed batch).
        failed_batches: Batches whose records were all left to come back.
    """

    batches: int = 0
    records: int = 0
    deleted: int = 0
    retried: int = 0
    failed_batches: int = 0


def record_of(message: Mapping[str, Any], config: MappingConfig) -> dict[str, Any]:
    """Returns the event record Lambda makes of a received SQS message."""
    attributes = {name: str(value) for name, value in (message.get("Attributes") or {}).items()}
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": config.queue_arn,
        "awsRegion": config.region,
    }


def retried_ids(result: InvocationResult, ids: Sequence[str]) -> list[str]:
    """The message ids of a batch to deliver again, from the function's answer.

    A function error, or an answer naming a message that is not in the batch (or none),
    fails the whole batch, as Lambda treats it; an empty answer fails none.
    """
    if result.function_error is not None:
        return list(ids)
    try:
        answer = json.loads(result.payload)
    except ValueError:
        return list(ids)
    failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
    if not failures:
        return []
    listed = [item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures]
    if any(not isinstance(item, str) or item not in ids for item in listed):
        return list(ids)
    return [message_id for message_id in ids if message_id in listed]


class EventSourceMapping:
    """Polls a queue and invokes a function with its messages in bounded batches.

    Args:
        sqs: An SQS client on the local endpoint.
        config: See :class:`MappingConfig`.
        invoke: Runs one invocation: ``(function ARN, event as JSON text)``; it may
            raise for an error of the Lambda service.
    """

    def __init__(self, sqs: Any, config: MappingConfig, invoke: Invoke) -> None:
        if config.batch_size < 1 or config.max_batches < 1:
            raise ValueError("batch_size and max_batches must be at least 1")
        self._sqs = sqs
        self.config = config
        self._invoke = invoke
        self._slots = threading.BoundedSemaphore(config.max_batches)
        self._stopping = threading.Event()
        self._lock = threading.Condition()
        self._running = 0
        self._gathering = False
        self.stats = MappingStats()
        self._poller = threading.Thread(target=self._poll, name="docpipe-esm", daemon=True)

    def start(self) -> None:
        """Starts polling."""
        self._poller.start()

    def stop(self) -> None:
        """Stops polling; waits a little for the running batches (their messages come
        back after the visibility timeout if they are cut short)."""
        self._stopping.set()
        self._poller.join()
        with self._lock:
            self._lock.wait_for(lambda: self._running == 0, _STOP_GRACE_SECONDS)

    @property
    def idle(self) -> bool:
        """Whether the queue is empty (no message waiting or in flight) and no batch runs."""
        with self._lock:
            if self._running or self._gathering:
                return False
        counts = self._sqs.get_queue_attributes(
            QueueUrl=self.config.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return all(int(value) == 0 for value in counts.values())

    def _poll(self) -> None:
        while not self._stopping.is_set():
            if not self._slots.acquire(timeout=_LONG_POLL_SECONDS):
                continue
            try:
                messages = self._gather()
            except Exception:  # the server went away or refused: poll again
                LOG.warning("the event source mapping could not receive", exc_info=True)
                messages = []
                self._stopping.wait(_LONG_POLL_SECONDS)
            if not messages:
                self._slots.release()
                continue
            with self._lock:
                self._running += 1
                self._gathering = False
            threading.Thread(
                target=self._run, args=(messages,), name="docpipe-esm-batch", daemon=True
            ).start()

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self.config.queue_url,
            MaxNumberOfMessages=min(_SQS_MAX_MESSAGES, count),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages") or [])

    def _gather(self) -> list[dict[str, Any]]:
        """Receives one batch: up to ``batch_size`` messages within the batching window."""
        batch_size = self.config.batch_size
        messages = self._receive(batch_size, _LONG_POLL_SECONDS)
        if not messages:
            return []
        with self._lock:
            self._gathering = True
        window_ends = time.monotonic() + self.config.window_seconds
        while len(messages) < batch_size and time.monotonic() < window_ends:
            more = self._receive(batch_size - len(messages), 0)
            messages.extend(more)
            if not more:
                time.sleep(_GATHER_POLL_SECONDS)
        return messages

    def _run(self, messages: Sequence[Mapping[str, Any]]) -> None:
        records = [record_of(message, self.config) for message in messages]
        ids = [record["messageId"] for record in records]
        try:
            try:
                result = self._invoke(self.config.function_arn, json.dumps({"Records": records}))
                retry = retried_ids(result, ids)
            except Exception as exc:  # noqa: BLE001 - Lambda's errors fail the batch, as on AWS
                LOG.warning("the batch's invocation failed", extra={"error": repr(exc)})
                retry = list(ids)
            done = [record for record in records if record["messageId"] not in retry]
            self._delete(done)
            with self._lock:
                self.stats.batches += 1
                self.stats.records += len(records)
                self.stats.deleted += len(done)
                self.stats.retried += len(retry)
                self.stats.failed_batches += len(retry) == len(ids)
        except Exception:  # a batch never takes the poller down
            LOG.warning("the batch could not be completed", exc_info=True)
        finally:
            with self._lock:
                self._running -= 1
                self._lock.notify_all()
            self._slots.release()

    def _delete(self, records: Sequence[Mapping[str, Any]]) -> None:
        for start in range(0, len(records), _SQS_MAX_MESSAGES):
            chunk = records[start : start + _SQS_MAX_MESSAGES]
            self._sqs.delete_message_batch(
                QueueUrl=self.config.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": record["receiptHandle"]}
                    for n, record in enumerate(chunk)
                ],
            )
