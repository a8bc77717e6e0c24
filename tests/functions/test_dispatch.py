"""The dispatch function's reading of a queue batch (the run itself is tested through the
local stack, whose event source mapping invokes it: tests/pipeline)."""

from __future__ import annotations

import json
from typing import Any

from functions.dispatch import JOB_PREFIX, batch_of, failures
from pipeline.trigger import apply_input_transformer, object_created_event


def _record(message_id: str, body: str, receipt: str = "r1", count: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"{receipt}-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(count)},
        "eventSource": "aws:sqs",
    }


def test_each_delivery_of_a_queued_upload_is_its_own_job_with_the_rules_input() -> None:
    """This test ensures that each message the trigger rule queued becomes one batch item
    whose input is exactly the execution input the rule's transformer made, and whose job
    id names the message and this delivery of it, so that two deliveries of one message
    (SQS may make them at once) are two jobs, which ingest's claim keeps apart."""
    event = object_created_event("trigger", "in/a.pdf", size=10, etag="e1", version_id="v1")
    body = json.dumps(apply_input_transformer(event))
    batch = batch_of([_record("m-1", body), _record("m-2", body.replace("a.pdf", "b.pdf"))])
    assert batch.ids == ["m-1", "m-2"]
    assert (batch.again, batch.unreadable) == ([], [])
    first, second = batch.items
    assert first["input"] == json.loads(body)
    assert first["job"].startswith(f"{JOB_PREFIX}m-1-")
    assert second["input"]["key"] == "in/b.pdf"
    assert batch_of([_record("m-1", body)]).items[0]["job"] == first["job"]
    assert batch_of([_record("m-1", body, receipt="r2")]).items[0]["job"] != first["job"]


def test_a_message_delivered_again_runs_alone_not_in_a_batch() -> None:
    """This test ensures that a message whose earlier delivery did not finish (receive
    count over one) is not put into an Express batch again but set aside to run in a
    pipeline execution of its own, named after its new job."""
    body = json.dumps({"bucket": "trigger", "key": "slow.pdf"})
    batch = batch_of([_record("m-1", body, receipt="r2", count=2), _record("m-2", body)])
    assert batch.ids == ["m-2"]
    [(message_id, item)] = batch.again
    assert message_id == "m-1"
    assert item["job"].startswith(f"{JOB_PREFIX}m-1-")
    assert item["input"] == {"bucket": "trigger", "key": "slow.pdf"}


def test_a_message_that_is_no_execution_input_is_set_aside_not_run() -> None:
    """This test ensures that a message whose body is not JSON, not an object, or lacks
    the bucket or key is not run and is reported back as failed (the queue then moves it
    to the dead-letter queue), while the rest of its batch runs."""
    good = json.dumps({"bucket": "trigger", "key": "a.pdf"})
    batch = batch_of(
        [
            _record("ok", good),
            _record("text", "not json"),
            _record("list", "[1, 2]"),
            _record("keyless", json.dumps({"bucket": "trigger"})),
            _record("empty-key", json.dumps({"bucket": "trigger", "key": ""})),
        ]
    )
    assert batch.ids == ["ok"]
    assert batch.unreadable == ["text", "list", "keyless", "empty-key"]
    assert failures(batch.unreadable) == {
        "batchItemFailures": [
            {"itemIdentifier": "text"},
            {"itemIdentifier": "list"},
            {"itemIdentifier": "keyless"},
            {"itemIdentifier": "empty-key"},
        ]
    }
