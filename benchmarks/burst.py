"""Bursts and backfills: what the deployed definition does with more work than capacity.

Usage (from the repository root)::

    python benchmarks/burst.py [--documents 300] [--concurrency 2] [--speedup 2.4]
                               [--skip-local] [--json]

(a) Local: a burst of small documents uploaded at once to a local stack whose functions
have ``--concurrency`` reserved concurrent executions, enforced as Lambda does (an
invocation beyond it is refused with ``Lambda.TooManyRequestsException``). The
definition is the deployed one; its retry waits run ``--speedup`` times faster, because a
local invocation takes a fraction of a deployed one. Reported: processed, failed, drain
time (first upload to last execution end), and drain over the ideal, which is the work
of the busiest function (its invocations' seconds, from the execution histories) over
its concurrency.

(b) Paper model (``burst_model.py``, assumptions in its docstring) of the deployed
definition, retry parameters read from the definition dict: a burst through the trigger,
and a backfill (Distributed Map, MaxConcurrency ``backfill``), for 1,000 / 10,000 /
100,000 documents at reserved concurrency 10 / 100.
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

from benchmarks.burst_model import Outcome, Retrier, model  # noqa: E402
from pipeline.config import load_stack_settings  # noqa: E402
from pipeline.definition import RETRY_THROTTLED, state_machine_definition  # noqa: E402

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
# its time in transform, so 1.3 x keeps transform busy with few throttled attempts.
BACKFILL_WIDTH = 1.3


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
    processed = statuses.count("SUCCEEDED")
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


@dataclass(frozen=True)
class LocalBackfill:
    """Two backfills of the same prefix through the local stack's pipeline."""

    objects: int
    width: int
    processed: tuple[int, int]
    already_processed: tuple[int, int]
    failed: tuple[int, int]
    seconds: tuple[float, float]


def _run_items(stack: Any, inputs: list[dict[str, Any]], run: str, width: int) -> list[Any]:
    """Starts the items ``width`` at a time, as the map run does; returns their outputs."""
    import hashlib

    pending = list(reversed(inputs))
    running: list[str] = []
    ended: list[Any] = []
    while pending or running:
        while pending and len(running) < width:
            item = pending.pop()
            digest = hashlib.sha1(f"{run}/{item['key']}".encode()).hexdigest()  # noqa: S324
            running.append(stack.start(item, name=f"backfill-{digest}"))
        time.sleep(0.2)
        still = []
        for arn in running:
            description = stack.sfn.describe_execution(executionArn=arn)
            if description["status"] == "RUNNING":
                still.append(arn)
            else:
                ended.append(description)
        running = still
    return ended


def local_backfill(objects: int, width: int) -> LocalBackfill:
    """Backfills ``objects`` existing PDFs twice through the local stack's pipeline.

    moto cannot run the map's ``StartExecution.sync:2`` children, so the children are
    started here, ``width`` at a time, with the inputs the definition builds.
    """
    from pipeline.backfill import backfill_definition, item_inputs
    from pipeline.local.stack import LocalStack
    from tests import docgen

    settings = replace(load_stack_settings("dev"), trigger_prefix="inbox/")
    counts: dict[str, list[Any]] = {"processed": [], "already": [], "failed": [], "s": []}
    with LocalStack(settings=settings) as stack:
        for i in range(objects):
            body = docgen.text_pdf(f"existing document {i}")
            stack.s3.put_object(Bucket=stack.trigger_bucket, Key=f"old/{i:05}.pdf", Body=body)
        pages = stack.s3.get_paginator("list_objects_v2").paginate(
            Bucket=stack.trigger_bucket, Prefix="old/"
        )
        listed = [entry for page in pages for entry in page.get("Contents", ())]
        definition = backfill_definition(
            stack.state_machine_arn,
            stack.trigger_bucket,
            stack.output_bucket,
            max_concurrency=width,
        )
        for run in ("backfill-first", "backfill-second"):
            began = time.monotonic()
            inputs = item_inputs(definition, listed, run=run, prefix="old/")
            ended = _run_items(stack, inputs, run, width)
            succeeded = [d for d in ended if d["status"] == "SUCCEEDED"]
            duplicates = sum(json.loads(d["output"]).get("duplicate") is True for d in succeeded)
            counts["processed"].append(len(succeeded) - duplicates)
            counts["already"].append(duplicates)
            counts["failed"].append(len(ended) - len(succeeded))
            counts["s"].append(round(time.monotonic() - began, 1))
    return LocalBackfill(
        objects=objects,
        width=width,
        processed=(counts["processed"][0], counts["processed"][1]),
        already_processed=(counts["already"][0], counts["already"][1]),
        failed=(counts["failed"][0], counts["failed"][1]),
        seconds=(counts["s"][0], counts["s"][1]),
    )


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
    rows = []
    for concurrency in CONCURRENCIES:
        for documents in SIZES:
            common = {
                "memory_mb": settings.memory_mb,
                "timeout_seconds": definition["TimeoutSeconds"],
            }
            rows.append(("burst", model(documents, concurrency, retrier, **common)))
            for width in (concurrency, round(concurrency * BACKFILL_WIDTH)):
                backfill = model(documents, concurrency, retrier, max_concurrency=width, **common)
                rows.append((f"backfill {width} wide", backfill))
    return rows


def _print_model(rows: list[tuple[str, Outcome]]) -> None:
    print(
        "| path | documents | reserved | processed | failed | drain / ideal | transitions "
        "per document | $ orchestration / 10k | $ of which overhead | $ Lambda / 10k | "
        "overhead / Lambda |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path, o in rows:
        print(
            f"| {path} | {o.documents:,} | {o.concurrency} | {o.processed:,} | {o.failed} | "
            f"{o.drain_over_ideal:.2f} | {o.transitions / o.documents:.1f} | "
            f"{o.per_10k(o.orchestration_usd):.2f} | {o.per_10k(o.overhead_usd):.2f} | "
            f"{o.per_10k(o.lambda_usd):.2f} | {o.overhead_usd / o.lambda_usd:.2f} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=2)
    # A deployed transform takes 2 s; a local invocation about 0.85 s: waits x 2.4 keep
    # the deployed proportion between retry waits and work.
    parser.add_argument("--speedup", type=float, default=2.4)
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument(
        "--backfill", type=int, default=0, metavar="N", help="also backfill N objects locally"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = paper_model()
    local = None
    if not args.skip_local:
        local = local_burst(args.documents, args.concurrency, args.speedup)
    width = load_stack_settings("dev").backfill_max_concurrency
    backfill = local_backfill(args.backfill, width) if args.backfill else None
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
            f"local burst: {local.documents} documents, reserved concurrency "
            f"{local.concurrency}, retry clock x{local.speedup:g}: processed "
            f"{local.processed}, failed {local.failed}, throttled attempts "
            f"{local.throttled_attempts}, drain {local.drain_seconds:.1f} s, ideal "
            f"{local.ideal_seconds:.1f} s ({local.busy_seconds}), drain / ideal "
            f"{local.drain_over_ideal:.2f} (target <= 1.3)"
        )
    if backfill is not None:
        print(
            f"local backfill of {backfill.objects} existing objects, {backfill.width} at a "
            f"time, twice: processed {backfill.processed}, already processed "
            f"{backfill.already_processed}, failed {backfill.failed}, seconds "
            f"{backfill.seconds}"
        )
    _print_model(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
