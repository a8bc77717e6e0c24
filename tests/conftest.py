"""Shared fixtures: a temporary directory as the EFS mount, and moto for AWS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import settings
from moto import mock_aws

TRIGGER_BUCKET = "docpipe-test-trigger"
OUTPUT_BUCKET = "docpipe-test-output"
REGION = "us-east-1"

# CI replays the same examples every run, so that main's result never depends on luck;
# local runs keep drawing new ones (and `.hypothesis/` replays what they found).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def mount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary directory standing in for the EFS mount, set as EFS_MOUNT_PATH."""
    root = tmp_path / "efs"
    root.mkdir()
    monkeypatch.setenv("EFS_MOUNT_PATH", str(root))
    monkeypatch.setenv("OUTPUT_BUCKET", OUTPUT_BUCKET)
    return root


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's in-memory AWS, with credentials that can reach nothing real."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    """An S3 client with the versioned trigger and output buckets created."""
    client = boto3.client("s3", region_name=REGION)
    for bucket in (TRIGGER_BUCKET, OUTPUT_BUCKET):
        client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return client
