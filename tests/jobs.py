"""A job driven through the real handlers one state at a time, as the state machine would.

Tests interleave the steps of several jobs to reproduce any finish order; a stage that
fails goes to the failure step with the error Step Functions' Catch would give it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions import compress, ingest, transform
from functions.errors import StageError
from functions.status import KeyStatus, read_status
from tests.conftest import OUTPUT_BUCKET, TRIGGER_BUCKET


@dataclass
class Job:
    """One execution: its input, and the state it carries from step to step."""

    job: str
    input: dict[str, Any]
    state: Any = None
    stage: str = "ingest"
    ended: str | None = None  # "succeeded", "superseded", "duplicate", "skipped", "failed"
    result: dict[str, Any] = field(default_factory=dict)
    retries: int = 0  # INFRASTRUCTURE_UNAVAILABLE retried this often, as the state machine does
    errors: list[str] = field(default_factory=list)

    def step(self) -> None:
        """Runs the next state of the job (one stage, or the failure step after an error)."""
        if self.ended is not None:
            return
        try:
            self._run_stage()
        except StageError as err:
            name = type(err).__name__
            self.errors.append(name)
            if name == "INFRASTRUCTURE_UNAVAILABLE" and self.retries > 0:
                self.retries -= 1
                return
            self._report(name, str(err))

    def run(self) -> Job:
        """Runs the job to its end."""
        while self.ended is None:
            self.step()
        return self

    def _run_stage(self) -> None:
        if self.stage == "ingest":
            self.state = ingest.handler({"input": self.input, "job": self.job}, None)
            if self.state["duplicate"] or self.state["skipped"]:
                self.ended = "duplicate" if self.state["duplicate"] else "skipped"
            self.stage = "transform"
        elif self.stage == "transform":
            self.state = transform.handler({"ingest": self.state, "job": self.job}, None)
            self.stage = "compress"
        else:
            event = {"action": "compress", "transform": self.state, "job": self.job}
            self.result = compress.handler(event, None)
            self.ended = self.result["status"]

    def _report(self, name: str, message: str) -> None:
        cause = json.dumps({"errorType": name, "errorMessage": message})
        event = {
            "action": "report_failure",
            "job": self.job,
            "execution": f"arn:aws:states:us-east-1:123456789012:execution:docpipe:{self.job}",
            "input": json.dumps(self.input),
            "stage": self.stage,
            "error": {"Error": name, "Cause": cause},
        }
        self.result = compress.handler(event, None)
        self.ended = "failed"


def upload(s3: Any, key: str, body: bytes) -> dict[str, Any]:
    """Uploads a version to the trigger bucket; returns the execution input its event gives."""
    put = s3.put_object(Bucket=TRIGGER_BUCKET, Key=key, Body=body)
    return {
        "bucket": TRIGGER_BUCKET,
        "key": key,
        "versionId": put["VersionId"],
        "etag": put["ETag"].strip('"'),
        "size": len(body),
    }


def status(s3: Any, key: str) -> KeyStatus:
    """The key's status document, which must exist."""
    found = read_status(s3, OUTPUT_BUCKET, key)
    assert found is not None, f"no status for {key}"
    return found


def output_keys(s3: Any) -> set[str]:
    """Every key in the output bucket."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=OUTPUT_BUCKET)
    return {item["Key"] for page in pages for item in page.get("Contents", ())}


def body(s3: Any, key: str) -> bytes:
    """An output's bytes."""
    return bytes(s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read())


def assert_consistent(s3: Any, key: str, version_id: str) -> None:
    """The key's outputs are exactly one set, of ``version_id``, as its status says."""
    current = status(s3, key)
    assert current.version_id == version_id
    present = {k for k in output_keys(s3) if not k.startswith("status/")}
    if current.state == "succeeded":
        assert present == set(current.outputs)
        manifest = json.loads(body(s3, current.outputs[-1]))
        if "output" in manifest:
            assert manifest["source"]["versionId"] == version_id
            pdf = body(s3, manifest["output"]["key"])
            assert hashlib.sha256(pdf).hexdigest() == manifest["output"]["sha256"]
    else:
        assert current.state == "failed"
        assert present == {current.report}


def assert_clean(mount: Path) -> None:
    """No job directory and no key lock is left on the workspace."""
    for folder in ("jobs", "locks"):
        left = list((mount / folder).iterdir()) if (mount / folder).exists() else []
        assert left == [], f"{folder} left behind: {left}"
