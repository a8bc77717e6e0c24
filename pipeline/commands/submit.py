"""``submit FILE|DIR...``: upload documents to a stack, optionally follow them to the end.

Each file is uploaded to the trigger bucket (keyed as ``run`` keys them, under the
stack's trigger prefix and ``--prefix``), with ``--profile`` as the object metadata
``docpipe-profile``; the stack's trigger rule starts its execution. With ``--wait`` each
document is followed through its status until the status of the uploaded version is
final, and with ``--out`` its outputs (or failure report) are downloaded.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from functions.status import KeyStatus
from pipeline.commands.console import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    CommandError,
    print_json,
)
from pipeline.commands.display import status_line
from pipeline.commands.statuses import Awaited, expected, follow_with_progress
from pipeline.commands.target import Target, resolve
from pipeline.local.inputs import InputDocument, UsageError, collect_inputs
from pipeline.local.results import download_keys

PROFILE_METADATA = "docpipe-profile"


@dataclass(frozen=True)
class Uploaded:
    """One document after its upload: its version, or why S3 refused it."""

    key: str
    version_id: str | None = None
    refused: str | None = None


def _inputs(args: argparse.Namespace, target: Target) -> list[InputDocument]:
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise CommandError(f"--out {args.out} is a file; give a directory")
    prefix = target.trigger_prefix + (args.prefix or "")
    exclude = [args.out] if args.out is not None else []
    try:
        return collect_inputs(args.paths, prefix, exclude)
    except UsageError as exc:
        raise CommandError(str(exc)) from None


def _upload(target: Target, doc: InputDocument, profile: str | None) -> Uploaded:
    metadata = {PROFILE_METADATA: profile} if profile else {}
    try:
        with open(doc.path, "rb") as body:
            put = target.s3().put_object(
                Bucket=target.trigger_bucket, Key=doc.key, Body=body, Metadata=metadata
            )
    except ClientError as exc:
        return Uploaded(doc.key, refused=str(exc))
    return Uploaded(doc.key, version_id=put.get("VersionId"))


def _entry(item: Uploaded, status: KeyStatus | None) -> dict[str, Any]:
    if item.refused is not None:
        return {"key": item.key, "versionId": None, "state": "refused", "error": item.refused}
    if status is None or status.version_id != item.version_id:
        return {"key": item.key, "versionId": item.version_id, "state": "submitted"}
    return status.to_json()


def _report(uploaded: list[Uploaded], last: dict[str, KeyStatus | None], as_json: bool) -> None:
    entries = [_entry(item, last.get(item.key)) for item in uploaded]
    if as_json:
        counts = {
            state: sum(1 for entry in entries if entry["state"] == state)
            for state in ("succeeded", "failed")
        }
        print_json({"documents": entries, **counts})
        return
    _print_lines(uploaded, entries, last)
    states = [entry["state"] for entry in entries]
    done, failed = states.count("succeeded"), states.count("failed")
    print(
        f"{len(entries)} documents: {done} succeeded, {failed} failed, "
        f"{len(entries) - done - failed} not finished"
    )


def _print_lines(
    uploaded: list[Uploaded], entries: list[dict[str, Any]], last: dict[str, KeyStatus | None]
) -> None:
    for item, entry in zip(uploaded, entries, strict=True):
        status = last.get(item.key) if entry["state"] in ("succeeded", "failed") else None
        if entry["state"] == "refused":
            print(f"  refused     {item.key}  {item.refused}")
        elif status is None:
            print(f"  {entry['state']:<11} {item.key}  (version {item.version_id})")
        else:
            print(status_line(item.key, status))


def _download(target: Target, last: dict[str, KeyStatus | None], out: Path) -> None:
    keys: list[str] = []
    for status in last.values():
        if status is not None:
            keys.extend(status.outputs if status.state == "succeeded" else [status.report or ""])
    download_keys(target.s3(), target.output_bucket, [key for key in keys if key], out)


def _ended_well(item: Uploaded, status: KeyStatus | None) -> bool:
    return Awaited(item.key, version_id=item.version_id).reached(status) and expected(status)


def submit_command(args: argparse.Namespace) -> int:
    """Runs ``submit``; returns the exit status."""
    target = resolve(args.outputs, args.local, args.stack)
    documents = _inputs(args, target)
    uploaded = [_upload(target, doc, args.profile) for doc in documents]
    last: dict[str, KeyStatus | None] = {}
    if args.wait:
        awaited = [Awaited(i.key, version_id=i.version_id) for i in uploaded if not i.refused]
        last = follow_with_progress(
            target.s3(), target.output_bucket, awaited, args.timeout, show=not args.json
        )
        if args.out is not None:
            _download(target, last, args.out)
    _report(uploaded, last, args.json)
    if any(item.refused for item in uploaded):
        return EXIT_INCOMPLETE
    if args.wait and not all(_ended_well(item, last.get(item.key)) for item in uploaded):
        return EXIT_INCOMPLETE
    return EXIT_OK
