"""Fault injection: killed stages, throttled S3, a failing file system.

Every case asserts the promise: the original is intact, the key ends with exactly one
consistent output set or one report, no workspace is left, and a re-run processes the
document.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions import claims, compress, publish, transient
from functions.commit import lock_name
from functions.documents import normalise as normalise_module
from tests import docgen
from tests.conftest import OUTPUT_BUCKET, TRIGGER_BUCKET
from tests.faults import Faults, s3_faults
from tests.jobs import Job, assert_clean, assert_consistent, body, output_keys, status, upload


@pytest.fixture
def few_s3_attempts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The handlers' S3 client gives up after 2 attempts (instead of 8), to keep tests short."""
    monkeypatch.setattr(transient, "S3_MAX_ATTEMPTS", 2)
    transient.s3_client.cache_clear()
    yield
    transient.s3_client.cache_clear()


def assert_original(s3: Any, key: str, data: bytes) -> None:
    assert s3.get_object(Bucket=TRIGGER_BUCKET, Key=key)["Body"].read() == data


def assert_reported(s3: Any, key: str, code: str) -> dict[str, Any]:
    """The key has one failure report and nothing under processed/."""
    current = status(s3, key)
    assert current.state == "failed"
    assert current.error is not None
    assert current.error.code == code
    assert_consistent(s3, key, current.version_id or "")
    return dict(json.loads(body(s3, current.report or "")))


REAL_FSYNC = os.fsync


