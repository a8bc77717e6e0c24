"""Which stack the operator commands talk to, and clients for it.

The stack outputs come from, in this order:

1. ``--outputs FILE``: a JSON file of outputs, as ``pulumi stack output --json`` prints
   them (no Pulumi CLI needed), or the state file ``serve`` writes;
2. ``--local``: the state file of the ``serve`` running for ``--stack``
   (:func:`state_path`);
3. ``$DOCPIPE_OUTPUTS``: a file as in 1 (``serve`` prints the line that sets it);
4. ``--stack NAME``: ``pulumi stack output --json --stack NAME``.

A deployed stack is reached with the usual AWS credential chain, in the region of its
state machine. A local one (its outputs carry ``endpoint``) with its endpoint and the
dummy credentials moto accepts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from pipeline.commands.console import CommandError
from pipeline.local.names import DUMMY_CREDENTIALS

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

OUTPUTS_VARIABLE = "DOCPIPE_OUTPUTS"
REQUIRED = ("triggerBucket", "outputBucket", "stateMachineArn")


def state_path(stack: str) -> Path:
    """Returns where ``serve`` for ``stack`` writes its state file."""
    return Path(tempfile.gettempdir()) / f"docpipe-serve-{stack}.json"


@dataclass(frozen=True)
class Target:
    """A stack's outputs and how to reach it."""

    outputs: dict[str, Any]
    source: str

    @property
    def trigger_bucket(self) -> str:
        """The bucket uploads go to."""
        return str(self.outputs["triggerBucket"])

    @property
    def output_bucket(self) -> str:
        """The bucket outputs, reports and statuses are in."""
        return str(self.outputs["outputBucket"])

    @property
    def state_machine_arn(self) -> str:
        """The pipeline's state machine."""
        return str(self.outputs["stateMachineArn"])

    @property
    def trigger_prefix(self) -> str:
        """The key prefix that starts executions ("" for every key)."""
        return str(self.outputs.get("triggerPrefix") or "")

    @property
    def endpoint(self) -> str | None:
        """The local stack's endpoint, None for a deployed stack."""
        endpoint = self.outputs.get("endpoint")
        return str(endpoint) if endpoint else None

    @property
    def region(self) -> str | None:
        """The region: the outputs', else the state machine ARN's."""
        parts = self.state_machine_arn.split(":")
        return self.outputs.get("region") or (parts[3] if len(parts) > 3 else None)

    def _session(self) -> boto3.session.Session:
        if self.endpoint is None:
            return boto3.session.Session(region_name=self.region)
        return boto3.session.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=self.region,
        )

    def s3(self) -> S3Client:
        """An S3 client for the stack."""
        return self._session().client("s3", endpoint_url=self.endpoint)

    def sfn(self) -> SFNClient:
        """A Step Functions client for the stack."""
        return self._session().client("stepfunctions", endpoint_url=self.endpoint)


def _parse(text: str, source: str) -> Target:
    try:
        outputs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{source} is not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(outputs, dict):
        raise CommandError(f"{source} does not hold a JSON object of stack outputs")
    missing = [name for name in REQUIRED if not outputs.get(name)]
    if missing:
        raise CommandError(f"{source} lacks the stack outputs {', '.join(missing)}")
    return Target(outputs, source)


def _from_file(path: Path, hint: str = "") -> Target:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"{path}: no such outputs file{hint}") from None
    except OSError as exc:
        raise CommandError(f"{path}: cannot read the outputs file ({exc.strerror})") from None
    return _parse(text, str(path))


def _from_pulumi(stack: str) -> Target:
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise CommandError(
            "the Pulumi CLI is not installed: pass --outputs FILE (written by "
            "`pulumi stack output --json` where Pulumi is), or --local for `serve`"
        )
    completed = subprocess.run(  # noqa: S603 - fixed arguments, the stack name is one of them
        [pulumi, "stack", "output", "--json", "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        reason = (completed.stderr.strip().splitlines() or ["no message"])[-1]
        raise CommandError(f"pulumi stack output --stack {stack} failed: {reason}")
    return _parse(completed.stdout, f"the outputs of stack {stack!r}")


def resolve(outputs: Path | None, local: bool, stack: str) -> Target:
    """Returns the target stack as the options name it (see the module docstring).

    Raises:
        CommandError: No outputs could be read (exit status 2).
    """
    if outputs is not None:
        return _from_file(outputs)
    if local:
        hint = f"; is `python -m pipeline serve --stack {stack}` running?"
        return _from_file(state_path(stack), hint)
    variable = os.environ.get(OUTPUTS_VARIABLE)
    if variable:
        return _from_file(Path(variable), f" (from ${OUTPUTS_VARIABLE})")
    return _from_pulumi(stack)
