"""``status``, ``failures`` and ``outputs``: what the stack says, read-only.

``status KEY...`` reads each key's status document; ``status --recent N`` lists the
``status/`` prefix and reads the N most recently written. ``failures`` reads the status
documents written since ``--since`` (listing with their modification time, so an old
failure costs no read) and keeps the failed ones, optionally of one ``--code``.
"""

from __future__ import annotations

import argparse
import datetime
import re
from collections import Counter
from typing import Any

from functions.status import KeyStatus, read_status
from pipeline.commands.console import EXIT_INCOMPLETE, EXIT_OK, CommandError, print_json
from pipeline.commands.display import status_line
from pipeline.commands.statuses import listed, load, recent
from pipeline.commands.target import Target, resolve

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> datetime.timedelta:
    """Parses ``90s``, ``15m``, ``24h`` or ``7d``.

    Raises:
        argparse.ArgumentTypeError: Another form.
    """
    match = _DURATION.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a duration like 30m, 24h or 7d, got {text!r}")
    return datetime.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _target(args: argparse.Namespace) -> Target:
    return resolve(args.outputs, args.local, args.stack)


def status_command(args: argparse.Namespace) -> int:
    """Runs ``status``; exit status 1 when a key has no status."""
    target = _target(args)
    s3 = target.s3()
    if args.recent is not None:
        if args.keys:
            raise CommandError("give keys or --recent N, not both")
        found: list[tuple[str, KeyStatus | None]] = [
            (status.key, status) for status in recent(s3, target.output_bucket, args.recent)
        ]
    elif args.keys:
        found = [(key, read_status(s3, target.output_bucket, key)) for key in args.keys]
    else:
        raise CommandError("give the keys to look up, or --recent N")
    if args.json:
        print_json({"statuses": [_status_json(key, status) for key, status in found]})
    else:
        for key, status in found:
            print(status_line(key, status))
    return EXIT_INCOMPLETE if any(status is None for _, status in found) else EXIT_OK


def _status_json(key: str, status: KeyStatus | None) -> dict[str, Any]:
    return status.to_json() if status is not None else {"key": key, "state": "unknown"}


def failed_since(
    target: Target, since: datetime.timedelta, code: str | None = None
) -> list[KeyStatus]:
    """Returns the failed statuses written in the last ``since``, oldest first."""
    s3 = target.s3()
    cutoff = datetime.datetime.now(datetime.UTC) - since
    failures = []
    for item in sorted(listed(s3, target.output_bucket, cutoff), key=lambda i: i.modified):
        status = load(s3, target.output_bucket, item)
        if status is None or status.state != "failed" or status.error is None:
            continue
        if code is None or status.error.code == code:
            failures.append(status)
    return failures


def _failure_json(status: KeyStatus) -> dict[str, Any]:
    error = status.error
    return {
        "key": status.key,
        "code": error.code if error else None,
        "message": error.message if error else None,
        "stage": status.stage,
        "time": status.updated,
        "report": status.report,
        "execution": status.execution,
        "versionId": status.version_id,
    }


def failures_command(args: argparse.Namespace) -> int:
    """Runs ``failures``: the failed documents and their counts by code."""
    failures = failed_since(_target(args), args.since, args.code)
    counts = Counter(status.error.code for status in failures if status.error)
    if args.json:
        print_json({"failures": [_failure_json(s) for s in failures], "counts": dict(counts)})
        return EXIT_OK
    for status in failures:
        entry = _failure_json(status)
        print(f"  {entry['time']}  {entry['code']:<20} {status.key}")
        print(f"      {entry['message']} (stage {entry['stage']}; report {entry['report']})")
    summary = ", ".join(f"{code} {count}" for code, count in counts.most_common()) or "none"
    print(f"{len(failures)} failed documents: {summary}")
    return EXIT_OK


def outputs_command(args: argparse.Namespace) -> int:
    """Runs ``outputs``: the stack outputs the commands use."""
    target = _target(args)
    if args.json:
        print_json(target.outputs)
        return EXIT_OK
    print(f"# from {target.source}")
    width = max(len(name) for name in target.outputs)
    for name, value in sorted(target.outputs.items()):
        print(f"{name:<{width}}  {value}")
    return EXIT_OK