def fail_fsync_under(monkeypatch: pytest.MonkeyPatch, part: str, code: int) -> None:
    """Makes fsync fail with ``code`` for files whose path contains ``part``."""

    def fsync(fd: int) -> None:
        if part in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(code, os.strerror(code))
        REAL_FSYNC(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.slow
def test_three_slowdowns_in_a_row_are_absorbed_by_the_client(s3: Any, mount: Path) -> None:
    """S3 answering 503 SlowDown three times is retried by the
    adaptive client and the document is published once."""
    data = docgen.text_pdf(1)
    event = upload(s3, "slow.pdf", data)
    with s3_faults(Faults(slow_down={"GetObject": 3}, url_part=TRIGGER_BUCKET)) as faults:
        job = Job("job-s", event).run()
    assert faults.injected == 3
    assert job.ended == "succeeded"
    assert_consistent(s3, "slow.pdf", event["versionId"])
    assert_original(s3, "slow.pdf", data)
    assert_clean(mount)


@pytest.mark.slow
@pytest.mark.usefixtures("few_s3_attempts")
def test_s3_down_is_infrastructure_unavailable_and_a_rerun_processes(s3: Any, mount: Path) -> None:
    """S3 failing beyond the retries ends with
    INFRASTRUCTURE_UNAVAILABLE, a sentence an operator can act on, and a working re-run."""
    data = docgen.text_pdf(1)
    event = upload(s3, "down.pdf", data)
    with s3_faults(Faults(slow_down={"GetObject": 99}, url_part=TRIGGER_BUCKET)):
        job = Job("job-1", event, retries=1).run()
    assert job.errors == ["INFRASTRUCTURE_UNAVAILABLE"] * 2
    report = assert_reported(s3, "down.pdf", "INFRASTRUCTURE_UNAVAILABLE")
    message = report["error"]["message"]
    assert "SlowDown" in message
    assert "re-run it" in message
    assert_clean(mount)
    assert Job("job-2", {"bucket": TRIGGER_BUCKET, "key": "down.pdf"}).run().ended == "succeeded"
    assert_consistent(s3, "down.pdf", event["versionId"])
    assert_original(s3, "down.pdf", data)


def test_a_broken_download_stream_is_retried(s3: Any, mount: Path) -> None:
    """A download cut mid-stream fails the attempt as
    INFRASTRUCTURE_UNAVAILABLE and the state machine's retry of ingest succeeds."""
    data = docgen.text_pdf(3)
    event = upload(s3, "cut.pdf", data)
    with s3_faults(Faults(broken_downloads=1)) as faults:
        job = Job("job-c", event, retries=1).run()
    assert faults.injected == 1
    assert job.errors == ["INFRASTRUCTURE_UNAVAILABLE"]
    assert job.ended == "succeeded"
    assert_consistent(s3, "cut.pdf", event["versionId"])
    assert_clean(mount)


def test_compress_killed_mid_publish_leaves_no_half_bundle(
    s3: Any, mount: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When compress dies after publishing some members of a bundle
    (holding the key's lock), the failure step removes them, and a re-run publishes all."""
    members = {f"m{n}.pdf": docgen.text_pdf(1) for n in range(3)}
    data = docgen.zip_bundle(members)
    event = upload(s3, "in/batch.zip", data)
    real_put = publish.put_json
    calls: list[str] = []

    def dies_on_second_manifest(s3: Any, bucket: str, key: str, *args: Any) -> None:
        calls.append(key)
        if len(calls) == 2:
            # The function is killed: its lock stays on the workspace, nothing cleans up.
            claims.write_new(
                mount / "locks" / lock_name(OUTPUT_BUCKET, "in/batch.zip"),
                {"job": "job-k", "token": "killed", "expires": 1e12},
            )
            raise RuntimeError("the function was killed")
        real_put(s3, bucket, key, *args)

    monkeypatch.setattr(publish, "put_json", dies_on_second_manifest)
    job = Job("job-k", event)
    for _ in range(3):
        job.step()
    assert job.result["code"] == "INTERNAL_ERROR"
    monkeypatch.setattr(publish, "put_json", real_put)
    assert not any(key.startswith("processed/") for key in output_keys(s3))
    assert_reported(s3, "in/batch.zip", "INTERNAL_ERROR")
    assert_clean(mount)
    rerun = Job("job-r", {"bucket": TRIGGER_BUCKET, "key": "in/batch.zip"}).run()
    assert rerun.ended == "succeeded"
    assert_consistent(s3, "in/batch.zip", event["versionId"])
    assert len([k for k in output_keys(s3) if k.endswith(".pdf.pdf")]) == 3
    assert_original(s3, "in/batch.zip", data)


def test_transform_killed_mid_write_reports_and_cleans_up(
    s3: Any, mount: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transform dying with a half-written PDF ends with one
    report, no workspace, and a re-run that publishes."""

    def dies_mid_write(src: Path, kind: str, out_dir: Path, limits: Any) -> Any:
        (out_dir / "document.pdf").write_bytes(b"%PDF-1.7\n half")
        raise MemoryError

    real = normalise_module.normalise
    monkeypatch.setattr(normalise_module, "normalise", dies_mid_write)
    data = docgen.text_pdf(2)
    event = upload(s3, "half.pdf", data)
    assert Job("job-h", event).run().result["code"] == "INTERNAL_ERROR"
    assert_reported(s3, "half.pdf", "INTERNAL_ERROR")
    assert_clean(mount)
    monkeypatch.setattr(normalise_module, "normalise", real)
    assert Job("job-h2", {"bucket": TRIGGER_BUCKET, "key": "half.pdf"}).run().ended == "succeeded"
    assert_consistent(s3, "half.pdf", event["versionId"])
    assert_original(s3, "half.pdf", data)


@pytest.mark.parametrize(("stage", "code"), [("/ingest/", errno.ENOSPC), ("/compress/", errno.EIO)])
def test_a_failing_mount_is_infrastructure_unavailable(
    s3: Any, mount: Path, monkeypatch: pytest.MonkeyPatch, stage: str, code: int
) -> None:
    """A full or failing file system is reported as
    INFRASTRUCTURE_UNAVAILABLE naming the error, leaves no empty claim, and re-runs."""
    data = docgen.text_pdf(1)
    event = upload(s3, "full.pdf", data)
    fail_fsync_under(monkeypatch, stage, code)
    assert Job("job-f", event).run().result["code"] == "INFRASTRUCTURE_UNAVAILABLE"
    monkeypatch.setattr(os, "fsync", REAL_FSYNC)
    report = assert_reported(s3, "full.pdf", "INFRASTRUCTURE_UNAVAILABLE")
    assert errno.errorcode[code] in report["error"]["message"]
    for claim in (mount / "claims").rglob("*"):
        if claim.is_file():
            assert json.loads(claim.read_text())["state"] == "failed"
    assert_clean(mount)
    assert Job("job-f2", {"bucket": TRIGGER_BUCKET, "key": "full.pdf"}).run().ended == "succeeded"
    assert_original(s3, "full.pdf", data)


@pytest.mark.usefixtures("few_s3_attempts")
def test_the_failure_step_retries_until_its_report_is_written(s3: Any, mount: Path) -> None:
    """A throttled output bucket fails the failure step's attempt,
    keeps only what its retry needs, and the retry writes the report and cleans up."""
    event = upload(s3, "bad.pdf", b"%PDF-1.7\n\x00junk")
    job = Job("job-b", event)
    job.step()  # ingest; transform would fail with CORRUPT_DOCUMENT, then the failure step
    report_event = {
        "action": "report_failure",
        "job": "job-b",
        "input": json.dumps(event),
        "stage": "transform",
        "error": {"Error": "CORRUPT_DOCUMENT", "Cause": json.dumps({"errorMessage": "Bad."})},
    }
    with (
        s3_faults(Faults(slow_down={"PutObject": 99}, url_part="failed/")),
        pytest.raises(Exception) as caught,  # noqa: PT011 - the type is generated per code
    ):
        compress.handler(report_event, None)
    assert type(caught.value).__name__ == "INFRASTRUCTURE_UNAVAILABLE"
    job_dir = next((mount / "jobs").iterdir())
    assert sorted(p.relative_to(job_dir).as_posix() for p in job_dir.rglob("*.*")) == [
        "claim.json",
        "ingest/manifest.json",
    ]
    result = compress.handler(report_event, None)
    assert result["report"] == "failed/bad.pdf.json"
    assert_reported(s3, "bad.pdf", "CORRUPT_DOCUMENT")
    assert_clean(mount)
