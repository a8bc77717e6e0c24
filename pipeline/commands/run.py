"""``run PATH... --out DIR``: the pipeline on local files, in a one-off local stack.

The stack always has direct uploads (one execution per document, which the summary
reports), even when the stack's settings say ``uploads: queued``; ``serve`` runs a
queued stack as deployed (:mod:`pipeline.local.runner`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO

from pipeline.commands.console import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Progress,
    error,
    save_traceback,
    size,
)
from pipeline.local import preflight
from pipeline.local.inputs import UsageError
from pipeline.local.results import DocumentResult, RunResult


def document_line(doc: DocumentResult) -> str:
    """Returns the summary line of one document."""
    if doc.status == "succeeded":
        pages = "1 page" if doc.pages == 1 else f"{doc.pages} pages"
        detail = f"{pages}, {size(doc.bytes_in)} -> {size(doc.bytes_out)}"
        if doc.failed_members:
            names = ", ".join(f"{m['member']} {m['code']}" for m in doc.failed_members)
            detail += f", {len(doc.failed_members)} bundle members failed: {names}"
        retried = sorted({f"{state} after {err}" for state, err in doc.failed_attempts})
        if retried:
            detail += ", retried " + "; ".join(retried)
        return f"  ok      {doc.source}  ({detail}, {doc.seconds:.1f} s)"
    failure = doc.error or {"code": "INTERNAL_ERROR", "message": ""}
    line = f"  FAILED  {doc.source!r}  " if "\n" in doc.source else f"  FAILED  {doc.source}  "
    line += f"{failure['code']}: {failure['message']}"
    if not doc.reported and doc.execution_arn:
        line += "  [no failure report was written]"
    return line


def _print_summary(result: RunResult, out: IO[str]) -> None:
    for doc in result.documents:
        print(document_line(doc), file=out)
    print(
        f"{len(result.documents)} documents: {result.succeeded} succeeded, "
        f"{result.failed} failed, in {result.seconds:.1f} s; output in {result.out_dir}",
        file=out,
    )


def _print_problems(result: RunResult, logs_kept: bool) -> None:
    for leftover in result.leftovers:
        print(f"error: a job left {leftover} in the workspace", file=sys.stderr)
    for problem in result.problems:
        print(f"error: {problem}", file=sys.stderr)
    defects = [doc.source for doc in result.documents if not doc.accounted_for]
    if defects:
        print(
            f"error: {len(defects)} documents failed without a report or with INTERNAL_ERROR: "
            + ", ".join(repr(source) for source in defects),
            file=sys.stderr,
        )
        if not logs_kept:
            print("  rerun with --logs DIR to keep the functions' logs", file=sys.stderr)


def _run(args: argparse.Namespace, progress: Progress) -> RunResult:
    preflight.check()
    from pipeline.local.runner import run  # imports moto: after the preflight

    return run(
        args.paths,
        args.out,
        profile=args.profile,
        concurrency=args.concurrency,
        stack=args.stack,
        log_dir=args.logs,
        on_start=progress.start,
        on_document=lambda doc: progress.item(doc.status, doc.source),
    )


def run_command(args: argparse.Namespace) -> int:
    """Runs ``python -m pipeline run`` with parsed arguments; returns the exit status."""
    progress = Progress(sys.stderr, enabled=True)
    try:
        result = _run(args, progress)
    except UsageError as exc:
        error("run", str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted; the run was stopped and its workspace removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a defect of the runner: say so, keep the trace
        trace = save_traceback()
        error(
            "run",
            f"internal error in the local runner: {type(exc).__name__}: {exc} "
            f"(traceback in {trace})",
        )
        return EXIT_INCOMPLETE
    finally:
        progress.close()
    if args.json:
        print(json.dumps(result.summary(), indent=2))
    else:
        _print_summary(result, sys.stdout)
    _print_problems(result, args.logs is not None)
    return result.exit_code
