"""The backfill's Express batches, run by the local stack.

moto's interpreter cannot run a Distributed Map's child executions, so the local stack
runs what each child runs: the map's item processor, exactly as the backfill definition
holds it (:func:`pipeline.backfill.batch_definition`), deployed as an EXPRESS state
machine of its own, and started with the batches the map would give it
(:func:`pipeline.backfill.batch_inputs` applies the definition's ItemSelector and
ItemBatcher to a real listing), ``width`` batches at a time as ``MaxConcurrency`` runs
them. Only the map's listing, batching and result writing are not run here.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipeline.backfill import backfill_definition, batch_definition, batch_inputs
from pipeline.iam import assume_role_policy
from pipeline.local.stack import LocalStack
from pipeline.packaging import HANDLERS

_POLL_SECONDS = 0.2
BATCH_STATE_MACHINE = "docpipe-local-backfill-batch"


def local_backfill_definition(stack: LocalStack, **options: Any) -> dict[str, Any]:
    """Returns the backfill definition for ``stack``'s state machine and functions.

    Args:
        stack: A running local stack.
        options: ``max_concurrency`` (required), ``batch_size``, and the rest of
            :func:`pipeline.backfill.backfill_definition`'s keyword arguments; the task
            timeout and OCR fan-out default to the stack's settings.
    """
    functions = tuple(
        stack.lambda_client.get_function(FunctionName=f"docpipe-{name}")["Configuration"][
            "FunctionArn"
        ]
        for name in HANDLERS
    )
    options.setdefault("task_timeout_seconds", stack.settings.task_timeout_seconds)
    options.setdefault("ocr_max_concurrency", stack.settings.ocr_max_concurrency)
    return backfill_definition(
        stack.state_machine_arn,
        (functions[0], functions[1], functions[2]),
        stack.trigger_bucket,
        stack.output_bucket,
        **options,
    )


def deploy_batch(stack: LocalStack, definition: Mapping[str, Any]) -> str:
    """Deploys one batch of ``definition`` as an EXPRESS state machine; returns its ARN."""
    role = stack.iam.create_role(
        RoleName="docpipe-local-backfill",
        AssumeRolePolicyDocument=json.dumps(assume_role_policy("states.amazonaws.com")),
    )["Role"]["Arn"]
    created = stack.sfn.create_state_machine(
        name=BATCH_STATE_MACHINE,
        definition=json.dumps(batch_definition(definition)),
        roleArn=role,
        type="EXPRESS",
    )
    return str(created["stateMachineArn"])


def run_batches(
    stack: LocalStack, machine: str, inputs: Sequence[Mapping[str, Any]], *, width: int, run: str
) -> list[dict[str, Any]]:
    """Runs the batches ``width`` at a time, as the map run does; returns how each ended."""
    pending = list(reversed(inputs))
    running: list[str] = []
    ended: list[dict[str, Any]] = []
    while pending or running:
        while pending and len(running) < width:
            started = stack.sfn.start_execution(
                stateMachineArn=machine,
                name=f"{run}-{len(inputs) - len(pending)}",
                input=json.dumps(dict(pending.pop())),
            )
            running.append(str(started["executionArn"]))
        time.sleep(_POLL_SECONDS)
        still = []
        for arn in running:
            description = stack.sfn.describe_execution(executionArn=arn)
            if description["status"] == "RUNNING":
                still.append(arn)
            else:
                ended.append(dict(description))
        running = still
    return ended


def outcome(result: Mapping[str, Any]) -> str:
    """How one document of a batch ended, from its iteration's result.

    ``processed`` (compress published it, or a newer version owned the key),
    ``already`` (processed before), ``skipped`` (not a document), ``failed`` (its report
    is written) or ``handed_off`` (too large for a batch: a pipeline execution runs it).
    """
    if "handedOff" in result:
        return "handed_off"
    if "failed" in result:
        return "failed"
    if result.get("duplicate") is True:
        return "already"
    if result.get("skipped") is True:
        return "skipped"
    return "processed"


def count_outcomes(batches: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Counts the documents of ended batches by :func:`outcome`; a failed batch counts
    as ``batch_failed`` once."""
    counts: Counter[str] = Counter()
    for batch in batches:
        if batch["status"] != "SUCCEEDED":
            counts["batch_failed"] += 1
            continue
        counts.update(outcome(result) for result in json.loads(batch["output"]))
    return counts


def backfill_locally(
    stack: LocalStack, prefix: str, *, run: str, max_concurrency: int, batch_size: int
) -> Counter[str]:
    """Backfills the objects under ``prefix`` of the local trigger bucket; counts outcomes."""
    definition = local_backfill_definition(
        stack, max_concurrency=max_concurrency, batch_size=batch_size
    )
    machine = _batch_machine(stack, definition)
    pages = stack.s3.get_paginator("list_objects_v2").paginate(
        Bucket=stack.trigger_bucket, Prefix=prefix
    )
    listed = [entry for page in pages for entry in page.get("Contents", ())]
    inputs = batch_inputs(definition, listed, run=run, prefix=prefix)
    width = int(definition["States"]["Documents"]["MaxConcurrency"])
    return count_outcomes(run_batches(stack, machine, inputs, width=width, run=run))


def _batch_machine(stack: LocalStack, definition: Mapping[str, Any]) -> str:
    for page in stack.sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == BATCH_STATE_MACHINE:
                arn = str(machine["stateMachineArn"])
                stack.sfn.update_state_machine(
                    stateMachineArn=arn, definition=json.dumps(batch_definition(definition))
                )
                return arn
    return deploy_batch(stack, definition)
