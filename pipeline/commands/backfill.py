"""``python -m pipeline backfill``: start a deployed stack's backfill (pipeline.backfill)."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import uuid
from dataclasses import dataclass
from typing import IO, Any

from pipeline.backfill import backfill_name


class BackfillError(Exception):
    """A backfill cannot start; the message says why, for a person."""


@dataclass(frozen=True)
class BackfillStarted:
    """A started backfill.

    Attributes:
        execution_arn: The backfill execution (``aws stepfunctions describe-execution``).
        state_machine_arn: The backfill state machine.
        prefix: The prefix listed.
    """

    execution_arn: str
    state_machine_arn: str
    prefix: str


def _find_state_machine(sfn: Any, name: str) -> str | None:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    return None


def start_backfill(
    stack: str,
    prefix: str = "",
    profile: str | None = None,
    *,
    sfn: Any = None,
    state_machine_arn: str | None = None,
) -> BackfillStarted:
    """Starts a backfill of the objects under ``prefix`` in the stack's trigger bucket.

    Args:
        stack: The Pulumi stack (its backfill state machine is ``docpipe-<stack>-backfill``).
        prefix: Only keys starting with it ("" for the whole bucket).
        profile: A compress profile for every document (else each one's own choice).
        sfn: A Step Functions client (default: boto3's, from the usual AWS settings).
        state_machine_arn: The backfill state machine (default: found by name).

    Raises:
        BackfillError: The prefix or profile is unusable, or the stack has no backfill
            state machine in this account and region.
    """
    from functions.settings import PROFILES

    if profile is not None and profile not in PROFILES:
        raise BackfillError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if prefix.startswith("/") or len(prefix.encode("utf-8")) > 1024:
        raise BackfillError(
            f"{prefix!r} is not an S3 key prefix (no leading slash, at most 1,024 bytes)"
        )
    if sfn is None:
        import boto3

        sfn = boto3.client("stepfunctions")
    name = backfill_name(f"docpipe-{stack}")
    arn = state_machine_arn or _find_state_machine(sfn, name)
    if arn is None:
        raise BackfillError(
            f"no state machine {name!r} in this account and region: is stack {stack!r} "
            "deployed here (pulumi up), and are AWS_PROFILE / AWS_REGION the stack's?"
        )
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    started = sfn.start_execution(
        stateMachineArn=arn,
        name=f"backfill-{stamp}-{uuid.uuid4().hex[:8]}",
        input=json.dumps({"prefix": prefix, "profile": profile}),
    )
    return BackfillStarted(
        execution_arn=str(started["executionArn"]), state_machine_arn=arn, prefix=prefix
    )


def add_backfill_parser(commands: Any) -> None:
    """Adds ``backfill --stack S [--prefix P] [--profile P]`` to the CLI's subcommands."""
    from functions.settings import PROFILES

    backfill = commands.add_parser(
        "backfill",
        help="process the objects already in a deployed stack's trigger bucket",
        description=(
            "Start the deployed stack's backfill: every object under the prefix of the "
            "trigger bucket runs through the pipeline, backfillMaxConcurrency at a time; "
            "objects already processed are recognised and skipped. Uses the usual AWS "
            "settings (AWS_PROFILE, AWS_REGION)."
        ),
    )
    backfill.add_argument("--stack", required=True, help="the deployed Pulumi stack")
    backfill.add_argument("--prefix", default="", help="only keys starting with it")
    backfill.add_argument("--profile", choices=PROFILES, help="compress profile for every document")


def backfill_command(
    args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None
) -> int:
    """Runs ``backfill``; returns the exit status (0 started, 1 AWS failed, 2 usage)."""
    from botocore.exceptions import BotoCoreError, ClientError

    out, err = out or sys.stdout, err or sys.stderr
    try:
        started = start_backfill(args.stack, args.prefix, args.profile)
    except BackfillError as exc:
        err.write(f"backfill: {exc}\n")
        return 2
    except (BotoCoreError, ClientError) as exc:
        err.write(f"backfill: could not start it: {exc}\n")
        return 1
    out.write(
        f"backfill started: {started.execution_arn}\n"
        "follow it with: aws stepfunctions describe-execution --execution-arn "
        f"{started.execution_arn}\n"
    )
    return 0
