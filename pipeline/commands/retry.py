"""``retry KEY... | retry --failed [--since D] [--code C]``: re-run documents.

Each key's newest version (from its status) is started again with ``{"rerun": true}``
in the execution input, the re-run rule of docs/ARCHITECTURE.md: a failed or abandoned
version is processed, a published one is reprocessed on purpose. The execution is
started directly on the state machine (the trigger rule only sees new uploads); its
name is the job id the status then carries, so ``--wait`` follows exactly this run.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from functions.status import KeyStatus, read_status, start_rerun
from pipeline.commands.console import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    CommandError,
    print_json,
)
from pipeline.commands.display import status_line
from pipeline.commands.inspect import failed_since
from pipeline.commands.statuses import Awaited, expected, follow_with_progress
from pipeline.commands.target import Target, resolve


@dataclass(frozen=True)
class Rerun:
    """One re-run asked for: the execution started, or why none was."""

    key: str
    version_id: str | None = None
    execution: str | None = None
    execution_arn: str | None = None
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Returns the ``--json`` entry."""
        return {
            "key": self.key,
            "versionId": self.version_id,
            "execution": self.execution_arn,
            "error": self.problem,
        }


def _start(target: Target, key: str, status: KeyStatus | None) -> Rerun:
    if status is None:
        return Rerun(key, problem="no status: the key was never uploaded, or not seen yet")
    try:
        name, execution_arn = start_rerun(
            target.sfn(), target.state_machine_arn, target.trigger_bucket, status
        )
    except ClientError as exc:
        return Rerun(key, status.version_id, problem=str(exc))
    return Rerun(key, status.version_id, name, execution_arn)


def _selected(args: argparse.Namespace, target: Target) -> list[tuple[str, KeyStatus | None]]:
    if args.failed == bool(args.keys):
        raise CommandError("give the keys to re-run, or --failed (not both)")
    if args.failed:
        return [(s.key, s) for s in failed_since(target, args.since, args.code)]
    if args.code is not None:
        raise CommandError("--code selects among --failed documents; add --failed")
    s3 = target.s3()
    return [(key, read_status(s3, target.output_bucket, key)) for key in args.keys]


def _wait(target: Target, reruns: list[Rerun], args: argparse.Namespace) -> dict[str, Any]:
    awaited = [Awaited(r.key, execution=r.execution) for r in reruns if r.execution]
    return follow_with_progress(
        target.s3(), target.output_bucket, awaited, args.timeout, show=not args.json
    )


def retry_command(args: argparse.Namespace) -> int:
    """Runs ``retry``; exit status 1 when a key could not be re-run (or, with
    ``--wait``, did not end as expected)."""
    target = resolve(args.outputs, args.local, args.stack)
    reruns = [_start(target, key, status) for key, status in _selected(args, target)]
    last = _wait(target, reruns, args) if args.wait else {}
    if args.json:
        entries = [r.to_json() for r in reruns]
        for entry in entries:
            status = last.get(entry["key"])
            entry["status"] = status.to_json() if status is not None else None
        print_json({"retried": entries})
    else:
        for rerun in reruns:
            if rerun.problem:
                print(f"  not started {rerun.key}  {rerun.problem}")
            elif args.wait:
                print(status_line(rerun.key, last.get(rerun.key)))
            else:
                print(f"  started     {rerun.key}  {rerun.execution_arn}")
        print(f"{sum(1 for r in reruns if r.execution)} of {len(reruns)} re-runs started")
    failed = any(r.problem for r in reruns)
    if args.wait:
        failed = failed or not all(
            Awaited(r.key, execution=r.execution).reached(last.get(r.key))
            and expected(last.get(r.key))
            for r in reruns
            if r.execution
        )
    return EXIT_INCOMPLETE if failed else EXIT_OK
