"""Bursts and backfills: what the deployed definition does with more work than capacity.

Usage (from the repository root)::

    python benchmarks/burst.py [--documents 300] [--concurrency 2] [--speedup 2.4]
                               [--uploads direct|queued] [--skip-local] [--json]

(a) Local: a burst of small documents uploaded at once to a local stack whose functions
have ``--concurrency`` reserved concurrent executions, enforced as Lambda does (an
invocation beyond it is refused with ``Lambda.TooManyRequestsException``). The
definition is the deployed one; its retry waits run ``--speedup`` times faster, because a
local invocation takes a fraction of a deployed one. Reported: processed, failed, drain
time (first upload to last execution end), and drain over the ideal, which is the work
of the busiest function (its invocations' seconds, from the execution histories) over
its concurrency. With ``--uploads queued`` the burst goes through the uploads queue
(``pipeline.local.event_source``: batches of ``batchSize``, ``uploadsMaxConcurrency``
documents at once, set to 1.5 x the reserved concurrency and at least 4) and Express
batches; the documents are counted from their status documents and the work from the
batches' execution histories, as for direct uploads.

(b) Paper model (``burst_model.py``, assumptions in its docstring) of the deployed
definitions, retry parameters read from the pipeline's definition dict and the batch
shape from the backfill's (the queued uploads' is checked to be the same): a burst
through the trigger with direct uploads (``uploads: direct``, one STANDARD execution per
upload) and with queued uploads (``uploads: queued``), and a backfill (a Distributed Map
of Express batches); batches keep as many documents in flight as reserved concurrency
and 1.5 times that; for 1,000 / 10,000 / 100,000 documents at reserved concurrency
10 / 100.

(c) With ``--backfill N``: N existing objects backfilled twice through the local stack:
the backfill definition's own Express batch, built from a real listing
(``pipeline.local.backfill``), ``backfillMaxConcurrency`` documents at a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.burst_model import Outcome, Retrier, model, through_a_queue  # noqa: E402
from pipeline.backfill import backfill_definition  # noqa: E402
from pipeline.config import load_stack_settings  # noqa: E402
from pipeline.definition import RETRY_THROTTLED, state_machine_definition  # noqa: E402
from pipeline.uploads import uploads_definition  # noqa: E402

# Which function a task state invokes.
STATE_FUNCTION = {
    "Ingest": "ingest",
    "Transform": "transform",
    "Compress": "compress",
    "ReportFailure": "compress",
}
SIZES = (1_000, 10_000, 100_000)
CONCURRENCIES = (10, 100)
# Documents in flight per reserved execution: each document spends about two thirds of
# its time in transform, so 1.5 x keeps transform busy with few throttled attempts.
BACKFILL_WIDTH = 1.5


@dataclass(frozen=True)
class LocalBurst:
    """The outcome of the local burst."""

    documents: int
    concurrency: int
    speedup: float
    processed: int
    failed: int
    throttled_attempts: int
    drain_seconds: float
    ideal_seconds: float
    busy_seconds: dict[str, float]

    @property
    def drain_over_ideal(self) -> float:
        """Drain time over the busiest function's work / concurrency."""
        return self.drain_seconds / self.ideal_seconds


def _history(sfn: Any, arn: str) -> tuple[dict[str, float], int]:
    """Returns each function's successful invocation seconds and the throttled attempts."""
    busy: dict[str, float] = defaultdict(float)
    throttled = 0
    state, started = "", None
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        for event in page["events"]:
            entered = event.get("stateEnteredEventDetails")
            if entered is not None:
                state = entered["name"]
            if event["type"] == "TaskStarted":
                started = event["timestamp"]
            elif event["type"] == "TaskSucceeded" and started is not None:
                seconds = (event["timestamp"] - started).total_seconds()
                busy[STATE_FUNCTION.get(state, state)] += seconds
            elif event["type"] == "TaskFailed":
                details = event.get("taskFailedEventDetails") or {}
                throttled += details.get("error") == "Lambda.TooManyRequestsException"
    return busy, throttled


def local_burst(documents: int, concurrency: int, speedup: float) -> LocalBurst:
    """Uploads ``documents`` small PDFs at once to a local stack and waits for them."""
    from pipeline.local.moto_hooks import retry_clock
    from pipeline.local.stack import LocalStack
    from tests import docgen

    settings = replace(load_stack_settings("dev"), reserved_concurrency=concurrency)
    bodies = [docgen.text_pdf(f"burst document {i}") for i in range(documents)]
    with retry_clock(speedup), LocalStack(settings=settings) as stack:
        began = time.monotonic()
        arns = [stack.put(f"burst/{i:05}.pdf", body) for i, body in enumerate(bodies)]
        stack.wait(timeout=3600)
        drain = time.monotonic() - began
        statuses = [stack.sfn.describe_execution(executionArn=arn)["status"] for arn in arns]
        busy: dict[str, float] = defaultdict(float)
        throttled = 0
        for arn in arns:
            seconds, refused = _history(stack.sfn, arn)
            throttled += refused
            for function, value in seconds.items():
                busy[function] += value
    return _burst(
        documents, concurrency, speedup, statuses.count("SUCCEEDED"), throttled, drain, busy
    )


