"""A burst of one key's versions through the local stack: the newest version always wins."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from functions.status import read_status
from pipeline.config import Settings
from pipeline.local.stack import LocalStack
from tests import docgen

ROUNDS = 20
VERSIONS = 3


@pytest.mark.slow
def test_a_burst_of_versions_ends_with_the_newest_every_time(tmp_path: Path) -> None:
    """When one key's versions are uploaded 0.1 s apart, the key
    ends with the newest version's outputs and status, in each of 20 rounds, whatever
    order the executions finished in, with nothing left on the workspace."""
    with LocalStack(Settings(), tmp_path / "efs") as stack:
        for round_ in range(ROUNDS):
            for version in range(1, VERSIONS + 1):
                pages = [f"round {round_} version {version}"] * version
                stack.put(f"burst/doc-{round_}.pdf", docgen.text_pdf(pages))
                time.sleep(0.1)
        stack.wait(timeout=600)
        for round_ in range(ROUNDS):
            key = f"burst/doc-{round_}.pdf"
            newest = stack.s3.head_object(Bucket=stack.trigger_bucket, Key=key)["VersionId"]
            status = read_status(stack.s3, stack.output_bucket, key)
            assert status is not None
            assert (status.state, status.version_id) == ("succeeded", newest), key
            assert status.pages == VERSIONS
            manifest = json.loads(
                stack.s3.get_object(Bucket=stack.output_bucket, Key=f"processed/{key}.json")[
                    "Body"
                ].read()
            )
            assert manifest["source"]["versionId"] == newest
            extracted = stack.s3.get_object(Bucket=stack.output_bucket, Key=f"processed/{key}.txt")
            assert f"round {round_} version {VERSIONS}" in extracted["Body"].read().decode()
            listed = stack.s3.list_objects_v2(Bucket=stack.output_bucket, Prefix=f"processed/{key}")
            assert {item["Key"] for item in listed.get("Contents", ())} == set(status.outputs)
        failed = stack.s3.list_objects_v2(Bucket=stack.output_bucket, Prefix="failed/")
        assert failed.get("KeyCount", 0) == 0
        assert stack.workspace_leftovers() == []
