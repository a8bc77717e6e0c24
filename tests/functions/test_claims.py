"""Claims with state: duplicates do nothing, failed and abandoned versions run again."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

from functions import claims
from functions.claims import Claimed, acquire, current_claim, key_lock, settle, write_new
from functions.documents import normalise as normalise_module
from tests import docgen
from tests.jobs import Job, assert_clean, assert_consistent, output_keys, status, upload


def test_a_published_version_is_claimed_once(tmp_path: Path) -> None:
    """A done claim turns later jobs away unless they ask to rerun."""
    assert acquire(tmp_path, "d", "job-a") is Claimed.CLAIMED
    assert acquire(tmp_path, "d", "job-a") is Claimed.CLAIMED, "a retried ingest keeps it"
    assert acquire(tmp_path, "d", "job-b") is Claimed.BUSY
    assert settle(tmp_path, "d", "job-a", "done")
    assert acquire(tmp_path, "d", "job-b") is Claimed.PUBLISHED
    assert acquire(tmp_path, "d", "job-c", rerun=True) is Claimed.CLAIMED
    claim = current_claim(tmp_path, "d")
    assert claim is not None
    assert (claim.job, claim.state) == ("job-c", "processing")


def test_failed_and_abandoned_claims_are_taken_over(tmp_path: Path) -> None:
    """A failed claim, or one whose lease ran out, is claimed again."""
    acquire(tmp_path, "f", "job-a")
    settle(tmp_path, "f", "job-a", "failed")
    assert acquire(tmp_path, "f", "job-b") is Claimed.CLAIMED
    later = current_claim(tmp_path, "f")
    assert later is not None
    assert acquire(tmp_path, "f", "job-c", now=later.expires - 1) is Claimed.BUSY
    assert acquire(tmp_path, "f", "job-c", now=later.expires + 1) is Claimed.CLAIMED
    assert not settle(tmp_path, "f", "job-b", "done"), "job-b lost the claim to job-c"


def test_a_job_inside_an_express_execution_holds_its_claim_for_minutes(tmp_path: Path) -> None:
    """A claim taken with the Express lease turns a concurrent job away, and is taken over
    once its six minutes are over (the Express execution has ended by then), where a
    pipeline execution's claim still holds."""
    from functions.claims import EXPRESS_CLAIM_LEASE_SECONDS
    from functions.ingest import _lease

    assert acquire(tmp_path, "x", "upload-m-1", lease_seconds=EXPRESS_CLAIM_LEASE_SECONDS) is (
        Claimed.CLAIMED
    )
    held = current_claim(tmp_path, "x")
    assert held is not None
    assert acquire(tmp_path, "x", "upload-m-2", now=held.expires - 1) is Claimed.BUSY
    assert acquire(tmp_path, "x", "upload-m-2", now=held.expires + 1) is Claimed.CLAIMED
    acquire(tmp_path, "y", "execution-1")
    standard = current_claim(tmp_path, "y")
    assert standard is not None
    assert standard.expires - held.expires > claims.CLAIM_LEASE_SECONDS / 2
    # What ingest takes from its event: the Express lease, or the default for anything else.
    assert _lease({"claimLeaseSeconds": EXPRESS_CLAIM_LEASE_SECONDS}) == 360.0
    for asked in (None, "360", 0, -5, 10 * claims.CLAIM_LEASE_SECONDS, True):
        assert _lease({"claimLeaseSeconds": asked}) == claims.CLAIM_LEASE_SECONDS


def test_one_generation_is_linked_once(tmp_path: Path) -> None:
    """Of two jobs taking over the same claim, exactly one wins."""
    path = tmp_path / "0000000002"
    assert write_new(path, {"job": "a"})
    assert not write_new(path, {"job": "b"})
    assert json.loads(path.read_text())["job"] == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0000000002"]


def test_a_full_disk_never_leaves_an_empty_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim whose write fails leaves no file, so the version is
    claimable again."""

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(claims.os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        acquire(tmp_path, "e", "job-a")
    assert os.listdir(tmp_path / "claims" / "e") == []
    monkeypatch.undo()
    assert acquire(tmp_path, "e", "job-b") is Claimed.CLAIMED


def test_a_key_lock_is_exclusive_and_freed(tmp_path: Path) -> None:
    """A second job waits for a key's lock and gets it once freed."""
    with key_lock(tmp_path, "k", "job-a"):
        with pytest.raises(claims.LockBusyError), key_lock(tmp_path, "k", "job-b", wait=0):
            pass
        with key_lock(tmp_path, "k", "job-a", wait=0):  # an earlier attempt of job-a crashed
            pass
    with key_lock(tmp_path, "k", "job-b", wait=0):
        assert (tmp_path / "locks" / "k").exists()
    assert list((tmp_path / "locks").iterdir()) == []


def test_a_duplicate_of_a_published_version_does_nothing(s3: Any, mount: Path) -> None:
    """A second execution of a published version ends as a
    duplicate and publishes nothing again."""
    event = upload(s3, "dup.pdf", docgen.text_pdf(1))
    assert Job("job-1", event).run().ended == "succeeded"
    before = s3.list_object_versions(Bucket="docpipe-test-output", Prefix="processed/")
    assert Job("job-2", {"bucket": event["bucket"], "key": "dup.pdf"}).run().ended == "duplicate"
    after = s3.list_object_versions(Bucket="docpipe-test-output", Prefix="processed/")
    assert len(after["Versions"]) == len(before["Versions"])
    assert status(s3, "dup.pdf").execution == "job-1"
    assert_clean(mount)


def test_a_rerun_after_a_crash_processes_the_version(
    s3: Any, mount: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a job crashed, a re-run with just bucket and key
    processes the same version and replaces the failure report."""
    real = normalise_module.normalise

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the function was killed")

    monkeypatch.setattr(normalise_module, "normalise", crash)
    event = upload(s3, "crash.pdf", docgen.text_pdf(2))
    first = Job("job-1", event).run()
    assert first.result["code"] == "INTERNAL_ERROR"
    assert status(s3, "crash.pdf").state == "failed"
    monkeypatch.setattr(normalise_module, "normalise", real)
    rerun = Job("job-2", {"bucket": event["bucket"], "key": "crash.pdf"}).run()
    assert rerun.ended == "succeeded"
    assert_consistent(s3, "crash.pdf", event["versionId"])
    assert "failed/crash.pdf.json" not in output_keys(s3)
    assert_clean(mount)


def test_rerun_true_reprocesses_a_published_version_on_purpose(s3: Any, mount: Path) -> None:
    """{"rerun": true} processes a published version again, here
    with another profile, and the status names the new job."""
    event = upload(s3, "again.pdf", docgen.text_pdf(1))
    Job("job-1", event).run()
    again = Job("job-2", {**event, "rerun": True, "profile": "lossless"}).run()
    assert again.ended == "succeeded"
    current = status(s3, "again.pdf")
    assert (current.execution, current.profile) == ("job-2", "lossless")
    assert_clean(mount)