def _burst(
    documents: int,
    concurrency: int,
    speedup: float,
    processed: int,
    throttled: int,
    drain: float,
    busy: dict[str, float],
) -> LocalBurst:
    """A local burst's outcome; its ideal is the busiest function's work over its concurrency."""
    return LocalBurst(
        documents=documents,
        concurrency=concurrency,
        speedup=speedup,
        processed=processed,
        failed=documents - processed,
        throttled_attempts=throttled,
        drain_seconds=drain,
        ideal_seconds=max(busy.values()) / concurrency,
        busy_seconds={k: round(v, 1) for k, v in sorted(busy.items())},
    )


def _batch_history(sfn: Any, arn: str) -> tuple[dict[str, float], int]:
    """:func:`_history` for an Express batch, whose documents' events interleave: each
    task's end names its start (``previousEventId``), and the start its scheduling,
    which names the function."""
    events = {
        event["id"]: event
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        for event in page["events"]
    }
    busy: dict[str, float] = defaultdict(float)
    throttled = 0
    for event in events.values():
        if event["type"] == "TaskFailed":
            details = event.get("taskFailedEventDetails") or {}
            throttled += details.get("error") == "Lambda.TooManyRequestsException"
        if event["type"] != "TaskSucceeded":
            continue
        started = events[event["previousEventId"]]
        scheduled = events[started["previousEventId"]]["taskScheduledEventDetails"]
        function = json.loads(scheduled["parameters"])["FunctionName"].rpartition("docpipe-")[2]
        busy[function] += (event["timestamp"] - started["timestamp"]).total_seconds()
    return busy, throttled


def local_queued_burst(
    documents: int, concurrency: int, speedup: float, in_flight: int | None = None
) -> LocalBurst:
    """Uploads ``documents`` small PDFs at once to a queued local stack; waits for them.

    ``in_flight`` is ``uploadsMaxConcurrency`` (default: 1.5 x ``concurrency``, at least 4).
    """
    from functions.status import read_status
    from pipeline.local.moto_hooks import retry_clock
    from pipeline.local.stack import LocalStack
    from tests import docgen

    settings = replace(
        load_stack_settings("dev"),
        reserved_concurrency=concurrency,
        uploads="queued",
        uploads_max_concurrency=in_flight or max(4, round(concurrency * BACKFILL_WIDTH)),
    )
    bodies = [docgen.text_pdf(f"burst document {i}") for i in range(documents)]
    busy: dict[str, float] = defaultdict(float)
    throttled = 0
    with retry_clock(speedup), LocalStack(settings=settings) as stack:
        began = time.monotonic()
        keys = [stack.upload(f"burst/{i:05}.pdf", body).key for i, body in enumerate(bodies)]
        stack.wait(timeout=3600)
        drain = time.monotonic() - began
        states = [read_status(stack.s3, stack.output_bucket, key) for key in keys]
        uploads = stack.outputs()["uploadsStateMachineArn"]
        pages = stack.sfn.get_paginator("list_executions").paginate(stateMachineArn=uploads)
        for batch in (item for page in pages for item in page["executions"]):
            seconds, refused = _batch_history(stack.sfn, batch["executionArn"])
            throttled += refused
            for function, value in seconds.items():
                busy[function] += value
    processed = sum(1 for status in states if status is not None and status.state == "succeeded")
    return _burst(documents, concurrency, speedup, processed, throttled, drain, busy)


@dataclass(frozen=True)
class LocalBackfill:
    """Two backfills of the same prefix through the local stack's Express batches."""

    objects: int
    width: int
    batch_size: int
    first: dict[str, int]
    second: dict[str, int]
    seconds: tuple[float, float]


def local_backfill(objects: int, width: int, batch_size: int) -> LocalBackfill:
    """Backfills ``objects`` existing PDFs twice through the local stack."""
    from pipeline.local.backfill import backfill_locally
    from pipeline.local.stack import LocalStack
    from tests import docgen

    settings = replace(load_stack_settings("dev"), trigger_prefix="inbox/")
    counts, seconds = [], []
    with LocalStack(settings=settings) as stack:
        for i in range(objects):
            body = docgen.text_pdf(f"existing document {i}")
            stack.s3.put_object(Bucket=stack.trigger_bucket, Key=f"old/{i:05}.pdf", Body=body)
        for run in ("backfill-first", "backfill-second"):
            began = time.monotonic()
            counts.append(
                dict(
                    backfill_locally(
                        stack, "old/", run=run, max_concurrency=width, batch_size=batch_size
                    )
                )
            )
            seconds.append(round(time.monotonic() - began, 1))
    return LocalBackfill(objects, width, batch_size, counts[0], counts[1], (seconds[0], seconds[1]))


