"""The local stack's EventBridge rule: new trigger objects start executions.

On AWS the trigger bucket sends "Object Created" events to EventBridge, and a rule
(pattern :func:`pipeline.trigger.event_pattern`) starts the state machine with the input
its transformer makes (:func:`pipeline.trigger.apply_input_transformer`), or, with
``uploads: queued``, sends that input to the uploads queue. moto's EventBridge does not
deliver to Step Functions, so the local stack hooks moto's S3 notifications instead
(:mod:`pipeline.local.moto_hooks`): every object created in any bucket, by any client
(this process, ``submit``, the AWS CLI, a presigned upload), is turned into the event S3
would send, matched against the same pattern, transformed with the same transformer and
delivered here to the rule's target (:func:`start_execution` or :func:`send_message`).
As on AWS, delivery is asynchronous: the upload returns first, the execution starts (or
the message is sent) a moment later, from one dispatcher thread.

Each event gets a sequencer that grows with every write (16 hex digits), as S3's does
for the writes of one key, so "the newest version wins" can be decided as on AWS.
"""

from __future__ import annotations

import datetime
import itertools
import json
import queue
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pipeline.local.moto_hooks import ObjectCreated
from pipeline.trigger import apply_input_transformer, object_created_event

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

# How long put() waits for the rule to start the execution of its object.
DELIVERY_TIMEOUT_SECONDS = 30.0

#: A rule's target: delivers one execution input; returns the execution ARN or message id.
Target = Callable[[dict[str, Any]], str]


def start_execution(sfn: SFNClient, state_machine_arn: str) -> Target:
    """The target of direct uploads: an execution of the pipeline per new object."""

    def deliver(execution_input: dict[str, Any]) -> str:
        started = sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=str(uuid.uuid4()),
            input=json.dumps(execution_input),
        )
        return str(started["executionArn"])

    return deliver


def send_message(sqs: Any, queue_url: str) -> Target:
    """The target of queued uploads: the execution input as a message of the queue."""

    def deliver(execution_input: dict[str, Any]) -> str:
        sent = sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(execution_input))
        return str(sent["MessageId"])

    return deliver


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` matches an EventBridge pattern of exact values and prefixes.

    That is the subset :func:`pipeline.trigger.event_pattern` uses: a list of allowed
    values (strings, or ``{"prefix": P}``) per field, nested objects for nested fields.
    """
    for name, wanted in pattern.items():
        value = event.get(name) if isinstance(event, Mapping) else None
        if isinstance(wanted, Mapping):
            if not isinstance(value, Mapping) or not matches(wanted, value):
                return False
        elif not any(_allows(choice, value) for choice in wanted):
            return False
    return True


def _allows(choice: Any, value: Any) -> bool:
    if isinstance(choice, Mapping) and "prefix" in choice:
        return isinstance(value, str) and value.startswith(choice["prefix"])
    return bool(choice == value)


def _utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TriggerRule:
    """Delivers the execution input of each matching new object to the rule's target.

    Args:
        target: The rule's target (:func:`start_execution` or :func:`send_message`).
        pattern: The rule's event pattern.
        region: The region the events come from.
    """

    def __init__(self, target: Target, pattern: Mapping[str, Any], region: str) -> None:
        self._target = target
        self._pattern = pattern
        self._region = region
        self._sequence = itertools.count(1)
        self._events: queue.Queue[ObjectCreated | None] = queue.Queue()
        self._started: dict[tuple[str, str | None], str] = {}
        self._failed: dict[tuple[str, str | None], str] = {}
        self._done = threading.Condition()
        self._pending = 0
        self._seen: set[tuple[str, str, str | None]] = set()
        self._thread = threading.Thread(target=self._dispatch, name="docpipe-trigger", daemon=True)

    def start(self) -> None:
        """Starts delivering events."""
        self._thread.start()

    def stop(self) -> None:
        """Delivers the events already received, then stops."""
        self._events.put(None)
        self._thread.join()

    def notify(self, created: ObjectCreated) -> None:
        """Receives a new object from moto's S3 (called in the server's request thread).

        S3 sends one event per object version; moto sends two for a multipart upload
        (its internal PutObject, then CompleteMultipartUpload), so a version seen before
        is dropped.
        """
        version = (created.bucket, created.key, created.version_id)
        with self._done:
            if created.version_id is not None and version in self._seen:
                return
            self._seen.add(version)
            self._pending += 1
        self._events.put(created)

    @property
    def idle(self) -> bool:
        """Whether every event received so far has been delivered."""
        with self._done:
            return self._pending == 0

    def event_for(self, created: ObjectCreated) -> dict[str, Any]:
        """Returns the "Object Created" event S3 sends EventBridge for ``created``."""
        event = object_created_event(
            created.bucket,
            created.key,
            size=created.size,
            etag=created.etag,
            version_id=created.version_id,
            region=self._region,
            time=_utc_now(),
        )
        event["id"] = str(uuid.uuid4())
        event["detail"]["object"]["sequencer"] = f"{next(self._sequence):016X}"
        event["detail"]["reason"] = created.reason
        return event

    def _dispatch(self) -> None:
        while (created := self._events.get()) is not None:
            try:
                outcome = self._deliver(created)
            except Exception as exc:  # noqa: BLE001 - EventBridge retries, then drops; we report
                outcome = ("error", f"{type(exc).__name__}: {exc}")
            with self._done:
                if outcome is not None:
                    store = self._started if outcome[0] == "arn" else self._failed
                    store[(created.key, created.version_id)] = outcome[1]
                self._pending -= 1
                self._done.notify_all()

    def _deliver(self, created: ObjectCreated) -> tuple[str, str] | None:
        event = self.event_for(created)
        if not matches(self._pattern, event):
            return None
        return ("arn", self._target(apply_input_transformer(event)))

    def delivery_of(self, key: str, version_id: str | None, timeout: float) -> str:
        """Returns what the target answered for one object version: the ARN of the
        execution started, or the id of the message sent.

        Raises:
            RuntimeError: The rule could not deliver it, or did not within ``timeout``.
        """
        wanted = (key, version_id)
        with self._done:
            delivered = self._done.wait_for(
                lambda: wanted in self._started or wanted in self._failed, timeout
            )
            if wanted in self._failed:
                raise RuntimeError(
                    f"the trigger rule could not deliver {key!r}: {self._failed[wanted]}"
                )
            if not delivered:
                raise RuntimeError(
                    f"the trigger rule delivered nothing for {key!r} in {timeout:.0f} s"
                )
            return self._started[wanted]
