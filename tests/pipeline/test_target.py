"""Which stack the operator commands talk to: outputs files, serve's state, Pulumi."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from pipeline.commands.console import CommandError
from pipeline.commands.target import resolve

OUTPUTS = {
    "triggerBucket": "docpipe-prod-trigger-1a2b",
    "outputBucket": "docpipe-prod-output-3c4d",
    "stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:docpipe-prod",
    "triggerPrefix": "inbox/",
}


def test_an_outputs_file_names_a_deployed_stack_in_its_region(tmp_path: Path) -> None:
    """This test ensures that pulumi's JSON outputs are enough: buckets, prefix, and the
    region taken from the state machine's ARN, with no endpoint (real AWS)."""
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(OUTPUTS))
    target = resolve(path, local=False, stack="prod")
    assert (target.trigger_bucket, target.output_bucket) == (
        OUTPUTS["triggerBucket"],
        OUTPUTS["outputBucket"],
    )
    assert target.trigger_prefix == "inbox/"
    assert target.region == "eu-west-1"
    assert target.endpoint is None


def test_bad_outputs_are_usage_errors_that_say_what_is_missing(tmp_path: Path) -> None:
    """This test ensures that a file that is not JSON, or lacks an output the commands
    need, is refused with a sentence naming the problem."""
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CommandError, match="is not JSON"):
        resolve(broken, local=False, stack="dev")
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"triggerBucket": "t"}))
    with pytest.raises(CommandError, match="lacks the stack outputs outputBucket, stateMachineArn"):
        resolve(partial, local=False, stack="dev")


def test_a_stack_name_reads_pulumi_or_says_how_to_do_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This test ensures that --stack runs `pulumi stack output --json --stack NAME` when
    the Pulumi CLI is on PATH, and otherwise points at --outputs and --local."""
    monkeypatch.delenv("DOCPIPE_OUTPUTS", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CommandError, match="Pulumi CLI is not installed: pass --outputs FILE"):
        resolve(None, local=False, stack="prod")
    pulumi = tmp_path / "pulumi"
    pulumi.write_text(
        "#!/bin/sh\n"
        '[ "$*" = "stack output --json --stack prod" ] || '
        '{ echo "error: no stack $*" >&2; exit 1; }\n'
        f"echo '{json.dumps(OUTPUTS)}'\n"
    )
    pulumi.chmod(pulumi.stat().st_mode | stat.S_IXUSR)
    assert resolve(None, local=False, stack="prod").outputs == OUTPUTS
    with pytest.raises(CommandError, match="failed: error: no stack"):
        resolve(None, local=False, stack="staging")


def test_local_without_serve_says_to_start_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This test ensures that --local with no serve running names the command to run."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    with pytest.raises(CommandError, match="is `python -m pipeline serve --stack qa` running"):
        resolve(None, local=True, stack="qa")