def paper_model() -> list[tuple[str, Outcome]]:
    """Models bursts and backfills with the deployed definition's throttling retrier."""
    settings = load_stack_settings("dev")
    definition = state_machine_definition(
        "ingest",
        "transform",
        "compress",
        task_timeout_seconds=settings.task_timeout_seconds,
        execution_timeout_seconds=settings.execution_timeout_seconds,
    )
    throttled = definition["States"]["Transform"]["Retry"][0]
    if throttled != RETRY_THROTTLED:
        raise RuntimeError("the Transform task's first retrier is not the throttling one")
    retrier = Retrier.of(throttled)
    backfill = backfill_definition(
        "pipeline",
        ("ingest", "transform", "compress"),
        "trigger",
        "output",
        max_concurrency=settings.backfill_max_concurrency,
        batch_size=settings.batch_size,
    )
    documents_map = backfill["States"]["Documents"]
    batch_size = int(documents_map["ItemBatcher"]["MaxItemsPerBatch"])
    side_by_side = int(documents_map["ItemProcessor"]["States"]["Batch"]["MaxConcurrency"])
    batch_retrier = documents_map["ItemProcessor"]["States"]["Batch"]["ItemProcessor"]["States"][
        "Transform"
    ]["Retry"][0]
    if batch_retrier != RETRY_THROTTLED:
        raise RuntimeError("a batch's Transform task does not retry throttling first")
    uploads = uploads_definition("pipeline", ("ingest", "transform", "compress"))
    if uploads["States"]["Documents"]["MaxConcurrency"] != side_by_side:
        raise RuntimeError("queued uploads and the backfill no longer run batches alike")
    rows = []
    for concurrency in CONCURRENCIES:
        for documents in SIZES:
            common = {
                "memory_mb": settings.memory_mb,
                "timeout_seconds": definition["TimeoutSeconds"],
            }
            rows.append(("burst, direct uploads", model(documents, concurrency, retrier, **common)))
            for width in (concurrency, round(concurrency * BACKFILL_WIDTH)):
                outcome = model(
                    documents,
                    concurrency,
                    retrier,
                    max_concurrency=width,
                    batch_size=batch_size,
                    side_by_side=side_by_side,
                    **common,
                )
                shape = f"{width} wide, batches of {batch_size}"
                rows.append((f"backfill {shape}", outcome))
                rows.append((f"burst, queued uploads {shape}", through_a_queue(outcome)))
    return rows


def _print_model(rows: list[tuple[str, Outcome]]) -> None:
    print(
        "| path | documents | reserved | processed | failed | drain / ideal | transitions "
        "per document | $ orchestration / 10k | $ Lambda / 10k | orchestration / Lambda |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path, o in rows:
        print(
            f"| {path} | {o.documents:,} | {o.concurrency} | {o.processed:,} | {o.failed} | "
            f"{o.drain_over_ideal:.2f} | {o.transitions / o.documents:.2f} | "
            f"{o.per_10k(o.orchestration_usd):.2f} | {o.per_10k(o.lambda_usd):.2f} | "
            f"{o.orchestration_share:.2f} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=2)
    # A deployed transform takes 2 s; a local invocation about 0.85 s: waits x 2.4 keep
    # the deployed proportion between retry waits and work.
    parser.add_argument("--speedup", type=float, default=2.4)
    parser.add_argument("--uploads", choices=("direct", "queued"), default="direct")
    parser.add_argument(
        "--uploads-max-concurrency",
        type=int,
        metavar="N",
        help="queued: documents in flight (default: 1.5 x --concurrency, at least 4)",
    )
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument(
        "--backfill", type=int, default=0, metavar="N", help="also backfill N objects locally"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = paper_model()
    local = None
    if not args.skip_local:
        if args.uploads == "queued":
            local = local_queued_burst(
                args.documents, args.concurrency, args.speedup, args.uploads_max_concurrency
            )
        else:
            local = local_burst(args.documents, args.concurrency, args.speedup)
    dev = load_stack_settings("dev")
    backfill = None
    if args.backfill:
        backfill = local_backfill(args.backfill, dev.backfill_max_concurrency, dev.batch_size)
    if args.json:
        print(
            json.dumps(
                {
                    "local": asdict(local) if local else None,
                    "backfill": asdict(backfill) if backfill else None,
                    "model": [{"path": p, **asdict(o)} for p, o in rows],
                },
                indent=2,
            )
        )
        return 0
    if local is not None:
        print(
            f"local burst ({args.uploads} uploads): {local.documents} documents, reserved "
            f"concurrency "
            f"{local.concurrency}, retry clock x{local.speedup:g}: processed "
            f"{local.processed}, failed {local.failed}, throttled attempts "
            f"{local.throttled_attempts}, drain {local.drain_seconds:.1f} s, ideal "
            f"{local.ideal_seconds:.1f} s ({local.busy_seconds}), drain / ideal "
            f"{local.drain_over_ideal:.2f} (target <= 1.3)"
        )
    if backfill is not None:
        print(
            f"local backfill of {backfill.objects} existing objects, {backfill.width} at a "
            f"time in batches of {backfill.batch_size}, twice: first {backfill.first}, "
            f"second {backfill.second}, seconds {backfill.seconds}"
        )
    _print_model(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
