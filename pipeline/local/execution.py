"""Runs a batch of local files through a local stack and collects how each ended.

Documents are put into the trigger bucket (the rule starts their executions), at most
``concurrency`` running at a time, and followed until they end. A file the trigger bucket
refuses (moto refuses some keys S3 accepts, such as one with a newline) ends as failed
with :data:`~pipeline.local.results.UPLOAD_REFUSED`; the others proceed.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from botocore.exceptions import ClientError

from functions.errors import ErrorCode
from pipeline.local.inputs import InputDocument
from pipeline.local.results import (
    UPLOAD_REFUSED,
    DocumentResult,
    Started,
    document_result,
    failed_attempts,
    not_started,
)
from pipeline.local.stack import LocalStack

_POLL_SECONDS = 0.1
PROFILE_METADATA = "docpipe-profile"


@dataclass(frozen=True)
class Batch:
    """What to run and how.

    Attributes:
        documents: The files and their keys.
        profile: A compress profile for every document (object metadata), or None.
        concurrency: How many executions run at once.
        on_document: Called with each document's result as soon as it is known.
    """

    documents: Sequence[InputDocument]
    profile: str | None
    concurrency: int
    on_document: Callable[[DocumentResult], None] | None = None


@dataclass
class _Runs:
    """Executions in flight, and the results and problems found so far."""

    running: list[Started] = dataclasses.field(default_factory=list)
    results: list[DocumentResult] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)


def _start(stack: LocalStack, doc: InputDocument, profile: str | None) -> Started:
    size = doc.path.stat().st_size
    metadata = {PROFILE_METADATA: profile} if profile else None
    try:
        arn = stack.put(doc.key, doc.path, metadata)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        message = (
            f"The local trigger bucket (moto's S3) refused the key {doc.key!r} "
            f"({error.get('Code', 'error')}: {error.get('Message', exc)}); rename the file "
            "to process it locally."
        )
        return Started(doc.key, size, error={"code": UPLOAD_REFUSED, "message": message})
    except RuntimeError as exc:  # the rule could not start it: a defect of the local stack
        return Started(
            doc.key, size, error={"code": ErrorCode.INTERNAL_ERROR.value, "message": str(exc)}
        )
    return Started(doc.key, size, arn=arn)


def _finish(stack: LocalStack, started: Started, runs: _Runs) -> DocumentResult | None:
    """Returns the document's result if its execution ended, else None."""
    description = stack.sfn.describe_execution(executionArn=started.arn)
    if description["status"] == "RUNNING":
        return None
    if json.loads(description.get("output") or "{}").get("duplicate"):
        runs.problems.append(
            f"{started.source}: the execution saw a duplicate claim in a fresh workspace"
        )
    result = document_result(started, description, stack.s3, stack.output_bucket)
    return dataclasses.replace(result, failed_attempts=failed_attempts(stack.sfn, started.arn))


def _record(batch: Batch, runs: _Runs, result: DocumentResult) -> None:
    runs.results.append(result)
    if batch.on_document is not None:
        batch.on_document(result)


def _poll(stack: LocalStack, batch: Batch, runs: _Runs) -> None:
    still: list[Started] = []
    for started in runs.running:
        result = _finish(stack, started, runs)
        if result is None:
            still.append(started)
        else:
            _record(batch, runs, result)
    runs.running = still


def execute(stack: LocalStack, batch: Batch) -> tuple[list[DocumentResult], list[str]]:
    """Runs every document of ``batch`` to its end; returns the results and any problems."""
    runs = _Runs()
    pending = list(reversed(batch.documents))
    while pending or runs.running:
        while pending and len(runs.running) < batch.concurrency:
            started = _start(stack, pending.pop(), batch.profile)
            if started.error is None:
                runs.running.append(started)
            else:
                _record(batch, runs, not_started(started))
        time.sleep(_POLL_SECONDS)
        _poll(stack, batch, runs)
    return runs.results, runs.problems
