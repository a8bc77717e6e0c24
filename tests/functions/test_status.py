"""The per-key status document: written as JSON, read back the same, absent when never written."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.status import KeyStatus, StatusError, read_status, status_key
from tests.conftest import OUTPUT_BUCKET


def test_a_failed_status_reads_back_as_written(s3: Any) -> None:
    """This test ensures that a status survives the round trip through S3 unchanged."""
    status = KeyStatus(
        key="inbox/a.pdf",
        state="failed",
        updated="2026-12-01T00:00:00Z",
        version_id="v1",
        stage="transform",
        error=StatusError("CORRUPT_DOCUMENT", "The PDF is damaged beyond repair."),
        report="failed/inbox/a.pdf.json",
    )
    s3.put_object(
        Bucket=OUTPUT_BUCKET,
        Key=status_key("inbox/a.pdf"),
        Body=json.dumps(status.to_json()).encode(),
    )
    assert read_status(s3, OUTPUT_BUCKET, "inbox/a.pdf") == status


def test_a_key_never_seen_has_no_status(s3: Any) -> None:
    """This test ensures that reading an unknown key gives None, not an error."""
    assert read_status(s3, OUTPUT_BUCKET, "never/uploaded.pdf") is None


def test_a_document_that_is_not_a_status_is_refused() -> None:
    """This test ensures that a foreign JSON document is not mistaken for a status."""
    with pytest.raises(ValueError, match="not a docpipe status document"):
        KeyStatus.from_json({"state": "done", "key": "a"})
